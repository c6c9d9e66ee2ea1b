package meter

import (
	"fmt"
	"time"
)

// ControlState is the state of a disconnector or valve (COSEM class 70
// control_state).
type ControlState uint8

// The control states, numbered as in the Blue Book.
const (
	Disconnected         ControlState = 0
	Connected            ControlState = 1
	ReadyForReconnection ControlState = 2
)

// String returns the Blue Book name.
func (s ControlState) String() string {
	switch s {
	case Disconnected:
		return "disconnected"
	case Connected:
		return "connected"
	case ReadyForReconnection:
		return "ready_for_reconnection"
	}
	return fmt.Sprintf("control_state(%d)", uint8(s))
}

// Trigger is what asks the disconnector to move.
type Trigger uint8

// The triggers: remote ones are the COSEM methods, manual ones the
// customer's push button, local ones the meter's own functions (limiter,
// supervision).
const (
	RemoteDisconnect Trigger = iota + 1
	RemoteReconnect
	ManualDisconnect
	ManualReconnect
	LocalDisconnect
	LocalReconnect
)

// String returns the trigger name.
func (t Trigger) String() string {
	switch t {
	case RemoteDisconnect:
		return "remote_disconnect"
	case RemoteReconnect:
		return "remote_reconnect"
	case ManualDisconnect:
		return "manual_disconnect"
	case ManualReconnect:
		return "manual_reconnect"
	case LocalDisconnect:
		return "local_disconnect"
	case LocalReconnect:
		return "local_reconnect"
	}
	return fmt.Sprintf("trigger(%d)", uint8(t))
}

// ControlMode is COSEM class 70 control_mode 0..6. The Blue Book names
// the transitions a..h:
//
//	a remote_reconnect  Disconnected -> Connected
//	b remote_disconnect Connected -> Disconnected
//	c remote_disconnect ReadyForReconnection -> Disconnected
//	d remote_reconnect  Disconnected -> ReadyForReconnection
//	e manual_reconnect  ReadyForReconnection -> Connected
//	f manual_disconnect Connected -> ReadyForReconnection
//	g local_disconnect  Connected -> ReadyForReconnection
//	h local_reconnect   ReadyForReconnection -> Connected
//
// Mode 0 is always connected; modes 1..6 allow b, c, g, e and:
// 1: d, f; 2: a, f; 3: d; 4: a; 5: d, f, h; 6: d, h.
type ControlMode uint8

// Allows reports whether the mode permits a trigger at all.
func (c ControlMode) Allows(t Trigger) bool {
	if c == 0 || c > 6 {
		return false
	}
	switch t {
	case RemoteDisconnect, LocalDisconnect, ManualReconnect, RemoteReconnect:
		return true
	case ManualDisconnect:
		return c == 1 || c == 2 || c == 5
	case LocalReconnect:
		return c == 5 || c == 6
	}
	return false
}

// Next returns the state a trigger moves s to, and false when the mode
// does not allow the transition from s.
func (c ControlMode) Next(s ControlState, t Trigger) (ControlState, bool) {
	if !c.Allows(t) {
		return s, false
	}
	switch t {
	case RemoteDisconnect: // b, c
		if s == Connected || s == ReadyForReconnection {
			return Disconnected, true
		}
	case RemoteReconnect: // a or d
		if s == Disconnected {
			if c == 2 || c == 4 {
				return Connected, true
			}
			return ReadyForReconnection, true
		}
	case ManualDisconnect, LocalDisconnect: // f, g
		if s == Connected {
			return ReadyForReconnection, true
		}
	case ManualReconnect, LocalReconnect: // e, h
		if s == ReadyForReconnection {
			return Connected, true
		}
	}
	return s, false
}

// TransitionError reports a disconnector trigger the mode or state
// refuses (a DLMS adapter answers it with a failed action result).
type TransitionError struct {
	Meter   uint64
	Mode    ControlMode
	State   ControlState
	Trigger Trigger
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("meter %d: %s not allowed in %s with control mode %d", e.Meter, e.Trigger, e.State, e.Mode)
}

// relayState is the disconnector plus the history of spans with the
// output open, which registers need for the past.
type relayState struct {
	state ControlState
	mode  ControlMode
	off   []period
	// pressAt is when the household presses the button of a meter armed
	// for reconnection (true unix seconds; 0: no press due).
	pressAt int64
	// limiter
	threshold int64 // W, 0 disabled
	overSec   int64 // min_over_threshold_duration
}

