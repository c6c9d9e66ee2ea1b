// Package store owns amigo's persistent state behind one interface: usage
// points and meters, interval data kept as one versioned row per meter ×
// channel × local day, and end-device events. Two engines implement it —
// embedded SQLite (store/sqlite) and PostgreSQL (store/postgres) — and one
// test suite (store/storetest) runs against both.
//
// Nothing outside the store packages speaks SQL.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/amigo-ami/amigo/cim"
)

// ErrNotFound is returned when the thing asked for does not exist.
var ErrNotFound = errors.New("not found")

// Store is the persistence interface every engine implements.
type Store interface {
	// Kind names the engine: "sqlite" or "postgres".
	Kind() string
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// SchemaVersion is the highest migration applied.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error

	// PutUsagePoints inserts or updates usage points by mRID.
	PutUsagePoints(ctx context.Context, ups ...cim.UsagePoint) error
	UsagePoint(ctx context.Context, mrid string) (cim.UsagePoint, error)

	// PutMeters inserts or updates meters by mRID.
	PutMeters(ctx context.Context, ms ...cim.Meter) error
	Meter(ctx context.Context, mrid string) (cim.Meter, error)
	// Meters lists meters in mRID order, filtered and paged by q.
	Meters(ctx context.Context, q MeterQuery) ([]cim.Meter, error)
	CountMeters(ctx context.Context, q MeterQuery) (int, error)

	// PutDays stores interval days. A day whose values and qualities equal
	// its latest stored version is not written again (redelivery is
	// idempotent); any other day becomes a new version, and no version is
	// ever overwritten. It returns the version each day now has.
	PutDays(ctx context.Context, days []Day) ([]int, error)
	// Day returns the latest version of one day.
	Day(ctx context.Context, meterID, channel string, date cim.Date) (Day, error)
	// DayVersions returns every version of one day, oldest first.
	DayVersions(ctx context.Context, meterID, channel string, date cim.Date) ([]Day, error)
	// Days returns the latest version of each stored day in [from, to].
	Days(ctx context.Context, meterID, channel string, from, to cim.Date) ([]Day, error)

	// AppendEvents stores events, skipping those whose mRID is already
	// stored, and returns how many were new.
	AppendEvents(ctx context.Context, evs []cim.EndDeviceEvent) (int, error)
	// Events lists events newest first.
	Events(ctx context.Context, q EventQuery) ([]cim.EndDeviceEvent, error)
}

// MeterQuery filters and pages a meter listing. Empty fields match all.
type MeterQuery struct {
	Segment, Region, Status, UsagePointID, Protocol string
	// After returns meters whose mRID sorts after it (keyset paging).
	After string
	// Limit caps the result; zero means 100.
	Limit int
}

// EventQuery filters an event listing. Empty fields match all.
type EventQuery struct {
	MeterID  string
	Type     cim.EndDeviceEventType
	From, To time.Time
	Limit    int
}

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
