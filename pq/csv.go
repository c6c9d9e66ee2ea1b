package pq

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// CSVHeader is the header of the report's CSV: one row per meter and
// phase, the meter's event counts and verdict repeated on each.
var CSVHeader = []string{"week", "meter", "usage_point", "feeder", "transformer", "phase", "intervals", "flagged",
	"within", "share", "mean_low_v", "mean_high_v", "min_v", "max_v", "sags", "swells", "interruptions",
	"worst_sag_pct", "worst_swell_pct", "longest_s", "compliant", "reasons"}

// WriteCSV writes the report's meters as CSV.
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	week := r.From.Format("2006-01-02")
	for _, m := range r.Meters {
		for _, p := range m.Phases {
			row := []string{week, m.MeterID, m.UsagePoint, m.Feeder, m.Transformer, strconv.Itoa(p.Phase),
				strconv.Itoa(p.Intervals), strconv.Itoa(p.Flagged), strconv.Itoa(p.Within), f(p.Share, 4),
				f(p.MeanLow, 1), f(p.MeanHigh, 1), f(p.Min, 1), f(p.Max, 1),
				strconv.Itoa(m.Sags), strconv.Itoa(m.Swells), strconv.Itoa(m.Interruptions),
				f(m.WorstSag, 0), f(m.WorstSwell, 0), f(m.Longest, 0), strconv.FormatBool(m.Compliant), strings.Join(m.Reasons, "; ")}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
