package dlmsdriver_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// startModels serves n meters of one object model, meter i with faults(i).
func startModels(t testing.TB, n int, model sim.Model, faults func(int) sim.Fault, clk *clock) *sim.Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	m := meter.NewFleet(11, ams, clk.Now())
	m.HistoryDays = 10
	m.Install = clk.Now().AddDate(0, 0, -10)
	m.Faults = meter.Faults{}
	if faults == nil {
		faults = func(int) sim.Fault { return 0 }
	}
	f, err := sim.NewFleet(sim.Config{Meters: n, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: m,
		Models: []sim.ModelShare{{Model: model, Weight: 1}}, FaultsOf: faults, RebootTime: 20 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

// modelTarget is meter i as the registry knows it, with its make and
// model, and its object models kept in st.
func modelTarget(t testing.TB, f *sim.Fleet, i int, clk *clock, st store.ObjectModels) headend.Target {
	tg := target(t, f, i, clk)
	r, _ := f.Row(i)
	tg.Meter.Manufacturer, tg.Meter.Model = r.Manufacturer, r.Model
	tg.Models = st
	return tg
}

// collectRetrying runs a collection as the head-end's job does: a failed
// attempt is tried again (up to three times) with a new association.
func (c *collector) collectRetrying(p headend.Plan) (headend.Collection, []error) {
	c.t.Helper()
	var errs []error
	for range 4 {
		if len(errs) > 0 && c.between != nil {
			c.between()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		s, err := c.d.Open(ctx, c.tg)
		if err == nil {
			p.Since = c.cursors
			var col headend.Collection
			col, err = s.Collect(ctx, p)
			s.Close(ctx)
			if err == nil {
				cancel()
				c.keep(col)
				return col, errs
			}
		}
		cancel()
		errs = append(errs, err)
	}
	c.t.Fatalf("meter %s: no collection in four attempts: %v", c.tg.Meter.MRID, errs)
	return headend.Collection{}, errs
}

func (c *collector) keep(col headend.Collection) {
	for _, b := range col.Blocks {
		id := b.ReadingType.ID
		if c.ends[id] == nil {
			c.ends[id] = map[time.Time]bool{}
		}
		for _, r := range b.Readings {
			if c.ends[id][r.End] {
				c.t.Errorf("%s: interval ending %s read twice", id, r.End)
			}
			c.ends[id][r.End] = true
			c.sums[id] += r.Value
		}
	}
	for _, r := range col.Registers {
		c.regs[r.ReadingType] = r.Value
	}
	next := map[string]time.Time{}
	for k, v := range c.cursors {
		next[k] = v
	}
	for name, at := range col.Cursors {
		next[name] = at
	}
	c.cursors = next
}

// waitUp waits until the meter associates again, as after a reboot.
func waitUp(t testing.TB, tg headend.Target) {
	t.Helper()
	d := dlmsdriver.New(dlmsdriver.Config{})
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s, err := d.Open(ctx, tg)
		if err == nil {
			s.Close(ctx)
			cancel()
			return
		}
		cancel()
		if time.Now().After(deadline) {
			t.Fatalf("meter %s did not come back: %v", tg.Meter.MRID, err)
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
}

func templateOf(t testing.TB, st store.ObjectModels, meter cim.Meter) dlmsdriver.Model {
	t.Helper()
	m, err := dlmsdriver.TemplateOf(context.Background(), st, meter)
	if err != nil || m == nil {
		t.Fatalf("meter %s: template %v, %v", meter.MRID, m, err)
	}
	return *m
}

// TestDlmsModelsCollectCompletely reads a meter of each simulated object
// model three times and checks that every quarter hour (or hour) of every
// channel since the backfill arrives exactly once.
func TestDlmsModelsCollectCompletely(t *testing.T) {
	for _, model := range []sim.Model{sim.ModelIDIS, sim.ModelDSMR5, sim.ModelThirdParty} {
		t.Run(model.String(), func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 6, 15, 10, 0, 0, 0, ams)}
			f := startModels(t, 2, model, nil, clk)
			st, _ := storetest.OpenSQLite(t)
			om := st.(store.ObjectModels)
			d := dlmsdriver.New(dlmsdriver.Config{})
			backfill := time.Date(2026, 6, 14, 0, 0, 0, 0, ams)
			plan := headend.Plan{Backfill: backfill, Until: time.Date(2026, 6, 15, 0, 0, 0, 0, ams)}
			c := newCollector(t, d, modelTarget(t, f, 0, clk, om))
			col, _ := c.collectRetrying(plan)
			if len(col.Blocks) == 0 || len(col.Registers) == 0 || !col.Complete {
				t.Fatalf("%d blocks, %d registers, complete %v; problems %+v", len(col.Blocks), len(col.Registers), col.Complete, col.Problems)
			}
			t.Logf("problems %+v", col.Problems)
			for range 2 {
				clk.Add(2 * time.Hour)
				c.collectRetrying(plan)
			}
			for id, ends := range c.ends {
				per := 15 * time.Minute
				if strings.Contains(id, "60m") || strings.Contains(id, "1440m") {
					continue // counted by their own grid below
				}
				if want := int(clk.Now().Sub(backfill) / per); len(ends) != want && strings.HasSuffix(strings.TrimSuffix(id, "e-2"), "15m") {
					t.Errorf("%s: %d intervals over three collections, want %d", id, len(ends), want)
				}
			}
			if model != sim.ModelThirdParty {
				if want := int(clk.Now().Sub(backfill) / (15 * time.Minute)); len(c.ends["A+15m"]) != want {
					t.Errorf("A+15m: %d intervals, want %d (channels %v)", len(c.ends["A+15m"]), want, keys(c.ends))
				}
			}
			// A second meter of the model follows the template.
			newCollector(t, d, modelTarget(t, f, 1, clk, om)).collectRetrying(plan)
			if d.Discoveries() != 1 {
				t.Errorf("%d discoveries for two meters of one model", d.Discoveries())
			}
			if model == sim.ModelThirdParty {
				m := templateOf(t, om, c.tg.Meter)
				if m.Quirks.Lists == "ok" {
					t.Errorf("lists marked ok on a meter without them: %+v", m.Quirks)
				}
				var scaled bool
				for id := range c.regs {
					if strings.HasSuffix(id, "e-2") {
						scaled = true
					}
				}
				if !scaled {
					t.Errorf("no register kept at its scaler -2: %v", c.regs)
				}
			}
		})
	}
}

// TestDlmsFaults collects an IDIS meter with each firmware fault three
// times: what it stores is complete and unique, the fault is remembered in
// the template, and a request that crashed the meter is never sent again.
func TestDlmsFaults(t *testing.T) {
	for _, fault := range []sim.Fault{sim.FaultListDrop, sim.FaultCounterAhead, sim.FaultListAbsent, sim.FaultRangeRefused,
		sim.FaultListClock, sim.FaultReadAheadCrash} {
		t.Run(fault.String(), func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 6, 15, 10, 0, 0, 0, ams)}
			f := startModels(t, 1, sim.ModelIDIS, func(int) sim.Fault { return fault }, clk)
			st, _ := storetest.OpenSQLite(t)
			om := st.(store.ObjectModels)
			d := dlmsdriver.New(dlmsdriver.Config{})
			backfill := time.Date(2026, 6, 14, 0, 0, 0, 0, ams)
			plan := headend.Plan{Backfill: backfill, Until: time.Date(2026, 6, 15, 0, 0, 0, 0, ams)}
			c := newCollector(t, d, modelTarget(t, f, 0, clk, om))
			c.between = func() { waitUp(t, c.tg) } // a crashed meter reboots
			var failures [3]int
			var events []cim.EndDeviceEvent
			var problems []headend.ObjectProblem
			for i := range 3 {
				if i > 0 {
					clk.Add(2 * time.Hour)
				}
				col, errs := c.collectRetrying(plan)
				failures[i] = len(errs)
				for _, err := range errs {
					if d.Cause(err) == headend.OutcomeCounter || errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("collection %d: %v", i, err)
					}
				}
				events = append(events, col.Events...)
				problems = append(problems, col.Problems...)
			}
			mm, _ := f.Meter(0)
			f.Lock(0).Lock()
			r0, r1 := mm.RegistersAt(backfill), mm.RegistersAt(clk.Now())
			f.Lock(0).Unlock()
			want := int(clk.Now().Sub(backfill) / (15 * time.Minute))
			if n := len(c.ends["A+15m"]); n != want {
				t.Errorf("%d A+ intervals over three collections, want %d", n, want)
			}
			if c.sums["A+15m"] != r1.Import-r0.Import || c.regs["A+"] != r1.Import {
				t.Errorf("intervals sum to %d Wh, register moved %d; A+ %d, model %d", c.sums["A+15m"], r1.Import-r0.Import, c.regs["A+"], r1.Import)
			}
			if failures[1] != 0 || failures[2] != 0 {
				t.Errorf("failed attempts per collection %v: a fault learned is not met again", failures)
			}
			m := templateOf(t, om, c.tg.Meter)
			switch fault {
			case sim.FaultListDrop:
				if m.Quirks.Lists != "broken" {
					t.Errorf("quirks %+v", m.Quirks)
				}
			case sim.FaultReadAheadCrash:
				if len(m.Quirks.Crashed) == 0 || failures[0] > 1 {
					t.Errorf("quirks %+v, %d failed attempts", m.Quirks, failures[0])
				}
			case sim.FaultRangeRefused:
				if m.Quirks.Range == "" {
					t.Errorf("quirks %+v", m.Quirks)
				}
			case sim.FaultListClock:
				if !m.Quirks.WrappedClock {
					t.Errorf("quirks %+v", m.Quirks)
				}
			case sim.FaultCounterAhead:
				var resync int
				for _, e := range events {
					if e.Type == dlmsdriver.EventCounterResync && e.Details["old"] != "" && e.Details["new"] != "" {
						resync++
					}
				}
				if resync != 1 || failures[0] != 0 {
					t.Errorf("%d resynchronisation events, %d failed attempts", resync, failures[0])
				}
			}
			t.Logf("quirks %+v; failed attempts %v; problems %+v", m.Quirks, failures, problems)
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestDlmsFirmwareOffItsKindsTemplate: a meter whose firmware is not the
// one its make and model's template was learned from is discovered, gets
// a template of its own, and is read by it from then on, across a
// restart, without disturbing the others of its kind.
func TestDlmsFirmwareOffItsKindsTemplate(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 10, 0, 0, 0, ams)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	m := meter.NewFleet(11, ams, clk.Now())
	m.HistoryDays, m.Install, m.Faults = 10, clk.Now().AddDate(0, 0, -10), meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: 8, Seed: 11, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: m,
		Models: []sim.ModelShare{{Model: sim.ModelIDIS, Weight: 1}, {Model: sim.ModelDSMR5, Weight: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); f.Serve(ctx, ln) }()
	defer func() { cancel(); wg.Wait() }()
	idis, dsmr := -1, -1
	for i := range 8 {
		switch f.ModelOf(i) {
		case sim.ModelIDIS:
			idis = i
		case sim.ModelDSMR5:
			dsmr = i
		}
	}
	if idis < 0 || dsmr < 0 {
		t.Fatal("the seed gave no mix")
	}
	st, _ := storetest.OpenSQLite(t)
	om := st.(store.ObjectModels)
	plan := headend.Plan{Backfill: time.Date(2026, 6, 14, 0, 0, 0, 0, ams), Until: time.Date(2026, 6, 15, 0, 0, 0, 0, ams)}
	d := dlmsdriver.New(dlmsdriver.Config{})
	a := modelTarget(t, f, idis, clk, om)
	b := modelTarget(t, f, dsmr, clk, om)
	b.Meter.Manufacturer, b.Meter.Model = a.Meter.Manufacturer, a.Meter.Model // registered as the other kind
	newCollector(t, d, a).collect(plan)
	cb := newCollector(t, d, b)
	cb.collect(plan)
	if d.Discoveries() != 2 {
		t.Errorf("%d discoveries, want 2", d.Discoveries())
	}
	own := templateOf(t, om, b.Meter)
	if own.Firmware != sim.MakeOf(sim.ModelDSMR5).Firmware || templateOf(t, om, a.Meter).Key == own.Key {
		t.Errorf("templates: %q and %q", own.Firmware, templateOf(t, om, a.Meter).Firmware)
	}
	// After a restart, both are read by their own template, no discovery.
	d2 := dlmsdriver.New(dlmsdriver.Config{})
	cb.d = d2
	clk.Add(time.Hour)
	col := cb.collect(plan)
	newCollector(t, d2, a).collect(plan)
	if d2.Discoveries() != 0 || len(col.Blocks) == 0 || len(cb.ends["A+15m"]) != int(clk.Now().Sub(plan.Backfill)/(15*time.Minute)) {
		t.Errorf("after a restart: %d discoveries, %d blocks, %d A+15m intervals", d2.Discoveries(), len(col.Blocks), len(cb.ends["A+15m"]))
	}
}

