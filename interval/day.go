// Package interval owns metered interval data as the domain knows it: the
// day of one meter channel's intervals, where each version of it came from,
// and the compact codec its values and qualities are packed in. The
// head-end produces days, VEE checks and fills them, exports show them and
// the store persists them; none of them needs the others to speak of a day.
package interval

import (
	"errors"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// Source says where a version of a day came from.
type Source string

// Sources of interval data.
const (
	SourceMeter    Source = "meter"    // read from the meter
	SourceEstimate Source = "estimate" // filled in by VEE estimation
	SourceEdit     Source = "edit"     // changed by a person through the API
)

// Day is one meter channel's intervals over one local day of its usage
// point. Values are integers in the channel's ReadingType unit and
// multiplier; Quality[i] qualifies Values[i].
type Day struct {
	MeterID string
	// Channel is the ReadingType id, e.g. "A+15m".
	Channel string
	Date    cim.Date
	// Start is the UTC instant at which the local day begins.
	Start    time.Time
	Interval time.Duration
	Values   []int64
	Quality  []cim.Quality

	// Set by the store on read; on write only Source, Reason and User are
	// taken from the caller.
	Version   int
	Source    Source
	Reason    string
	User      string
	CreatedAt time.Time
}

// End returns the end instant of interval i.
func (d Day) End(i int) time.Time { return d.Start.Add(time.Duration(i+1) * d.Interval) }

// Validate checks the shape of a day before it is stored.
func (d Day) Validate() error {
	switch {
	case d.MeterID == "" || d.Channel == "":
		return errors.New("day: meter and channel are required")
	case d.Date.IsZero():
		return errors.New("day: date is required")
	case d.Interval <= 0 || d.Interval%time.Second != 0:
		return errors.New("day: interval must be a positive whole number of seconds")
	case len(d.Values) != len(d.Quality):
		return errors.New("day: values and quality differ in length")
	case len(d.Values) > MaxIntervalsPerDay:
		return errors.New("day: too many intervals")
	}
	return nil
}

// MaxIntervalsPerDay allows one-minute data on a 25-hour day.
const MaxIntervalsPerDay = 25 * 60