// Relay returns the disconnector (or valve) state and control mode.
func (m *Meter) Relay() (ControlState, ControlMode) {
	if m.st == nil {
		return Connected, m.f.ControlMode
	}
	return m.st.relay.state, m.st.relay.mode
}

// SetControlMode changes control_mode. Mode 0 forces Connected, as the Blue
// Book's "always connected" requires.
func (m *Meter) SetControlMode(now time.Time, mode ControlMode) error {
	if mode > 6 {
		return fmt.Errorf("meter %d: control mode %d out of range 0..6", m.id, mode)
	}
	s := m.s()
	s.relay.mode = mode
	if mode == 0 && s.relay.state != Connected {
		m.setOutput(now, Connected)
	}
	return nil
}

// Control applies a trigger at now, records the disconnect control event,
// and returns the new state. A refused trigger returns *TransitionError and
// logs nothing.
func (m *Meter) Control(now time.Time, t Trigger) (ControlState, error) {
	s := m.s()
	next, ok := s.relay.mode.Next(s.relay.state, t)
	if !ok {
		return s.relay.state, &TransitionError{Meter: m.id, Mode: s.relay.mode, State: s.relay.state, Trigger: t}
	}
	m.setOutput(now, next)
	m.armButton(now, t, next)
	var code EventCode
	switch t {
	case RemoteDisconnect:
		code = EventRemoteDisconnection
	case RemoteReconnect:
		code = EventRemoteConnection
		if next == ReadyForReconnection {
			code = EventReadyForManualReconnection
		}
	case ManualDisconnect:
		code = EventManualDisconnection
	case ManualReconnect:
		code = EventManualConnection
	case LocalDisconnect:
		code = EventLocalDisconnection
	case LocalReconnect:
		code = EventLocalReconnection
	}
	m.logEvent(LogDisconnect, now, code)
	return next, nil
}

// setOutput moves the state, keeping the open-output history that the
// registers are derived from. The history is never pruned: registers may
// be rebuilt from installation after Trim, and relay operations are rare.
func (m *Meter) setOutput(now time.Time, next ControlState) {
	s := m.s()
	wasOn := s.relay.state == Connected
	isOn := next == Connected
	if wasOn != isOn {
		m.invalidateFrom(now.Unix())
		if !isOn {
			s.relay.off = append(s.relay.off, period{now.Unix(), forever})
		} else if n := len(s.relay.off); n > 0 {
			s.relay.off[n-1].to = now.Unix()
		}
	}
	s.relay.state = next
}

// SetLimiter sets the limiter threshold (W, 0 disables) and its
// min_over_threshold_duration. The meter trips (local disconnect, event
// 65 then 64) when a step's average power stays above the threshold for
// that long; NextEvent reports it as EventLimiterTrip.
func (m *Meter) SetLimiter(now time.Time, thresholdW int64, minOver time.Duration) {
	s := m.s()
	s.relay.threshold = max(thresholdW, 0)
	s.relay.overSec = int64(minOver / time.Second)
	m.logEvent(LogDisconnect, now, EventLimiterThresholdChanged)
}

// Limiter returns the threshold (W) and min over-threshold duration.
func (m *Meter) Limiter() (int64, time.Duration) {
	if m.st == nil {
		return 0, 0
	}
	return m.st.relay.threshold, time.Duration(m.st.relay.overSec) * time.Second
}

// nextLimiterTrip scans steps after `after` within the horizon for the
// first whose average import exceeds the threshold; the trip happens
// min_over_threshold_duration into it (capped at the step end).
func (m *Meter) nextLimiterTrip(after, until int64) (int64, bool) {
	if m.st == nil || (m.st.relay.threshold <= 0 && (m.st.dr == nil || m.st.dr.Limit.ThresholdW <= 0)) || m.st.relay.state != Connected || !m.kind.Electric() {
		return 0, false
	}
	var off offList
	mf := m.Faults()
	for s := floorStep(after); s < until; s += stepSec {
		_, e := m.step(s, &off, &mf)
		t := s + min(m.st.relay.overSec, stepSec-1)
		// An emergency threshold in force holds the limiter instead.
		if th, _ := m.ThresholdAt(time.Unix(t, 0)); th > 0 && e.ImportWh*3600/stepSec > th {
			if t > after {
				return t, true
			}
		}
	}
	return 0, false
}
