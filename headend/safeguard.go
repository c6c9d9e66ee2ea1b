package headend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// ErrRefused is wrapped by Issue for a command a safeguard refuses.
var ErrRefused = errors.New("headend: refused by a safeguard")

// The protections a usage point may carry (cim.UsagePoint.Protection).
const (
	ProtectionVulnerable = "vulnerable"
	ProtectionMedical    = "medical"
)

// MinOverrideReason is the shortest reason that overrides a safeguard: a
// word or two is not a reason someone can be held to.
const MinOverrideReason = 10

// maxOverrideReason bounds the reason kept with the command and in the
// audit trail.
const maxOverrideReason = 1000

// MaxReconnectWindow is the widest spread of reconnects: beyond it a
// customer waits too long for supply that was meant to come back.
const MaxReconnectWindow = 600 * time.Second

// AllRegions keys the holidays every region keeps.
const AllRegions = "*"

// SafeguardConfig sets the kill-switch safeguards: the guards that stop a
// disconnect unless its issuer overrides them with a reason, and the
// spread of reconnects.
type SafeguardConfig struct {
	// Protection refuses a disconnect at a usage point flagged vulnerable
	// or medical.
	Protection bool
	// Weather refuses a disconnect where the latest temperature observed
	// in the meter's region within WeatherMaxAge is below ColdC or above
	// HotC. Without such an observation the disconnect goes ahead, and its
	// reason says so.
	Weather       bool
	ColdC, HotC   float64
	WeatherMaxAge time.Duration
	// Calendar refuses a disconnect on a Saturday, a Sunday or one of
	// Holidays (by region, AllRegions for every region), in the usage
	// point's time zone.
	Calendar bool
	Holidays map[string][]cim.Date
	// ReconnectWindow moves each reconnect and arm-reconnect to a random
	// instant in [its time, its time + ReconnectWindow], so that a
	// feeder's load does not come back at once (0: not spread; at most
	// MaxReconnectWindow).
	ReconnectWindow time.Duration
}

// DefaultSafeguards has every guard on: no disconnect of a protected
// usage point, below 0 °C or above 35 °C by an observation of the last 6
// hours, or on a weekend; reconnects spread over 5 minutes.
func DefaultSafeguards() SafeguardConfig {
	return SafeguardConfig{Protection: true, Weather: true, ColdC: 0, HotC: 35, WeatherMaxAge: 6 * time.Hour,
		Calendar: true, ReconnectWindow: 300 * time.Second}
}

// Validate checks the settings.
func (c SafeguardConfig) Validate() error {
	switch {
	case c.ReconnectWindow < 0 || c.ReconnectWindow > MaxReconnectWindow:
		return fmt.Errorf("safeguards: reconnect window %s: want 0 to %s", c.ReconnectWindow, MaxReconnectWindow)
	case c.Weather && c.ColdC >= c.HotC:
		return fmt.Errorf("safeguards: cold %g °C is not below hot %g °C", c.ColdC, c.HotC)
	case c.Weather && c.WeatherMaxAge <= 0:
		return fmt.Errorf("safeguards: weather max age %s: want a positive duration", c.WeatherMaxAge)
	}
	return nil
}

// safeguards is the head-end's copy of its settings, with the holidays
// indexed and the draw of reconnect times.
type safeguards struct {
	cfg      SafeguardConfig
	holidays map[string]map[cim.Date]bool
	weather  store.Weather
	// spread draws an offset in [0, n]; tests replace it.
	spread func(n int64) int64
}

func newSafeguards(c SafeguardConfig, w store.Weather) (safeguards, error) {
	if err := c.Validate(); err != nil {
		return safeguards{}, err
	}
	s := safeguards{cfg: c, weather: w, holidays: map[string]map[cim.Date]bool{},
		spread: func(n int64) int64 { return rand.Int64N(n + 1) }}
	for region, days := range c.Holidays {
		if s.holidays[region] == nil {
			s.holidays[region] = map[cim.Date]bool{}
		}
		for _, d := range days {
			s.holidays[region][d] = true
		}
	}
	return s, nil
}

// safeguard checks a command against the kill-switch safeguards before it
// is taken in: it refuses it (wrapping ErrRefused) or moves its time. A
// disconnect that an override lets through, or that went ahead for want
// of a weather observation, says so in c.Reason.
func (h *HeadEnd) safeguard(ctx context.Context, m cim.Meter, c *cim.EndDeviceControl) error {
	c.Override = strings.TrimSpace(c.Override)
	if len(c.Override) > maxOverrideReason {
		return fmt.Errorf("%w: override reason of %d bytes, at most %d", ErrBadCommand, len(c.Override), maxOverrideReason)
	}
	switch c.Type {
	case cim.ControlReconnect, cim.ControlArmReconnect:
		h.spreadReconnect(c)
		return nil
	case cim.ControlDisconnect:
	default:
		return nil
	}
	guards, notes, err := h.disconnectGuards(ctx, m, c)
	if err != nil {
		return fmt.Errorf("checking the safeguards of a disconnect of meter %s: %w", m.MRID, err)
	}
	if len(guards) == 0 {
		c.Reason = strings.Join(notes, "; ")
		return nil
	}
	if n := len([]rune(c.Override)); n < MinOverrideReason {
		why := "no override given"
		if n > 0 {
			why = fmt.Sprintf("an override needs a reason of at least %d characters, not %d", MinOverrideReason, n)
		}
		return fmt.Errorf("%w: disconnect of meter %s: %s (%s)", ErrRefused, m.MRID, strings.Join(guards, "; "), why)
	}
	c.Reason = strings.Join(append(notes, "safeguards overridden ("+strings.Join(guards, "; ")+"): "+c.Override), "; ")
	return nil
}

