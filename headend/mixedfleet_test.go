package headend_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/headend/osgpdriver"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// mixedShares are the mixed fleet's protocols: DLMS for the rest.
var mixedShares = map[string]float64{sim.ProtocolC1218: 0.2, sim.ProtocolC1222: 0.2, sim.ProtocolOSGP: 0.2}

// newMixedRig is newFleetRigWith for a fleet of every protocol the
// head-end speaks: the DLMS meters and those of each other protocol on
// their own listener, and a head-end with every driver.
func newMixedRig(t testing.TB, n int, faults meter.Faults, cfg headend.CollectionConfig) *fleetRig {
	t.Helper()
	r := &fleetRig{clk: &simClock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}}
	ctx, cancel := context.WithCancel(context.Background())
	var lns [4]net.Listener
	for k := range lns {
		ln, err := sim.ListenLoopback(ctx, 0)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		lns[k] = ln
	}
	port := func(k int) uint16 { return uint16(lns[k].Addr().(*net.TCPAddr).Port) }
	model := meter.NewFleet(3, ams, r.clk.Now())
	model.HistoryDays = 5
	model.Install = r.clk.Now().AddDate(0, 0, -5)
	model.Faults = faults
	var err error
	r.fleet, err = sim.NewFleet(sim.Config{Meters: n, Seed: 3, Now: r.clk.Now, Model: model,
		Port: port(0), C1218Port: port(1), C1222Port: port(2), OSGPPort: port(3),
		C1218: mixedShares[sim.ProtocolC1218], C1222: mixedShares[sim.ProtocolC1222], OSGP: mixedShares[sim.ProtocolOSGP], OSGPLegacy: 0.5})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	for i := range n {
		row, err := r.fleet.Row(i)
		if err != nil {
			t.Fatal(err)
		}
		r.rows = append(r.rows, row)
	}
	r.st, _ = storetest.OpenSQLite(t)
	if r.bus, err = bus.Open(ctx, bus.Options{Dir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	r.keys = vault.NewKeyring(v)
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: r.keys, Now: r.clk.Now,
		Drivers: mixedDrivers(), Collection: cfg, Safeguards: noSafeguards})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: r.st, Bus: r.bus, Batch: 256, Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	serve := []func(context.Context, net.Listener) error{r.fleet.Serve, r.fleet.ServeC1218, r.fleet.ServeC1222, r.fleet.ServeOSGP}
	for k, fn := range serve {
		wg.Add(1)
		go func() { defer wg.Done(); fn(ctx, lns[k]) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); in.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			r.bus.Close(context.Background())
		})
	}
	t.Cleanup(r.stop)
	return r
}

// mixedDrivers are the head-end's drivers of the mixed fleet.
func mixedDrivers() []headend.Driver {
	return []headend.Driver{dlmsdriver.New(dlmsdriver.Config{}), c12driver.NewC1218(c12driver.Config{}),
		c12driver.NewC1222(c12driver.Config{}), osgpdriver.New(osgpdriver.Config{})}
}

