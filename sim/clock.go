package sim

import "time"

// Clock is the simulated time of a fleet: Start at the wall-clock instant
// Origin, running Factor times faster than real time from there (1440 is a
// day a minute). A zero Origin or a zero Factor freezes it at Start, which
// is what tests want.
type Clock struct {
	Start  time.Time
	Factor float64
	Origin time.Time
}

// NewClock returns a clock that shows start now and runs factor times
// faster than the wall clock.
func NewClock(start time.Time, factor float64) *Clock {
	return &Clock{Start: start, Factor: factor, Origin: time.Now()}
}

// Now returns the simulated time.
func (c *Clock) Now() time.Time {
	if c.Origin.IsZero() || c.Factor == 0 {
		return c.Start
	}
	return c.Start.Add(time.Duration(float64(time.Since(c.Origin)) * c.Factor))
}