// TestDlmsObjectDeniedFailsAlone: a register the meter lists but refuses
// (read-write-denied, inside a list and alone) is a problem of its own;
// the rest of the session is collected, and lists stay in use since the
// meter answered them consistently.
func TestDlmsObjectDeniedFailsAlone(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 10, 0, 0, 0, ams)}
	m := meter.NewFleet(11, ams, clk.Now())
	m.HistoryDays, m.Install, m.Faults = 10, clk.Now().AddDate(0, 0, -10), meter.Faults{}
	f, err := sim.NewFleet(sim.Config{Meters: 1, Seed: 11, Now: clk.Now, Model: m})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := f.NewDevice(0)
	if err != nil {
		t.Fatal(err)
	}
	denied := obis.MustParse("1.0.2.8.0.255")
	for i := range dev.Associations {
		orig := dev.Associations[i].Rights
		if orig == nil {
			orig = cosem.FullAccess
		}
		dev.Associations[i].Rights = func(o cosem.Object) (cosem.AccessRights, bool) {
			r, ok := orig(o)
			if o.LogicalName() == denied {
				r.Attributes = slices.Clone(r.Attributes)
				for k := range r.Attributes {
					if r.Attributes[k].Attribute == 2 {
						r.Attributes[k].Mode = cosem.NoAccess
					}
				}
			}
			return r, ok
		}
	}
	srv, err := server.NewServer(dev.Device)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); srv.ListenAndServeWrapper(ctx, ln) }()
	defer func() { cancel(); ln.Close(); wg.Wait() }()
	st, _ := storetest.OpenSQLite(t)
	om := st.(store.ObjectModels)
	tg := modelTarget(t, f, 0, clk, om)
	tg.Meter.Address = "tcp://" + ln.Addr().String()
	c := newCollector(t, dlmsdriver.New(dlmsdriver.Config{}), tg)
	col := c.collect(headend.Plan{Backfill: time.Date(2026, 6, 14, 0, 0, 0, 0, ams), Until: time.Date(2026, 6, 15, 0, 0, 0, 0, ams)})
	var found bool
	for _, p := range col.Problems {
		if strings.Contains(p.Object, denied.String()) && strings.Contains(p.Cause, "denied") {
			found = true
		}
	}
	if !found || len(col.Problems) != 1 {
		t.Errorf("problems %+v, want one for %s", col.Problems, denied)
	}
	if _, ok := c.regs["A-"]; ok || c.regs["A+"] == 0 || len(c.ends["A+15m"]) == 0 || len(c.ends["A-15m"]) == 0 {
		t.Errorf("registers %v, %d A+15m, %d A-15m", c.regs, len(c.ends["A+15m"]), len(c.ends["A-15m"]))
	}
	if q := templateOf(t, om, tg.Meter).Quirks; q.Lists != "ok" {
		t.Errorf("quirks %+v", q)
	}
}