// disconnectGuards names every guard that stops a disconnect of meter m
// now, and notes what the checks could not see.
func (h *HeadEnd) disconnectGuards(ctx context.Context, m cim.Meter, c *cim.EndDeviceControl) (guards, notes []string, err error) {
	cfg := h.sg.cfg
	up := cim.UsagePoint{MRID: m.UsagePointID}
	if m.UsagePointID != "" {
		up, err = h.st.UsagePoint(ctx, m.UsagePointID)
		if errors.Is(err, store.ErrNotFound) {
			up, err = cim.UsagePoint{MRID: m.UsagePointID}, nil
		}
		if err != nil {
			return nil, nil, err
		}
	}
	if cfg.Protection && up.Protection != "" {
		guards = append(guards, fmt.Sprintf("usage point %s is flagged %s", up.MRID, up.Protection))
	}
	now := h.now()
	// A disconnect scheduled later is judged by the day it will run on;
	// the weather is what is known now.
	at := now
	if c.ScheduledAt.After(now) {
		at = c.ScheduledAt
	}
	if cfg.Weather {
		g, note, err := h.weatherGuard(ctx, m.Region, now)
		if err != nil {
			return nil, nil, err
		}
		if g != "" {
			guards = append(guards, g)
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	if cfg.Calendar {
		loc, err := up.Location()
		if err != nil {
			return nil, nil, err
		}
		local := at.In(loc)
		day := cim.DateOf(at, loc)
		switch {
		case local.Weekday() == time.Saturday || local.Weekday() == time.Sunday:
			guards = append(guards, fmt.Sprintf("%s %s is a weekend day in %s", local.Weekday(), day, loc))
		case h.sg.holidays[m.Region][day] || h.sg.holidays[AllRegions][day]:
			guards = append(guards, fmt.Sprintf("%s is a holiday in region %q", day, m.Region))
		}
	}
	return guards, notes, nil
}

// weatherGuard checks the latest observation of a region within the
// configured age: a guard when it is too cold or too hot, a note when
// there is none.
func (h *HeadEnd) weatherGuard(ctx context.Context, region string, now time.Time) (guard, note string, err error) {
	cfg := h.sg.cfg
	none := fmt.Sprintf("no temperature observed in region %q within %s: weather guard not applied", region, cfg.WeatherMaxAge)
	if region == "" || h.sg.weather == nil {
		return "", none, nil
	}
	o, err := h.sg.weather.LatestWeather(ctx, region, now.Add(-cfg.WeatherMaxAge), now)
	if errors.Is(err, store.ErrNotFound) {
		return "", none, nil
	}
	if err != nil {
		return "", "", err
	}
	seen := o.At.UTC().Format(time.RFC3339)
	switch {
	case o.TemperatureC < cfg.ColdC:
		return fmt.Sprintf("region %q is at %g °C (observed %s), below %g °C", region, o.TemperatureC, seen, cfg.ColdC), "", nil
	case o.TemperatureC > cfg.HotC:
		return fmt.Sprintf("region %q is at %g °C (observed %s), above %g °C", region, o.TemperatureC, seen, cfg.HotC), "", nil
	}
	return "", "", nil
}

// spreadReconnect moves a reconnect to a random instant of the window
// after its time, so that a feeder's load does not come back at once.
func (h *HeadEnd) spreadReconnect(c *cim.EndDeviceControl) {
	w := h.sg.cfg.ReconnectWindow
	if w <= 0 {
		return
	}
	base := h.now()
	if c.ScheduledAt.After(base) {
		base = c.ScheduledAt
	}
	if !c.ExpiresAt.IsZero() {
		// Spread within the first half of the command's life, so that
		// it still runs.
		w = min(w, c.ExpiresAt.Sub(base)/2)
		if w <= 0 {
			return
		}
	}
	c.ScheduledAt = base.Add(time.Duration(h.sg.spread(int64(w))))
}

// withNote keeps the safeguards' note after a command's new reason, so
// that whoever approves or releases it reads what the guards saw.
func withNote(reason, note string) string {
	if note == "" {
		return reason
	}
	return reason + "; " + note
}
