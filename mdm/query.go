package mdm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/store"
)

// SeriesStore is what the queries read: the registry's meters, the
// stored days and their versions, and register reads.
type SeriesStore interface {
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error)
	DayVersions(ctx context.Context, meterID, channel string, date cim.Date) ([]interval.Day, error)
	RegisterReads(ctx context.Context, meterID, readingType string, from, to time.Time) ([]store.RegisterRead, error)
}

// A series asked of a meter the registry does not know, or of a channel
// the meter has never had a day of, is a wrong question: an empty answer
// would read as "no data yet".
var (
	ErrUnknownMeter   = errors.New("no such meter")
	ErrUnknownChannel = errors.New("no such channel stored")
)

// Queries answers what is stored of a meter: its series of days, a day's
// versions, totals and its last register reads.
type Queries struct {
	Store SeriesStore
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (q *Queries) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

// Series returns the latest version of each stored day of a meter
// channel in [from, to]. A meter not registered is ErrUnknownMeter; a
// channel of which the meter has no day stored at all, ErrUnknownChannel
// (interval energy, imported and exported, is every meter's channel).
func (q *Queries) Series(ctx context.Context, meterID, channel string, from, to cim.Date) ([]interval.Day, error) {
	days, err := q.Store.Days(ctx, meterID, channel, from, to)
	if err != nil {
		return nil, fmt.Errorf("mdm: meter %s channel %s %s..%s: %w", meterID, channel, from, to, err)
	}
	if len(days) > 0 {
		return days, nil
	}
	if _, err := q.Store.Meter(ctx, meterID); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("mdm: meter %s: %w", meterID, ErrUnknownMeter)
	} else if err != nil {
		return nil, fmt.Errorf("mdm: looking up meter %s: %w", meterID, err)
	}
	if channel == cim.EnergyImport15m.ID || channel == cim.EnergyExport15m.ID {
		return days, nil
	}
	// Rare: another channel, and nothing in the range. Its whole history
	// says whether the meter has it.
	ever, err := q.Store.Days(ctx, meterID, channel, cim.DateOf(time.Unix(0, 0), time.UTC), cim.DateOf(q.now(), time.UTC).AddDays(2))
	if err != nil {
		return nil, fmt.Errorf("mdm: meter %s channel %s: reading its history: %w", meterID, channel, err)
	}
	if len(ever) == 0 {
		return nil, fmt.Errorf("mdm: meter %s channel %s: %w", meterID, channel, ErrUnknownChannel)
	}
	return days, nil
}

// Versions returns every version of one day, oldest first; a day never
// stored is store.ErrNotFound.
func (q *Queries) Versions(ctx context.Context, meterID, channel string, date cim.Date) ([]interval.Day, error) {
	vs, err := q.Store.DayVersions(ctx, meterID, channel, date)
	if err != nil {
		return nil, fmt.Errorf("mdm: meter %s channel %s %s: versions: %w", meterID, channel, date, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("mdm: meter %s channel %s %s: %w", meterID, channel, date, store.ErrNotFound)
	}
	return vs, nil
}

// DayTotal is the sum of a day's intervals that were read or estimated:
// a missing interval's zero is no measurement.
func DayTotal(d interval.Day) int64 {
	var t int64
	for i, v := range d.Values {
		if d.Quality[i]&cim.QualityMissing == 0 {
			t += v
		}
	}
	return t
}

// TotalsBy is the period totals are summed over.
type TotalsBy string

const (
	ByDay   TotalsBy = "day"
	ByMonth TotalsBy = "month"
)

// Total is a channel's sum over one period, with how many of its
// intervals were missing, estimated and edited: a bill or a portal says
// how much of a total is measured.
type Total struct {
	// Period is the day (YYYY-MM-DD) or the month (YYYY-MM).
	Period    string `json:"period"`
	Total     int64  `json:"total"`
	Intervals int    `json:"intervals"`
	Missing   int    `json:"missing"`
	Estimated int    `json:"estimated"`
	Edited    int    `json:"edited"`
}

// Totals sums a channel's stored days in [from, to] per day or per
// calendar month, answering for the meter and channel as Series does.
// Periods with no day stored are left out.
func (q *Queries) Totals(ctx context.Context, meterID, channel string, from, to cim.Date, by TotalsBy) ([]Total, error) {
	days, err := q.Series(ctx, meterID, channel, from, to)
	if err != nil {
		return nil, err
	}
	out := []Total{}
	for _, d := range days {
		key := d.Date.String()
		if by == ByMonth {
			key = key[:7]
		}
		if len(out) == 0 || out[len(out)-1].Period != key {
			out = append(out, Total{Period: key})
		}
		t := &out[len(out)-1]
		for i, v := range d.Values {
			t.Intervals++
			switch q := d.Quality[i]; {
			case q&cim.QualityMissing != 0:
				t.Missing++
				continue
			case q&cim.QualityEstimated != 0:
				t.Estimated++
			case q&cim.QualityEdited != 0:
				t.Edited++
			}
			t.Total += v
		}
	}
	return out, nil
}

// lastReadDays is how far back the last register reads are looked for:
// a meter unread for longer has no last read worth showing.
const lastReadDays = 40

// LastReads returns the latest read of each register of a meter read in
// the last 40 days, by reading type.
func (q *Queries) LastReads(ctx context.Context, meterID string) ([]cim.Reading, error) {
	now := q.now()
	rs, err := q.Store.RegisterReads(ctx, meterID, "", now.AddDate(0, 0, -lastReadDays), now.Add(24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("mdm: meter %s: register reads: %w", meterID, err)
	}
	latest := map[string]cim.Reading{}
	for _, x := range rs {
		if cur, ok := latest[x.ReadingType]; !ok || x.TimeStamp.After(cur.TimeStamp) {
			latest[x.ReadingType] = x
		}
	}
	out := make([]cim.Reading, 0, len(latest))
	for _, x := range latest {
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b cim.Reading) int { return strings.Compare(a.ReadingType, b.ReadingType) })
	return out, nil
}
