// Package greenbutton owns the consumer's copy of their own interval data:
// one usage point's readings encoded as a Green Button download (an Atom
// feed of NAESB REQ.21 ESPI 3.3.1 resources) and as CSV.
//
// It only encodes. The caller reads the store, picks the period and sets
// the HTTP headers; nothing here touches a database or the network, and
// the same input always yields the same bytes, so a download can be
// compared with an earlier one.
package greenbutton

import (
	"errors"
	"fmt"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
)

// Export is everything one download holds.
type Export struct {
	UsagePoint cim.UsagePoint
	Channels   []Channel
	// Updated stamps the feed and every entry in it (Atom's updated and
	// published). The XML export requires it: it is the caller's clock,
	// never read here, so that exports stay reproducible.
	Updated time.Time
	// Self is the base URL of the feed's links, e.g.
	// "https://ami.example/api/v1/espi"; empty means "/espi". Resources
	// sit under it at ESPI's paths (UsagePoint/{id}/MeterReading/{id}...).
	Self string
}

// Channel is one reading type's stored days.
type Channel struct {
	ReadingType cim.ReadingType
	// Days are in ascending order and must not overlap; gaps between them
	// are allowed and stay gaps.
	Days []interval.Day
}

// Int48 is ESPI's value type: a reading outside it cannot be written.
const (
	minInt48 = -1 << 47
	maxInt48 = 1 << 47
)

// check rejects an export that would come out wrong, before a byte is
// written: once an HTTP handler has started the body it can no longer
// answer with an error status.
func (e Export) check() (*time.Location, error) {
	if e.UsagePoint.MRID == "" {
		return nil, errors.New("greenbutton: the usage point has no mRID to name the resources by")
	}
	loc, err := e.UsagePoint.Location()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, ch := range e.Channels {
		rt := ch.ReadingType
		if seen[rt.ID] {
			return nil, fmt.Errorf("greenbutton: reading type %q exported twice", rt.ID)
		}
		seen[rt.ID] = true
		if rt.Interval <= 0 || rt.Interval%time.Second != 0 || rt.Interval > time.Duration(1<<32-1)*time.Second {
			return nil, fmt.Errorf("greenbutton: reading type %q: interval %v is not a whole number of seconds (register reads are not interval data)", rt.ID, rt.Interval)
		}
		if _, err := espiReadingType(rt); err != nil {
			return nil, err
		}
		var end time.Time
		for k, d := range ch.Days {
			where := fmt.Sprintf("greenbutton: %s %s %s", d.MeterID, rt.ID, d.Date)
			switch {
			case d.Channel != "" && d.Channel != rt.ID:
				return nil, fmt.Errorf("%s: the day belongs to channel %q", where, d.Channel)
			case d.Interval != rt.Interval:
				return nil, fmt.Errorf("%s: interval %v, the reading type's is %v", where, d.Interval, rt.Interval)
			case len(d.Values) != len(d.Quality):
				return nil, fmt.Errorf("%s: %d values but %d qualities", where, len(d.Values), len(d.Quality))
			case k > 0 && d.Start.Before(end):
				return nil, fmt.Errorf("%s: starts before the previous day ends (days must be ascending and not overlap)", where)
			}
			for i, v := range d.Values {
				if d.Quality[i]&cim.QualityMissing == 0 && (v < minInt48 || v > maxInt48) {
					return nil, fmt.Errorf("%s: interval %d value %d is outside ESPI's 48-bit range", where, i, v)
				}
			}
			end = d.Start.Add(time.Duration(len(d.Values)) * d.Interval)
		}
	}
	return loc, nil
}

var errNoUpdated = errors.New("greenbutton: Export.Updated is required for the Atom feed")
