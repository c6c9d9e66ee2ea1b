package greenbutton

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// csvHeader names the columns. Times are RFC 3339: the UTC pair delimits
// the interval without ambiguity, and start_local, with its offset, is the
// clock the household lived by, telling the two 02:00s of an autumn night
// apart.
var csvHeader = []string{"usage_point", "meter", "reading_type", "start_utc", "end_utc", "start_local", "value", "unit", "quality"}

// WriteCSV writes one row per interval, channel by channel and day by day.
// A missing interval is a row with an empty value and quality "missing",
// so a spreadsheet shows the gap instead of hiding it; the quality column
// spells out every flag (cim.Quality's names, joined by "|"). Values are
// the stored integers, in the unit column's unit, multiplier included.
// An interval not yet over at e.Updated (the caller's now) is not written
// at all: it is not due, so it is neither a reading nor a gap, and today's
// download ends at the last quarter hour that is.
func WriteCSV(w io.Writer, e Export) error {
	loc, err := e.check()
	if err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	row := make([]string, len(csvHeader))
	row[0] = e.UsagePoint.MRID
	for _, ch := range e.Channels {
		row[2], row[7] = ch.ReadingType.ID, unitLabel(ch.ReadingType)
	days:
		for _, d := range ch.Days {
			row[1] = d.MeterID
			for i, v := range d.Values {
				start := d.Start.Add(time.Duration(i) * d.Interval)
				if !e.Updated.IsZero() && start.Add(d.Interval).After(e.Updated) {
					break days // days are in order: the rest is later still
				}
				q := d.Quality[i]
				row[3] = start.UTC().Format(time.RFC3339)
				row[4] = start.Add(d.Interval).UTC().Format(time.RFC3339)
				row[5] = start.In(loc).Format(time.RFC3339)
				row[6] = ""
				if q&cim.QualityMissing == 0 {
					row[6] = strconv.FormatInt(v, 10)
				}
				row[8] = q.String()
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
