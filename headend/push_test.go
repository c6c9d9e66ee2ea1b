package headend_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/wrapper"
)

// events reads every event on the bus.
func busEvents(t *testing.T, b *bus.Bus) []cim.EndDeviceEvent {
	t.Helper()
	ctx := context.Background()
	var out []cim.EndDeviceEvent
	err := b.Stored(ctx, bus.Events, 0, func(_ uint64, m bus.Message, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cim.EndDeviceEvent(m.(bus.Event)))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestLastGaspReachesTheHeadEnd: a feeder cut takes meters down; each
// sends its last gasp from its own address, ciphered under its own keys,
// and the head-end's push listener turns it into a power-off event on the
// bus; the power-restored push follows. A replayed push and a push from a
// stranger are refused.
func TestLastGaspReachesTheHeadEnd(t *testing.T) {
	faults := meter.Faults{OutagesPerYear: 300, OutageGroup: 1}
	r := newFleetRig(t, 20, faults, headend.CollectionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	drv := dlmsdriver.New(dlmsdriver.Config{})
	pl := r.h.NewPushListener(drv, headend.PushConfig{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); pl.Serve(ctx, ln) }()

	// Find the first power cut after now in the fleet and jump the clock
	// past its end.
	var cutMeter int
	var cutAt, upAt time.Time
	for i := range 20 {
		m, _ := r.fleet.Meter(i)
		at, ev := m.NextEvent(r.clk.Now())
		for ev.Kind != meter.EventLastGasp && ev.Kind != meter.EventWake {
			at, ev = m.NextEvent(at)
		}
		if ev.Kind == meter.EventLastGasp && (cutAt.IsZero() || at.Before(cutAt)) {
			cutMeter, cutAt = i, at
			for u, e2 := m.NextEvent(at); ; u, e2 = m.NextEvent(u) {
				if e2.Kind == meter.EventPowerRestored || e2.Kind == meter.EventWake {
					upAt = u
					break
				}
			}
		}
	}
	if cutAt.IsZero() {
		t.Fatal("no power cut in the horizon")
	}
	stats := &sim.PushStats{}
	from := r.clk.Now()
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.fleet.RunPushes(ctx, sim.PushConfig{Destination: ln.Addr().String(), From: from}, stats)
	}()
	r.clk.Set(upAt.Add(time.Second))

	id := headend.MeterID(r.rows[cutMeter])
	deadline := time.Now().Add(20 * time.Second)
	var gasp, restored bool
	for !(gasp && restored) {
		if time.Now().After(deadline) {
			t.Fatalf("meter %s: last gasp %v, restored %v; pushes sent %d failed %d", id, gasp, restored, stats.Sent.Load(), stats.Failed.Load())
		}
		for _, e := range busEvents(t, r.bus) {
			if e.MeterID != id || e.Details["source"] != "push" {
				continue
			}
			switch e.Type {
			case cim.EventPowerOff:
				gasp = gasp || e.CreatedAt.Sub(cutAt).Abs() < time.Minute
			case cim.EventPowerRestored:
				restored = true
			}
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
		}
	}

	// A push copied off the wire and sent again is refused, and so is one
	// from a meter the registry does not know.
	row := r.rows[cutMeter]
	ek, _ := security.NewKey(rowField(row, "ek"))
	ak, _ := security.NewKey(rowField(row, "ak"))
	n := &apdu.DataNotification{Body: sim.PushBody(sim.PushSetupLN, row.Serial, 1, cutAt)}
	plain, _ := n.Append(nil)
	sc := security.NewSecurityControl(0, security.AuthenticatedEncryption)
	old, err := security.WrapGeneral(nil, security.Global, sc, security.Keys{Unicast: ek, Authentication: ak}, rowField(row, "system_title"), 1, plain)
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := security.WrapGeneral(nil, security.Global, sc, security.Keys{Unicast: ek, Authentication: ak}, []byte("XYZ00001"), 1<<30, plain)
	before := len(busEvents(t, r.bus))
	for _, b := range [][]byte{old, stranger} {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := wrapper.NewConn(c, 1, 1).Send(ctx, b); err != nil {
			t.Fatal(err)
		}
		// The listener closes a connection after a refused push.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("listener answered a refused push")
		}
		c.Close()
	}
	replays := 0
	for _, e := range busEvents(t, r.bus)[before:] {
		switch {
		case e.Type == headend.EventPushReplayed && e.MeterID == id:
			replays++
		case e.Details["source"] == "push":
			t.Errorf("refused push became event %+v", e)
		}
	}
	if replays != 1 {
		t.Errorf("%d replay events, want 1", replays)
	}
}

// TestCommandsRoundTrip carries commands through the head-end's lifecycle
// to simulated meters and checks the meters' state.
func TestCommandsRoundTrip(t *testing.T) {
	r := newFleetRig(t, 3, meter.Faults{Drifting: 1, MaxDriftPPM: 800}, headend.CollectionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.h.RunCommands(ctx) }()
	defer func() { cancel(); <-done }()
	id := headend.MeterID(r.rows[1])
	m, _ := r.fleet.Meter(1)
	relay := func() meter.ControlState {
		r.fleet.Lock(1).Lock()
		defer r.fleet.Lock(1).Unlock()
		st, _ := m.Relay()
		return st
	}
	issue := func(typ cim.EndDeviceControlType) cim.EndDeviceControl {
		t.Helper()
		c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: id, Type: typ, IssuedBy: "olga", ApprovedBy: "sam"})
		if err != nil {
			t.Fatal(err)
		}
		return waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	}
	issue(cim.ControlDisconnect)
	if relay() != meter.Disconnected {
		t.Fatalf("relay %v after a confirmed disconnect", relay())
	}
	issue(cim.ControlReconnect)
	if relay() == meter.Disconnected {
		t.Fatal("relay still open after a confirmed reconnect")
	}
	r.fleet.Lock(1).Lock()
	before := m.ClockOffset(r.clk.Now())
	r.fleet.Lock(1).Unlock()
	if before.Abs() < time.Second {
		t.Fatalf("meter clock off by only %v; the test needs drift", before)
	}
	c := issue(cim.ControlClockSync)
	r.fleet.Lock(1).Lock()
	after := m.ClockOffset(r.clk.Now())
	r.fleet.Lock(1).Unlock()
	if after.Abs() > time.Second {
		t.Fatalf("clock off by %v after sync (was %v): %s", after, before, c.Reason)
	}
}

