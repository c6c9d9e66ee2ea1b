package meter

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// TestButtonAfterArming: a remote reconnect in control mode 1 arms the
// meter; the supply stays off until the household presses the button, a
// delay drawn from the seed later, and the registers and the log agree on
// when that was.
func TestButtonAfterArming(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 9, w, Faults{})
	m := newMeter(t, f, idFor(f, loadshape.Family, 1), Electricity1P)
	now := w.start.Add(-10 * 24 * time.Hour)
	if _, err := m.Control(now, RemoteDisconnect); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.ButtonPress(); ok {
		t.Fatal("a press is due on a disconnected meter")
	}
	armed := now.Add(time.Hour)
	if s, err := m.Control(armed, RemoteReconnect); err != nil || s != ReadyForReconnection {
		t.Fatalf("arming: %v %v", s, err)
	}
	press, ok := m.ButtonPress()
	if !ok || press.Before(armed.Add(MinButtonDelay)) || press.After(armed.Add(f.ButtonDelay)) {
		t.Fatalf("press at %v (%v), want within [%v, %v] after %v", press, ok, MinButtonDelay, f.ButtonDelay, armed)
	}
	m.Settle(press.Add(-time.Second))
	if s, _ := m.Relay(); s != ReadyForReconnection {
		t.Fatalf("relay %v before the press", s)
	}
	if m.RegistersAt(press).Import != m.RegistersAt(now).Import {
		t.Fatal("consumption while waiting for the button")
	}
	// Settled late, the press still counts from its own instant.
	later := press.Add(6 * time.Hour)
	m.Settle(later)
	if s, _ := m.Relay(); s != Connected {
		t.Fatalf("relay %v after the press", s)
	}
	if m.RegistersAt(later).Import <= m.RegistersAt(press).Import {
		t.Fatal("no consumption after the press")
	}
	es := m.Events(later, LogDisconnect)
	var codes []EventCode
	for _, e := range es {
		codes = append(codes, e.Code)
	}
	n := len(es)
	if n < 2 || fmt.Sprint(codes[n-2:]) != fmt.Sprint([]EventCode{EventReadyForManualReconnection, EventManualConnection}) || !es[n-1].Time.Equal(press) {
		t.Fatalf("disconnect log %v, last at %v, want the manual connection at %v", codes, es[len(es)-1].Time, press)
	}
	// A press on a connected meter changes nothing.
	var te *TransitionError
	if s, err := m.PressButton(later); s != Connected || !errors.As(err, &te) {
		t.Fatalf("press while connected: %v %v", s, err)
	}
	// The same meter armed at the same instant presses at the same
	// delay; another meter's household takes its own time.
	g := newMeter(t, f, m.ID(), Electricity1P)
	g.Control(now, RemoteDisconnect)
	g.Control(armed, RemoteReconnect)
	if p, _ := g.ButtonPress(); !p.Equal(press) {
		t.Fatalf("press at %v, then at %v: not from the seed", press, p)
	}
	seen := map[int64]bool{}
	for id := uint64(1); id <= 20; id++ {
		o := newMeter(t, f, id, Electricity1P)
		o.Control(now, RemoteDisconnect)
		o.Control(armed, RemoteReconnect)
		p, _ := o.ButtonPress()
		seen[p.Unix()] = true
	}
	if len(seen) < 15 {
		t.Fatalf("20 households press at %d instants", len(seen))
	}
}

// TestButtonWithoutHousehold: with no household pressing, an armed meter
// waits for PressButton; a remote disconnect meanwhile drops the press.
func TestButtonWithoutHousehold(t *testing.T) {
	w := dstWindows(t)[0]
	f := testFleet(t, 9, w, Faults{})
	f.ButtonDelay = 0
	m := newMeter(t, f, 7, Electricity1P)
	now := w.start.Add(-10 * 24 * time.Hour)
	m.Control(now, RemoteDisconnect)
	m.Control(now.Add(time.Minute), RemoteReconnect)
	if _, ok := m.ButtonPress(); ok {
		t.Fatal("a press is due with no household")
	}
	m.Settle(now.Add(48 * time.Hour))
	if s, _ := m.Relay(); s != ReadyForReconnection {
		t.Fatalf("relay %v two days after arming, nobody pressing", s)
	}
	if s, err := m.PressButton(now.Add(49 * time.Hour)); err != nil || s != Connected {
		t.Fatalf("press: %v %v", s, err)
	}

	f2 := testFleet(t, 9, w, Faults{})
	d := newMeter(t, f2, 7, Electricity1P)
	d.Control(now, RemoteDisconnect)
	d.Control(now.Add(time.Minute), RemoteReconnect)
	d.Control(now.Add(2*time.Minute), RemoteDisconnect)
	if _, ok := d.ButtonPress(); ok {
		t.Fatal("a press is still due after a remote disconnect")
	}
	d.Settle(now.Add(48 * time.Hour))
	if s, _ := d.Relay(); s != Disconnected {
		t.Fatalf("relay %v: the household reconnected a meter disconnected again", s)
	}
}
