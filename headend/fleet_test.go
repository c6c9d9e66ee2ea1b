package headend_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
	"github.com/prometheus/client_golang/prometheus"
)

var ams = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

// simClock is a settable simulated time shared by the fleet and the
// head-end.
type simClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *simClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *simClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fleetRig is a simulated fleet on loopback, a head-end with the DLMS
// driver, and the MDM ingest, over one SQLite store and an embedded bus.
type fleetRig struct {
	clk   *simClock
	fleet *sim.Fleet
	rows  []manifest.Row
	st    store.Store
	bus   *bus.Bus
	keys  *vault.Keyring
	h     *headend.HeadEnd
	stop  func()
}

func newFleetRig(t testing.TB, n int, faults meter.Faults, cfg headend.CollectionConfig) *fleetRig {
	return newFleetRigIngest(t, n, faults, cfg, true)
}

func newFleetRigIngest(t testing.TB, n int, faults meter.Faults, cfg headend.CollectionConfig, ingest bool) *fleetRig {
	t.Helper()
	return newFleetRigWith(t, n, faults, cfg, rigOptions{noIngest: !ingest})
}

// rigOptions are a rig's settings beyond its fleet's size and faults.
type rigOptions struct {
	noIngest bool
	models   []sim.ModelShare                    // nil: every meter IDIS-like
	faultsOf func(int) sim.Fault                 // firmware faults by meter
	driver   func(headend.Driver) headend.Driver // wraps the DLMS driver
	drivers  []headend.Driver                    // beside the DLMS driver
	logger   *slog.Logger
	metrics  prometheus.Registerer
	// gas and water are the fractions of meters with a gas or water
	// meter on their M-Bus.
	gas, water float64
}

