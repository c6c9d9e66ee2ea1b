package reliability

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the header row WriteCSV writes.
var CSVHeader = []string{"scope", "name", "from", "to", "customers_served", "saidi_min", "saifi", "caidi_min", "maifi",
	"customer_minutes", "sustained_interruptions", "momentary_interruptions", "med_excluded", "meds", "tmed_min", "history"}

// WriteCSV writes the report, one row for the total, then one per feeder
// and region (by names "feeder", "region" or "" for both, as by selects),
// each with its indices, customers served, interruptions and those left
// out on major event days. The period, the MEDs and the threshold's
// history repeat on every row so that each row stands alone in a
// spreadsheet.
func (r Report) WriteCSV(w io.Writer, by string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return fmt.Errorf("reliability csv: %w", err)
	}
	rows := []Index{r.Total}
	if by == "" || by == "feeder" {
		rows = append(rows, r.Feeders...)
	}
	if by == "" || by == "region" {
		rows = append(rows, r.Regions...)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }
	meds := strings.Join(r.MEDs, " ")
	for _, x := range rows {
		if err := cw.Write([]string{x.Scope, x.Name, r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), strconv.Itoa(x.Served),
			f(x.SAIDI), f(x.SAIFI), f(x.CAIDI), f(x.MAIFI), f(x.CustomerMinutes), strconv.Itoa(x.Sustained), strconv.Itoa(x.Momentary),
			strconv.Itoa(x.MEDExcluded), meds, f(r.MED.TMED), r.MED.Note}); err != nil {
			return fmt.Errorf("reliability csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("reliability csv: %w", err)
	}
	return nil
}