// TestTOUCalendarActivates: a set-activity-calendar command writes a
// passive calendar with an activation time; from that time on the
// meter's TOU registers follow the new calendar (here: everything on rate
// 3), and before it the old one.
func TestTOUCalendarActivates(t *testing.T) {
	r := newFleetRig(t, 2, meter.Faults{}, headend.CollectionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.h.RunCommands(ctx) }()
	defer func() { cancel(); <-done }()
	activate := r.clk.Now().Add(6 * time.Hour).Truncate(time.Hour)
	cal := `{"name":"FLAT3","seasons":[{"name":"all","start":"01-01","week":"w"}],"weeks":[{"name":"w","days":[1,1,1,1,1,1,1]}],` +
		`"days":[{"id":1,"actions":[{"start":"00:00","rate":3}]}]}`
	c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: headend.MeterID(r.rows[0]), Type: cim.ControlSetCalendar,
		Parameters: map[string]string{"calendar": cal, "activate": activate.Format(time.RFC3339)}})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
	m, _ := r.fleet.Meter(0)
	lk := r.fleet.Lock(0)
	lk.Lock()
	a0, a1, a2 := m.RegistersAt(activate.Add(-3*time.Hour)), m.RegistersAt(activate), m.RegistersAt(activate.Add(5*time.Hour))
	lk.Unlock()
	if a2.Import == a1.Import {
		t.Fatal("no consumption after activation")
	}
	if a2.ImportRate[2]-a1.ImportRate[2] != a2.Import-a1.Import {
		t.Errorf("after activation rate 3 moved %d Wh of %d", a2.ImportRate[2]-a1.ImportRate[2], a2.Import-a1.Import)
	}
	if a1.ImportRate[2]-a0.ImportRate[2] == a1.Import-a0.Import && a1.Import != a0.Import {
		t.Error("the new calendar already ruled before its activation time")
	}
	sum := int64(0)
	for _, v := range a2.ImportRate {
		sum += v
	}
	if sum != a2.Import {
		t.Errorf("rates sum to %d, total %d", sum, a2.Import)
	}
}

// TestPushFloodCostsOnlyTheFlooder: a meter that pushes far too often
// loses its own excess; another meter's push still gets through.
func TestPushFloodCostsOnlyTheFlooder(t *testing.T) {
	r := newFleetRig(t, 3, meter.Faults{}, headend.CollectionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	pl := r.h.NewPushListener(dlmsdriver.New(dlmsdriver.Config{}), headend.PushConfig{PerMeterBurst: 5, PerMeterEvery: time.Hour, MaxPerConn: 1000})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() { defer wg.Done(); pl.Serve(ctx, ln) }()
	push := func(row int, ic uint32, conn *wrapper.Conn) error {
		rw := r.rows[row]
		ek, _ := security.NewKey(rowField(rw, "ek"))
		ak, _ := security.NewKey(rowField(rw, "ak"))
		n := &apdu.DataNotification{Body: sim.PushBody(sim.PushSetupLN, rw.Serial, 44, r.clk.Now())}
		plain, _ := n.Append(nil)
		b, err := security.WrapGeneral(nil, security.Global, security.NewSecurityControl(0, security.AuthenticatedEncryption),
			security.Keys{Unicast: ek, Authentication: ak}, rowField(rw, "system_title"), ic, plain)
		if err != nil {
			t.Fatal(err)
		}
		return conn.Send(ctx, b)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	flood := wrapper.NewConn(c, 1, 1)
	sent := 0
	for ic := uint32(1); ic <= 50; ic++ {
		if push(0, ic, flood) != nil {
			break // the listener hung up on the flooder
		}
		sent++
	}
	flood.Close()
	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	other := wrapper.NewConn(c2, 1, 1)
	if err := push(1, 1, other); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		flooder, bystander := 0, 0
		for _, e := range busEvents(t, r.bus) {
			switch e.MeterID {
			case headend.MeterID(r.rows[0]):
				flooder++
			case headend.MeterID(r.rows[1]):
				bystander++
			}
		}
		if flooder > 5 {
			t.Fatalf("flooding meter got %d of %d pushes through, want its burst of 5", flooder, sent)
		}
		if bystander == 1 && flooder == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other meter's push did not arrive (flooder %d)", flooder)
		}
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}
