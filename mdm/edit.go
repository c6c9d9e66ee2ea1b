package mdm

import (
	"context"
	"errors"
	"fmt"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/store"
)

// DayWriter is what writing over a stored day needs: its latest version
// and the compare-and-swap that stores a new one only over it.
type DayWriter interface {
	Day(ctx context.Context, meterID, channel string, date cim.Date) (interval.Day, error)
	PutDaysIfLatest(ctx context.Context, days []interval.Day, bases []int) ([]store.DayWrite, error)
}

// Change makes the next version of a day from the latest stored one. It
// may be called more than once, each time over a newer version, so it
// must not keep what it made from an earlier one.
type Change func(latest interval.Day) (interval.Day, error)

// ErrOvertaken is returned when other writers stored a new version of the
// day every time a change was about to be stored over the one it was made
// on.
var ErrOvertaken = errors.New("the day kept changing while the change was stored")

// RefusedError is a change the day cannot take (an interval it does not
// have, an edit without a user or reason): the caller's mistake, not the
// store's. Its text is the reason alone.
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Edits stores changes to stored days as new versions, each over the
// version it was made on. A writer that read a day, changed it and wrote
// the result blindly would hide under its version whatever another
// writer (the ingest, mostly) stored in between; every write over a
// version read before goes through Apply instead.
type Edits struct {
	Store DayWriter
	// Attempts bounds how often a change is made again over a newer
	// version (0: 5).
	Attempts int
}

// Apply makes change over the latest version of a day and stores the
// result as the next version; when another writer stored a version in
// between, it makes the change again over that one. It returns the day
// as stored, with its version. A day not stored is store.ErrNotFound; an
// error of change comes back as it is.
func (e *Edits) Apply(ctx context.Context, meterID, channel string, date cim.Date, change Change) (interval.Day, error) {
	d, err := e.Store.Day(ctx, meterID, channel, date)
	if err != nil {
		return d, fmt.Errorf("mdm: meter %s channel %s %s: reading the day: %w", meterID, channel, date, err)
	}
	return e.ApplyOver(ctx, d, change)
}

// ApplyOver is Apply for a caller that already holds the version to
// change: the first attempt is made over it without reading it again.
func (e *Edits) ApplyOver(ctx context.Context, base interval.Day, change Change) (interval.Day, error) {
	attempts := e.Attempts
	if attempts <= 0 {
		attempts = 5
	}
	d := base
	for n := 0; ; n++ {
		next, err := change(d)
		if err != nil {
			return next, err
		}
		ws, err := e.Store.PutDaysIfLatest(ctx, []interval.Day{next}, []int{d.Version})
		if err != nil {
			return next, fmt.Errorf("mdm: meter %s channel %s %s: storing a change over version %d: %w", d.MeterID, d.Channel, d.Date, d.Version, err)
		}
		if !ws[0].Stale {
			next.Version = ws[0].Version
			return next, nil
		}
		if n+1 == attempts {
			return next, fmt.Errorf("mdm: meter %s channel %s %s: %w (%d attempts, version %d)", d.MeterID, d.Channel, d.Date, ErrOvertaken, attempts, ws[0].Version)
		}
		if d, err = e.Store.Day(ctx, base.MeterID, base.Channel, base.Date); err != nil {
			return d, fmt.Errorf("mdm: meter %s channel %s %s: reading version %d: %w", base.MeterID, base.Channel, base.Date, ws[0].Version, err)
		}
	}
}

// Edit stores a person's values for some intervals of a day (index →
// value) as a new version flagged edited, with who made it and why; the
// older versions stay. Readings stored meanwhile stand beside the edit.
func (e *Edits) Edit(ctx context.Context, meterID, channel string, date cim.Date, values map[int]int64, user, reason string) (interval.Day, error) {
	return e.Apply(ctx, meterID, channel, date, func(d interval.Day) (interval.Day, error) {
		out, err := vee.Edit(d, values, user, reason)
		if err != nil {
			return out, &RefusedError{Err: err}
		}
		return out, nil
	})
}
