package meter

import (
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// MinButtonDelay is the quickest a household presses the button after
// its meter is armed for reconnection: someone has to notice, and walk to
// the meter cupboard.
const MinButtonDelay = 30 * time.Second

// saltButton draws the household's delay; apart from the fault salts.
const saltButton = 2001

// PressButton is the customer pressing the disconnector's push button at
// now. A meter armed for reconnection (ready_for_reconnection) connects:
// a manual reconnect, logged as a manual connection. In any other state
// the press changes nothing and returns *TransitionError.
func (m *Meter) PressButton(now time.Time) (ControlState, error) {
	m.Settle(now)
	return m.Control(now, ManualReconnect)
}

// ButtonPress returns when the household will press the button of a
// meter armed for reconnection, and false when no press is due.
func (m *Meter) ButtonPress() (time.Time, bool) {
	if m.st == nil || m.st.relay.pressAt == 0 {
		return time.Time{}, false
	}
	return time.Unix(m.st.relay.pressAt, 0).In(m.f.Location), true
}

// Settle carries out what the household did up to now: the press of the
// button of a meter armed for reconnection, once its delay has passed.
// The simulator settles a meter before each use; the press takes effect
// at its own instant, however late it is settled, so registers and logs
// read after it agree with one another.
func (m *Meter) Settle(now time.Time) {
	if m.st == nil || m.st.relay.pressAt == 0 || now.Unix() < m.st.relay.pressAt {
		return
	}
	at := time.Unix(m.st.relay.pressAt, 0)
	m.st.relay.pressAt = 0
	m.Control(at, ManualReconnect) // armed until now, so the transition holds
}

// armButton schedules the household's press when a remote reconnect arms
// the meter, and drops it once the meter leaves that state.
func (m *Meter) armButton(now time.Time, t Trigger, next ControlState) {
	s := m.s()
	if next != ReadyForReconnection {
		s.relay.pressAt = 0
		return
	}
	if t != RemoteReconnect || m.f.ButtonDelay <= 0 {
		return
	}
	lo, hi := int64(MinButtonDelay/time.Second), int64(max(m.f.ButtonDelay, MinButtonDelay)/time.Second)
	d := lo + int64(loadshape.Rand(m.f.Seed, m.id, uint64(now.Unix()), saltButton)%uint64(hi-lo+1))
	s.relay.pressAt = now.Unix() + d
}