func newFleetRigWith(t testing.TB, n int, faults meter.Faults, cfg headend.CollectionConfig, o rigOptions) *fleetRig {
	t.Helper()
	r := &fleetRig{clk: &simClock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(3, ams, r.clk.Now())
	model.HistoryDays = 5
	model.Install = r.clk.Now().AddDate(0, 0, -5)
	model.Faults = faults
	r.fleet, err = sim.NewFleet(sim.Config{Meters: n, Seed: 3, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: r.clk.Now,
		Model: model, Links: len(faults.Links) > 0, Models: o.models, FaultsOf: o.faultsOf, Gas: o.gas, Water: o.water})
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
	var drv headend.Driver = dlmsdriver.New(dlmsdriver.Config{})
	if o.driver != nil {
		drv = o.driver(drv)
	}
	r.h, err = headend.New(headend.Options{Store: r.st, Bus: r.bus, Secrets: r.keys, Now: r.clk.Now,
		Drivers: append([]headend.Driver{drv}, o.drivers...), Collection: cfg, Logger: o.logger, Metrics: o.metrics, Safeguards: noSafeguards})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: r.st, Bus: r.bus, Batch: 256, Now: r.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.fleet.Serve(ctx, ln) }()
	if !o.noIngest {
		wg.Add(1)
		go func() { defer wg.Done(); in.Run(ctx) }()
	}
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

// results returns one run day's results by meter.
func (r *fleetRig) results(t *testing.T, day cim.Date) map[string]store.CollectionResult {
	t.Helper()
	out := map[string]store.CollectionResult{}
	for after := ""; ; {
		rs, err := r.st.CollectionResults(context.Background(), day, "", "", after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range rs {
			out[x.MeterID] = x
		}
		if len(rs) < 1000 {
			return out
		}
		after = rs[len(rs)-1].MeterID
	}
}

// settle waits until the ingest has acknowledged everything on the bus.
func (r *fleetRig) settle(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for _, kind := range []string{bus.Readings, bus.Events} {
			info, err := r.bus.ConsumerStatus(ctx, kind, "mdm-ingest")
			if errors.Is(err, bus.ErrNoConsumer) {
				done = false
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Pending > 0 || info.AckPending > 0 {
				done = false
			}
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("ingest did not catch up")
		}
		<-tick.C
	}
}

// fleetMix is the acceptance fleet's object models: mostly the IDIS-like
// meter, with hundreds of DSMR 5-like and third-party-like meters among
// them, drawn per meter from the seed.
var fleetMix = []sim.ModelShare{{Model: sim.ModelIDIS, Weight: 60}, {Model: sim.ModelDSMR5, Weight: 20},
	{Model: sim.ModelThirdParty, Weight: 20}}

// The third-party model's load profile channels: the average L1 import
// power, which the OBIS table does not know, and the L1 voltage, both in
// hundredths (scaler -2).
const (
	tpPowerChannel   = "obis:1.1.21.25.0.255/15me-2"
	tpVoltageChannel = "L1V15me-2"
)

// TestFleetDailyCollection is the head-end's acceptance run: a fleet of
// the three object models (fleetMix), with 2% offline, 5% on slow links,
// 1% intermittently failing meters and 0.2% whose firmware spoils or
// truncates frames, is collected; the complete profile of at least 99.5%
// of each model's reachable meters lands in the store exactly once, and
// the meters that were out are caught up from their own buffers on the
// next run.
func TestFleetDailyCollection(t *testing.T) {
	n := fleetSize
	slow := meter.LinkClass{Name: "slow", Latency: 15 * time.Millisecond, BytesPerSecond: 20_000}
	faults := meter.Faults{Offline: 0.02, Intermittent: 0.01, ReachableP: 0.5, Garbage: 0.002, GarbageP: 0.2,
		Links: []meter.LinkShare{{Class: slow, Weight: 5}, {Class: meter.LinkClass{Name: "lan"}, Weight: 95}}}
	timed := &timedDriver{byMeter: map[string]sim.Model{}}
	r := newFleetRigWith(t, n, faults, headend.CollectionConfig{Concurrency: 64, PerSegment: 32, Attempts: 2,
		JobTimeout: 30 * time.Second, BackfillDays: 2, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		rigOptions{models: fleetMix, driver: func(d headend.Driver) headend.Driver { timed.Driver = d; return timed }})
	ctx := context.Background()
	modelOf := make([]sim.Model, n)
	perModel := map[sim.Model]int{}
	for i := range n {
		modelOf[i] = r.fleet.ModelOf(i)
		perModel[modelOf[i]]++
		timed.byMeter[headend.MeterID(r.rows[i])] = modelOf[i]
	}
	models := []sim.Model{sim.ModelIDIS, sim.ModelDSMR5, sim.ModelThirdParty}
	for _, m := range models {
		if perModel[m] < n/20 {
			t.Fatalf("only %d %s meters of %d", perModel[m], m, n)
		}
	}

	rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows)
	if err != nil || rep.Created != n {
		t.Fatalf("import: %+v %v", rep, err)
	}
	if rep, err = headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil || rep.Unchanged != n {
		t.Fatalf("second import: %+v %v", rep, err)
	}

	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	reachable := map[int]bool{}
	slowCount := 0
	for i := range n {
		m, _ := r.fleet.Meter(i)
		if m.Reachable(r.clk.Now()) {
			reachable[i] = true
		}
		if m.Faults().Link.Name == "slow" {
			slowCount++
		}
	}
	t0 := time.Now()
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	p := r.h.Progress()
	t.Logf("%d meters (%d reachable, %d on slow links) in %v: %.0f meters/s, %.0f readings/s", n, len(reachable), slowCount,
		took.Round(time.Millisecond), float64(p.Done)/took.Seconds(), float64(p.Readings)/took.Seconds())
	if slowCount < n*3/100 {
		t.Fatalf("only %d meters on slow links", slowCount)
	}
	results := r.results(t, day)
	if len(results) != n {
		t.Fatalf("%d results for %d meters", len(results), n)
	}
	complete := map[sim.Model]int{}
	reach := map[sim.Model]int{}
	var missed []int
	for i := range n {
		res := results[headend.MeterID(r.rows[i])]
		if reachable[i] {
			reach[modelOf[i]]++
			if res.Complete {
				complete[modelOf[i]]++
			} else {
				m, _ := r.fleet.Meter(i)
				t.Logf("%s meter %d (faults %+v) reachable but not complete: %s after %d attempts: %s",
					modelOf[i], i, m.Faults(), res.Outcome, res.Attempts, res.Error)
			}
		} else {
			missed = append(missed, i)
		}
	}
	// Each model's share of the run's wall time is its share of the
	// session time: its meters per second were the fleet all of it.
	var sessTotal time.Duration
	for _, m := range models {
		sessTotal += timed.total[m]
	}
	for _, m := range models {
		wall := took.Seconds() * timed.total[m].Seconds() / sessTotal.Seconds()
		t.Logf("%-10s %5d meters, %5d reachable, %5d complete; %5d sessions of %5.1f ms on average; %.0f meters/s",
			m, perModel[m], reach[m], complete[m], timed.sessions[m],
			float64(timed.total[m].Milliseconds())/float64(max(timed.sessions[m], 1)), float64(perModel[m])/wall)
		// 0.5% of a model's meters may be left, rounded up: a model of a
		// few hundred meters may lose one to the spoilt frames above.
		if allowed := (reach[m]*5 + 999) / 1000; reach[m]-complete[m] > allowed {
			t.Errorf("%s: complete profile for %d of %d reachable meters, want 99.5%%", m, complete[m], reach[m])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	r.settle(t)

	// Every collected meter's run day is in the store, whole and once:
	// the intervals of an IDIS-like or DSMR 5-like meter add up to what
	// its A+ register (the sum of the DSMR 5 rate registers) moved.
	checkAPlus := func(i int, d cim.Date) {
		t.Helper()
		id := headend.MeterID(r.rows[i])
		got, err := r.st.DayVersions(ctx, id, "A+15m", d)
		if err != nil || len(got) != 1 {
			t.Fatalf("%s meter %s day %s: %d versions, %v", modelOf[i], id, d, len(got), err)
		}
		m, _ := r.fleet.Meter(i)
		lk := r.fleet.Lock(i)
		lk.Lock()
		want := m.RegistersAt(d.AddDays(1).Start(ams)).Import - m.RegistersAt(d.Start(ams)).Import
		lk.Unlock()
		var sum int64
		for j, v := range got[0].Values {
			if got[0].Quality[j]&cim.QualityMissing != 0 {
				t.Fatalf("%s meter %s day %s: interval %d missing", modelOf[i], id, d, j)
			}
			sum += v
		}
		if sum != want {
			t.Fatalf("%s meter %s day %s: stored %d Wh, the register moved %d Wh", modelOf[i], id, d, sum, want)
		}
		if modelOf[i] != sim.ModelDSMR5 {
			return
		}
		// DSMR 5's daily profile is kept as the rate registers at
		// midnight, not as day-long intervals.
		daily, err := r.st.RegisterReads(ctx, id, "A+T1/daily", d.AddDays(1).Start(ams), d.AddDays(2).Start(ams))
		if err != nil || len(daily) != 1 || !daily[0].TimeStamp.Equal(d.AddDays(1).Start(ams)) {
			t.Fatalf("dsmr5 meter %s: A+T1/daily at the end of %s: %+v %v", id, d, daily, err)
		}
	}
	// A third-party meter has no A+ column: each of its profile channels
	// is stored whole, its average power (hundredths of a watt) adds up
	// to what its A+ register moved, and its A+ register is stored as the
	// meter keeps it, in hundredths of a watt-hour.
	checkThirdParty := func(i int, d cim.Date) {
		t.Helper()
		id := headend.MeterID(r.rows[i])
		m, _ := r.fleet.Meter(i)
		lk := r.fleet.Lock(i)
		for _, ch := range []string{tpPowerChannel, tpVoltageChannel} {
			got, err := r.st.DayVersions(ctx, id, ch, d)
			if err != nil || len(got) != 1 {
				t.Fatalf("thirdparty meter %s day %s %s: %d versions, %v", id, d, ch, len(got), err)
			}
			if len(got[0].Values) != 96 {
				t.Fatalf("thirdparty meter %s day %s %s: %d intervals, want 96", id, d, ch, len(got[0].Values))
			}
			var sum int64
			for j, v := range got[0].Values {
				if got[0].Quality[j]&cim.QualityMissing != 0 {
					t.Fatalf("thirdparty meter %s day %s %s: interval %d missing", id, d, ch, j)
				}
				sum += v
			}
			if ch != tpPowerChannel {
				continue
			}
			lk.Lock()
			moved := m.RegistersAt(d.AddDays(1).Start(ams)).Import - m.RegistersAt(d.Start(ams)).Import
			lk.Unlock()
			// A quarter hour's Wh is four times its mean power in W.
			if sum != moved*100*4 {
				t.Fatalf("thirdparty meter %s day %s: mean power adds up to %d cW·15min, the register moved %d Wh", id, d, sum, moved)
			}
		}
		reads, err := r.st.RegisterReads(ctx, id, "A+e-2", d.Start(ams), d.AddDays(3).Start(ams))
		if err != nil || len(reads) == 0 {
			t.Fatalf("thirdparty meter %s: %d A+e-2 reads from %s, %v", id, len(reads), d, err)
		}
		for _, rd := range reads {
			lk.Lock()
			want := m.RegistersAt(rd.TimeStamp).Import * 100
			lk.Unlock()
			if rd.Value != want {
				t.Fatalf("thirdparty meter %s: A+e-2 at %v is %d, the meter keeps %d", id, rd.TimeStamp, rd.Value, want)
			}
		}
		if whole, _ := r.st.RegisterReads(ctx, id, "A+", d.Start(ams), d.AddDays(3).Start(ams)); len(whole) != 0 {
			t.Fatalf("thirdparty meter %s: its hundredths also stored as whole Wh: %+v", id, whole)
		}
	}
	checkDay := func(i int, d cim.Date) {
		t.Helper()
		// Every model's clock is kept, as its offset from the head-end's.
		id := headend.MeterID(r.rows[i])
		if clk, err := r.st.RegisterReads(ctx, id, headend.ClockOffset, d.Start(ams), d.AddDays(3).Start(ams)); err != nil || len(clk) == 0 {
			t.Fatalf("%s meter %s: %d clock reads, %v", modelOf[i], id, len(clk), err)
		}
		if modelOf[i] == sim.ModelThirdParty {
			checkThirdParty(i, d)
		} else {
			checkAPlus(i, d)
		}
	}
	checked := map[sim.Model]int{}
	for i := range n {
		if checked[modelOf[i]] < 100 && results[headend.MeterID(r.rows[i])].Complete {
			checkDay(i, day)
			checked[modelOf[i]]++
		}
	}
	for _, m := range models {
		if checked[m] < min(100, complete[m]) {
			t.Errorf("%s: only %d meters' days checked", m, checked[m])
		}
	}
	t.Logf("stored days checked against the meters: %d idis, %d dsmr5, %d thirdparty",
		checked[sim.ModelIDIS], checked[sim.ModelDSMR5], checked[sim.ModelThirdParty])

	// The next day: intermittent meters that were out are back, and are
	// caught up from their buffers — both days.
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
		if res := second[headend.MeterID(r.rows[i])]; !res.Complete {
			t.Errorf("%s meter %d back online but not collected: %+v", modelOf[i], i, res)
			continue
		}
		checkDay(i, day)
		checkDay(i, day.AddDays(1))
	}
	t.Logf("%d meters were out on the first run and back on the second; all caught up", len(back))
	if len(back) == 0 && len(missed) > 0 && n >= 1000 {
		t.Log("no intermittent meter came back in this seed's hour windows")
	}
}

// timedDriver adds up the time of each model's sessions, from connect
// to release.
type timedDriver struct {
	headend.Driver
	byMeter  map[string]sim.Model // written before the run, read only during it
	mu       sync.Mutex
	total    map[sim.Model]time.Duration
	sessions map[sim.Model]int
}

func (d *timedDriver) add(meterID string, took time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.total == nil {
		d.total, d.sessions = map[sim.Model]time.Duration{}, map[sim.Model]int{}
	}
	m := d.byMeter[meterID]
	d.total[m] += took
	d.sessions[m]++
}

func (d *timedDriver) Open(ctx context.Context, t headend.Target) (headend.Session, error) {
	t0 := time.Now()
	s, err := d.Driver.Open(ctx, t)
	if err != nil {
		d.add(t.Meter.MRID, time.Since(t0))
		return nil, err
	}
	return &timedSession{Session: s, d: d, meter: t.Meter.MRID, t0: t0}, nil
}

type timedSession struct {
	headend.Session
	d     *timedDriver
	meter string
	t0    time.Time
}

func (s *timedSession) Close(ctx context.Context) error {
	err := s.Session.Close(ctx)
	s.d.add(s.meter, time.Since(s.t0))
	return err
}

// TestIntradayCollection: with Intraday set, the schedule collects
// yesterday once and then today's quarter hours so far, again as the
// clock moves on, each run reaching further into the day.
func TestIntradayCollection(t *testing.T) {
	r := newFleetRig(t, 10, meter.Faults{}, headend.CollectionConfig{Concurrency: 8, PerSegment: 8, Attempts: 1,
		JobTimeout: 30 * time.Second, BackfillDays: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- r.h.Run(ctx, headend.ScheduleConfig{Zone: ams, At: time.Hour, Intraday: 15 * time.Minute})
	}()
	today := cim.DateOf(r.clk.Now(), ams)
	stored := func() int {
		d, err := r.st.Day(ctx, r.rows[0].Serial, "A+15m", today)
		if err != nil {
			return 0
		}
		n := 0
		for _, q := range d.Quality {
			if q&cim.QualityMissing == 0 {
				n++
			}
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// 02:00: yesterday is collected, then today's first two hours.
	waitFor("today's first quarter hours", func() bool { return stored() >= 8 })
	first := stored()
	r.clk.Set(r.clk.Now().Add(time.Hour))
	waitFor("an hour more of today", func() bool { return stored() >= first+4 })
	if res, err := r.st.CollectionResults(ctx, today.AddDays(-1), "", "", "", 100); err != nil || len(res) != 10 {
		t.Fatalf("yesterday's run: %d results, %v", len(res), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
