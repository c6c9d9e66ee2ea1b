package pq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/store"
)

// Kind is what a voltage event is.
type Kind string

// The kinds EN 50160 counts.
const (
	Sag          Kind = "sag"
	Swell        Kind = "swell"
	Interruption Kind = "interruption"
)

// Event is one voltage event at a meter: a sag or swell from its power
// quality log, or an interruption (a sag with almost no voltage left, or a
// power cut the meter logged).
type Event struct {
	MeterID string    `json:"meter"`
	At      time.Time `json:"at"`
	Kind    Kind      `json:"kind"`
	Phase   int       `json:"phase,omitempty"` // 1..3; 0: all or unknown
	// Residual is the lowest (sag, interruption) or highest (swell)
	// voltage in percent of nominal; -1 when the meter did not say.
	Residual float64       `json:"residualPct"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"durationS"` // Duration in seconds
}

// Meter event codes of the power quality log (IDIS/DSMR numbering): under
// voltage L1..L3, over voltage L1..L3; and the standard log's power down.
const (
	codeUnderL1   = 76
	codeOverL1    = 79
	codePowerDown = 1
)

// InterruptionResidual is the residual voltage, in percent of nominal,
// below which EN 50160 counts a supply interruption rather than a dip.
const InterruptionResidual = 5.0

// EventTypes are the event types Events reads.
var EventTypes = []cim.EndDeviceEventType{"3.26.38.150", "3.26.38.93", cim.EventPowerOff}

// EventReader reads the meters' stored events.
type EventReader interface {
	EventsOfMeters(ctx context.Context, types []cim.EndDeviceEventType, ranges []store.EventRange) ([][]cim.EndDeviceEvent, error)
}

// eventOf reads a stored end-device event as a voltage event; false for
// another event.
func eventOf(e cim.EndDeviceEvent) (Event, bool) {
	ev := Event{MeterID: e.MeterID, At: e.CreatedAt, Residual: -1}
	if d, err := time.ParseDuration(e.Details["duration"]); err == nil && d >= 0 {
		ev.Duration = d
	}
	// A residual beyond ten times nominal is no measurement.
	if r, err := strconv.ParseFloat(e.Details["depth"], 64); err == nil && r >= 0 && r <= 1000 {
		ev.Residual = r
	}
	switch {
	case e.Code >= codeUnderL1 && e.Code < codeUnderL1+3:
		ev.Kind, ev.Phase = Sag, e.Code-codeUnderL1+1
		if ev.Residual >= 0 && ev.Residual < InterruptionResidual {
			ev.Kind = Interruption
		}
	case e.Code >= codeOverL1 && e.Code < codeOverL1+3:
		ev.Kind, ev.Phase = Swell, e.Code-codeOverL1+1
	case e.Type == cim.EventPowerOff && e.Code == codePowerDown:
		// The standard log's power down: the start of a cut. Its length
		// is in the power failure log, whose entries are counted there.
		ev.Kind, ev.Residual = Interruption, 0
	case e.Type == cim.EventPowerOff && e.Code == 0 && e.Details["duration"] != "":
		// The power failure log's entry: stamped at the end of a long
		// cut, with its length. It lengthens the cut the standard log
		// counted; alone it is not counted again.
		ev.Kind, ev.Residual = Interruption, 0
		ev.At = ev.At.Add(-ev.Duration)
		return ev, true
	default:
		return Event{}, false
	}
	ev.Seconds = ev.Duration.Seconds()
	return ev, true
}

// longFailure reports whether a stored event is a power failure log entry.
func longFailure(e cim.EndDeviceEvent) bool {
	return e.Type == cim.EventPowerOff && e.Code == 0 && e.Details["duration"] != ""
}

// Events returns the voltage events of the meters in [from, to), each
// meter's oldest first. A long power failure's duration is given to the
// power down that began it.
func Events(ctx context.Context, r EventReader, meters []string, from, to time.Time) ([]Event, error) {
	var out []Event
	const batch = 500
	for lo := 0; lo < len(meters); lo += batch {
		hi := min(lo+batch, len(meters))
		rs := make([]store.EventRange, 0, hi-lo)
		for _, m := range meters[lo:hi] {
			rs = append(rs, store.EventRange{MeterID: m, From: from, To: to.Add(7 * 24 * time.Hour)})
		}
		evs, err := r.EventsOfMeters(ctx, EventTypes, rs)
		if err != nil {
			return nil, fmt.Errorf("pq: reading voltage events %s to %s: %w", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
		}
		for _, es := range evs {
			out = append(out, meterEvents(es, from, to)...)
		}
	}
	return out, nil
}

// meterEvents turns one meter's stored events (newest first, as the store
// lists them) into its voltage events in [from, to), oldest first.
func meterEvents(es []cim.EndDeviceEvent, from, to time.Time) []Event {
	var out, long []Event
	for i := len(es) - 1; i >= 0; i-- {
		ev, ok := eventOf(es[i])
		if !ok {
			continue
		}
		if longFailure(es[i]) {
			long = append(long, ev)
			continue
		}
		if ev.At.Before(from) || !ev.At.Before(to) {
			continue
		}
		out = append(out, ev)
	}
	// A power down's length: the long failure starting at it (within the
	// few seconds a meter's log stamps may differ).
	for _, l := range long {
		for i := range out {
			if out[i].Kind == Interruption && out[i].Duration == 0 && out[i].Residual == 0 {
				if d := out[i].At.Sub(l.At); d > -5*time.Second && d < 5*time.Second {
					out[i].Duration, out[i].Seconds = l.Duration, l.Duration.Seconds()
					break
				}
			}
		}
	}
	return out
}
