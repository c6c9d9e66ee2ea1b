package headend_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/meter"
)

// TestArmReconnectWaitsForTheButton: over DLMS to a simulated meter in
// control mode 1, an arm-reconnect leaves the supply off, ready for
// reconnection, until the customer presses the button; the household
// presses on its own a while later.
func TestArmReconnectWaitsForTheButton(t *testing.T) {
	r := newFleetRig(t, 2, meter.Faults{}, headend.CollectionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.h.RunCommands(ctx) }()
	defer func() { cancel(); <-done }()
	issue := func(i int, typ cim.EndDeviceControlType) cim.EndDeviceControl {
		t.Helper()
		c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: headend.MeterID(r.rows[i]), Type: typ, IssuedBy: "olga", ApprovedBy: "sam"})
		if err != nil {
			t.Fatal(err)
		}
		return waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	}
	relay := func(i int) meter.ControlState {
		m, _ := r.fleet.Meter(i)
		r.fleet.Lock(i).Lock()
		defer r.fleet.Lock(i).Unlock()
		st, _ := m.Relay()
		return st
	}
	for i := range 2 {
		issue(i, cim.ControlDisconnect)
		c := issue(i, cim.ControlArmReconnect)
		if !strings.Contains(c.Reason, "ready for reconnection") || relay(i) != meter.ReadyForReconnection {
			t.Fatalf("meter %d after arm-reconnect: %q, relay %v", i, c.Reason, relay(i))
		}
	}

	// The customer of meter 0 presses at once.
	if st, err := r.fleet.PressButton(0); err != nil || st != meter.Connected {
		t.Fatalf("press: %v %v", st, err)
	}
	if c := issue(0, cim.ControlArmReconnect); !strings.Contains(c.Reason, "relay connected") {
		t.Fatalf("meter 0 read after the press: %q", c.Reason)
	}
	if _, err := r.fleet.PressButton(0); err == nil {
		t.Fatal("a press on a connected meter did something")
	}

	// Meter 1's household presses later: until then a read says ready,
	// after it connected.
	m1, _ := r.fleet.Meter(1)
	r.fleet.Lock(1).Lock()
	press, ok := m1.ButtonPress()
	r.fleet.Lock(1).Unlock()
	if !ok || press.Sub(r.clk.Now()) > r.fleet.Model().ButtonDelay {
		t.Fatalf("household press at %v (%v), now %v", press, ok, r.clk.Now())
	}
	r.clk.Set(press.Add(-time.Second))
	if c := issue(1, cim.ControlArmReconnect); !strings.Contains(c.Reason, "ready for reconnection") {
		t.Fatalf("meter 1 before its household's press: %q", c.Reason)
	}
	r.clk.Set(press.Add(time.Second))
	if c := issue(1, cim.ControlArmReconnect); !strings.Contains(c.Reason, "relay connected") {
		t.Fatalf("meter 1 after its household's press: %q", c.Reason)
	}
}

// TestImportedProtection: the manifest's protection column reaches the
// usage point, and the head-end then refuses to disconnect its meter.
func TestImportedProtection(t *testing.T) {
	r := newFleetRig(t, 2, meter.Faults{}, headend.CollectionConfig{})
	ctx := context.Background()
	r.rows[0].Protection = "medical"
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"medical", ""} {
		up, err := r.st.UsagePoint(ctx, r.rows[i].UsagePointID)
		if err != nil || up.Protection != want {
			t.Fatalf("usage point %d: %+v %v, want protection %q", i, up, err, want)
		}
	}
	cfg := headend.DefaultSafeguards()
	cfg.Calendar, cfg.Weather = false, false
	h, err := headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: r.keys, Drivers: dlmsDrivers, Now: r.clk.Now, Safeguards: &cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = h.Issue(ctx, cim.EndDeviceControl{MeterID: headend.MeterID(r.rows[0]), Type: cim.ControlDisconnect})
	if !errors.Is(err, headend.ErrRefused) || !strings.Contains(err.Error(), "flagged medical") {
		t.Fatalf("disconnect at a medical usage point: %v", err)
	}
	if _, _, err := h.Issue(ctx, cim.EndDeviceControl{MeterID: headend.MeterID(r.rows[1]), Type: cim.ControlDisconnect}); err != nil {
		t.Fatalf("disconnect next door: %v", err)
	}
	// Imported again without the flag, the usage point loses it.
	r.rows[0].Protection = ""
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	if up, _ := r.st.UsagePoint(ctx, r.rows[0].UsagePointID); up.Protection != "" {
		t.Fatalf("protection %q after the flag was removed", up.Protection)
	}
}