// TestFleetMixedProtocols is the acceptance run of a fleet of every
// protocol: 10,000 meters (400 under the race detector or -short), DLMS, C12.18,
// C12.22 and OSGP, with 2% offline and 1% intermittently failing, are
// collected by one head-end; the complete profile of at least 99.5% of
// each protocol's reachable meters lands in the store, and every stored
// day checked adds up exactly to what the model's A+ register moved.
func TestFleetMixedProtocols(t *testing.T) {
	n := mixedFleetSize
	if testing.Short() {
		n = 400
	}
	faults := meter.Faults{Offline: 0.02, Intermittent: 0.01, ReachableP: 0.5}
	r := newMixedRig(t, n, faults, headend.CollectionConfig{Concurrency: 64, PerSegment: 32, Attempts: 2,
		JobTimeout: 30 * time.Second, BackfillDays: 2, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond})
	ctx := context.Background()
	protoOf := make([]string, n)
	perProto := map[string]int{}
	for i := range n {
		protoOf[i] = r.fleet.Protocol(i)
		perProto[protoOf[i]]++
	}
	protocols := []string{sim.ProtocolDLMS, sim.ProtocolC1218, sim.ProtocolC1222, sim.ProtocolOSGP}
	for _, p := range protocols {
		if perProto[p] < n/10 {
			t.Fatalf("only %d %s meters of %d", perProto[p], p, n)
		}
	}
	rep, err := headend.Import(ctx, r.st, r.keys, r.h.Drivers(), r.rows)
	if err != nil || rep.Created != n {
		t.Fatalf("import: %+v %v", rep, err)
	}

	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	reachable := map[int]bool{}
	for i := range n {
		m, _ := r.fleet.Meter(i)
		if m.Reachable(r.clk.Now()) {
			reachable[i] = true
		}
	}
	t0 := time.Now()
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	p := r.h.Progress()
	t.Logf("%d meters (%d reachable) in %v: %.0f meters/s, %.0f readings/s", n, len(reachable),
		took.Round(time.Millisecond), float64(p.Done)/took.Seconds(), float64(p.Readings)/took.Seconds())
	results := r.results(t, day)
	if len(results) != n {
		t.Fatalf("%d results for %d meters", len(results), n)
	}
	complete, reach := map[string]int{}, map[string]int{}
	var missed []int
	for i := range n {
		if !reachable[i] {
			missed = append(missed, i)
			continue
		}
		res := results[headend.MeterID(r.rows[i])]
		reach[protoOf[i]]++
		if res.Complete {
			complete[protoOf[i]]++
		} else {
			t.Logf("%s meter %d reachable but not complete: %s after %d attempts: %s", protoOf[i], i, res.Outcome, res.Attempts, res.Error)
		}
	}
	for _, p := range protocols {
		t.Logf("%-6s %5d meters, %5d reachable, %5d complete", p, perProto[p], reach[p], complete[p])
		if allowed := (reach[p]*5 + 999) / 1000; reach[p]-complete[p] > allowed {
			t.Errorf("%s: complete profile for %d of %d reachable meters, want 99.5%%", p, complete[p], reach[p])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	r.settle(t)

	// Every collected meter's day is in the store, whole and once, and
	// its intervals add up to what the model's A+ register moved; its
	// clock is kept as its offset from the head-end's.
	checked := map[string]int{}
	for i := range n {
		id := headend.MeterID(r.rows[i])
		if !results[id].Complete {
			continue
		}
		checkMixedDay(t, r, i, id, protoOf[i], day)
		checked[protoOf[i]]++
	}
	for _, p := range protocols {
		if checked[p] != complete[p] {
			t.Errorf("%s: %d meters' days checked of %d complete", p, checked[p], complete[p])
		}
	}
	t.Logf("stored days checked against the meters: %v", checked)

	// The next day: intermittent meters that were out are back, and are
	// caught up from their own tables, both days.
	r.clk.Set(time.Date(2026, 4, 1, 2, 0, 0, 0, ams))
	var back []int
	for _, i := range missed {
		m, _ := r.fleet.Meter(i)
		if m.Reachable(r.clk.Now()) {
			back = append(back, i)
		}
	}
	if err := r.h.CollectDay(ctx, day.AddDays(1), store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	r.settle(t)
	second := r.results(t, day.AddDays(1))
	for _, i := range back {
		id := headend.MeterID(r.rows[i])
		if res := second[id]; !res.Complete {
			t.Errorf("%s meter %d back online but not collected: %+v", protoOf[i], i, res)
			continue
		}
		checkMixedDay(t, r, i, id, protoOf[i], day)
		checkMixedDay(t, r, i, id, protoOf[i], day.AddDays(1))
	}
	t.Logf("%d meters were out on the first run and back on the second; all caught up", len(back))
}

// checkMixedDay checks meter i's stored day d against the model.
func checkMixedDay(t *testing.T, r *fleetRig, i int, id, proto string, d cim.Date) {
	t.Helper()
	ctx := context.Background()
	got, err := r.st.DayVersions(ctx, id, "A+15m", d)
	if err != nil || len(got) != 1 {
		t.Fatalf("%s meter %s day %s: %d versions, %v", proto, id, d, len(got), err)
	}
	if len(got[0].Values) != 96 {
		t.Fatalf("%s meter %s day %s: %d intervals, want 96", proto, id, d, len(got[0].Values))
	}
	m, _ := r.fleet.Meter(i)
	lk := r.fleet.Lock(i)
	lk.Lock()
	want := m.RegistersAt(d.AddDays(1).Start(ams)).Import - m.RegistersAt(d.Start(ams)).Import
	lk.Unlock()
	var sum int64
	for j, v := range got[0].Values {
		if got[0].Quality[j]&cim.QualityMissing != 0 {
			t.Fatalf("%s meter %s day %s: interval %d missing", proto, id, d, j)
		}
		sum += v
	}
	if sum != want {
		t.Fatalf("%s meter %s day %s: stored %d Wh, the register moved %d Wh", proto, id, d, sum, want)
	}
	if clk, err := r.st.RegisterReads(ctx, id, headend.ClockOffset, d.Start(ams), d.AddDays(3).Start(ams)); err != nil || len(clk) == 0 {
		t.Fatalf("%s meter %s: %d clock reads, %v", proto, id, len(clk), err)
	}
	// The A+ register as read, at the meter's time of the read.
	reads, err := r.st.RegisterReads(ctx, id, "A+", d.Start(ams), d.AddDays(3).Start(ams))
	if err != nil || len(reads) == 0 {
		t.Fatalf("%s meter %s: %d A+ reads from %s, %v", proto, id, len(reads), d, err)
	}
	for _, rd := range reads {
		lk.Lock()
		want := m.RegistersAt(rd.TimeStamp).Import
		lk.Unlock()
		if rd.Value != want {
			t.Fatalf("%s meter %s: A+ at %v is %d, the model's %d", proto, id, rd.TimeStamp, rd.Value, want)
		}
	}
}

// TestMixedCommands: a disconnect and a reconnect issued through the
// head-end reach a C12.18 and a C12.22 meter of a mixed fleet by their
// drivers' procedures, and move the model's relay.
func TestMixedCommands(t *testing.T) {
	r := newMixedRig(t, 60, meter.Faults{}, headend.CollectionConfig{Attempts: 2, JobTimeout: 30 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, r.h.Drivers(), r.rows); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.h.RunCommands(ctx)
	}()
	defer func() { cancel(); <-done }()
	for _, proto := range []string{sim.ProtocolC1218, sim.ProtocolC1222} {
		i := -1
		for k := range r.rows {
			if r.fleet.Protocol(k) == proto {
				i = k
				break
			}
		}
		if i < 0 {
			t.Fatalf("no %s meter", proto)
		}
		m, _ := r.fleet.Meter(i)
		relay := func() meter.ControlState {
			lk := r.fleet.Lock(i)
			lk.Lock()
			defer lk.Unlock()
			st, _ := m.Relay()
			return st
		}
		id := headend.MeterID(r.rows[i])
		// A reconnect closes the relay or, where the meter's control mode
		// wants the customer to, arms it.
		for _, step := range []struct {
			typ  cim.EndDeviceControlType
			want []meter.ControlState
		}{{cim.ControlDisconnect, []meter.ControlState{meter.Disconnected}},
			{cim.ControlReconnect, []meter.ControlState{meter.Connected, meter.ReadyForReconnection}}} {
			c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: id, Type: step.typ, IssuedBy: "olga", ApprovedBy: "sam"})
			if err != nil {
				t.Fatal(err)
			}
			got := waitStatus(t, r.st, c.MRID, cim.ControlConfirmed)
			if st := relay(); !slices.Contains(step.want, st) {
				t.Fatalf("%s meter %s after %s (%q): relay %v, want %v", proto, id, step.typ, got.Reason, st, step.want)
			}
		}
	}
}
