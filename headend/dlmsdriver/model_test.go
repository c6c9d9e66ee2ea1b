package dlmsdriver_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/obis"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
)

// collector runs a meter's collections as the head-end does: from the
// cursors the last one left, keeping everything each one read.
type collector struct {
	t       testing.TB
	d       *dlmsdriver.Driver
	tg      headend.Target
	cursors map[string]time.Time
	ends    map[string]map[time.Time]bool // channel → interval ends seen
	sums    map[string]int64
	regs    map[string]int64
	// between runs before an attempt that follows a failed one.
	between func()
}

func newCollector(t testing.TB, d *dlmsdriver.Driver, tg headend.Target) *collector {
	return &collector{t: t, d: d, tg: tg, cursors: map[string]time.Time{}, ends: map[string]map[time.Time]bool{},
		sums: map[string]int64{}, regs: map[string]int64{}}
}

// collect runs one collection and fails the test on a duplicate interval.
func (c *collector) collect(p headend.Plan) headend.Collection {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s := open(c.t, c.d, c.tg)
	p.Since = c.cursors
	col, err := s.Collect(ctx, p)
	s.Close(ctx)
	if err != nil {
		c.t.Fatalf("collect %s: %v", c.tg.Meter.MRID, err)
	}
	c.keep(col)
	return col
}

func TestTemplateSharedAcrossFleet(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 10, 0, 0, 0, ams)}
	f := startFleet(t, 3, meter.Faults{}, clk)
	st, _ := storetest.OpenSQLite(t)
	om := st.(store.ObjectModels)
	d := dlmsdriver.New(dlmsdriver.Config{})
	tgs := make([]headend.Target, 3)
	for i := range tgs {
		tgs[i] = target(t, f, i, clk)
		tgs[i].Meter.Manufacturer, tgs[i].Meter.Model = "AMG", "AMG-E1"
		tgs[i].Models = om
	}
	backfill := time.Date(2026, 6, 14, 0, 0, 0, 0, ams)
	until := time.Date(2026, 6, 15, 0, 0, 0, 0, ams)
	plan := headend.Plan{Backfill: backfill, Until: until}

	c0 := newCollector(t, d, tgs[0])
	col := c0.collect(plan)
	if len(col.Problems) != 0 {
		t.Errorf("problems on an IDIS meter: %+v", col.Problems)
	}
	if d.Discoveries() != 1 {
		t.Fatalf("%d discoveries for the first meter", d.Discoveries())
	}
	// The meter follows its make and model's template: no mapping of its
	// own, one pointer for the kind.
	if _, err := om.MeterTemplate(context.Background(), tgs[0].Meter.MRID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a meter on its kind's template has a mapping of its own: %v", err)
	}
	ptr, err := om.Template(context.Background(), "registry/AMG/AMG-E1")
	if err != nil {
		t.Fatal(err)
	}
	key := string(ptr)
	blob, err := om.Template(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var m dlmsdriver.Model
	if err := json.Unmarshal(blob, &m); err != nil {
		t.Fatal(err)
	}
	lp := obis.MustParse("1.0.99.1.0.255")
	var found bool
	for _, p := range m.Profiles {
		if p.LN == lp && p.Kind == "load" && p.Period == 900 && len(p.Columns) == 4 {
			found = true
		}
	}
	if !found || m.Manufacturer != "AMG" || m.Quirks.Lists != "ok" {
		t.Errorf("template %s: profiles %+v, quirks %+v", key, m.Profiles, m.Quirks)
	}
	if _, ok := m.Scalers[obis.MustParse("1.0.1.8.0.255")]; !ok {
		t.Errorf("no scaler for A+ in %v", m.Scalers)
	}
	// The quarter-hour channels are the ones the MDM knows.
	var imp cim.IntervalBlock
	for _, b := range col.Blocks {
		if b.ReadingType.ID == "A+15m" {
			imp = b
		}
	}
	if imp.ReadingType != cim.EnergyImport15m || len(imp.Readings) != 96+40 {
		t.Errorf("A+15m: %+v with %d readings", imp.ReadingType, len(imp.Readings))
	}

	// The other meters of the kind follow the template: no discovery.
	for i := 1; i < 3; i++ {
		col := newCollector(t, d, tgs[i]).collect(plan)
		if len(col.Blocks) == 0 || len(col.Registers) == 0 {
			t.Errorf("meter %d: %d blocks, %d registers", i, len(col.Blocks), len(col.Registers))
		}
		if m, err := dlmsdriver.TemplateOf(context.Background(), om, tgs[i].Meter); err != nil || m == nil || m.Key != key {
			t.Errorf("meter %d follows %v (%v), want %q", i, m, err, key)
		}
	}
	if d.Discoveries() != 1 {
		t.Errorf("%d discoveries for three meters of one kind", d.Discoveries())
	}
	// A head-end restarted (cold memory) finds the template in the store.
	d2 := dlmsdriver.New(dlmsdriver.Config{})
	newCollector(t, d2, tgs[1]).collect(plan)
	if d2.Discoveries() != 0 {
		t.Errorf("a restarted driver discovered %d times", d2.Discoveries())
	}

	// A template damaged in the store is discovered again, not a failure.
	if err := om.PutTemplate(context.Background(), key, []byte(`{"profiles":[{"kind":"nonsense"}]`)); err != nil {
		t.Fatal(err)
	}
	d3 := dlmsdriver.New(dlmsdriver.Config{})
	if col := newCollector(t, d3, tgs[2]).collect(plan); len(col.Blocks) == 0 || d3.Discoveries() != 1 {
		t.Errorf("after a damaged template: %d blocks, %d discoveries", len(col.Blocks), d3.Discoveries())
	}
	if m, err := dlmsdriver.TemplateOf(context.Background(), om, tgs[2].Meter); err != nil || m == nil || len(m.Profiles) == 0 {
		t.Errorf("the template was not written anew: %v %v", m, err)
	}

	// A second and a third collection lose nothing and duplicate nothing:
	// every quarter hour from the backfill to now, once, summing to what
	// the register moved.
	for range 2 {
		clk.Add(3 * time.Hour)
		c0.collect(plan)
	}
	mm, _ := f.Meter(0)
	f.Lock(0).Lock()
	r0, r1 := mm.RegistersAt(backfill), mm.RegistersAt(clk.Now())
	f.Lock(0).Unlock()
	want := int(clk.Now().Sub(backfill) / (15 * time.Minute))
	if n := len(c0.ends["A+15m"]); n != want {
		t.Errorf("%d A+ intervals over three collections, want %d", n, want)
	}
	if c0.sums["A+15m"] != r1.Import-r0.Import || c0.regs["A+"] != r1.Import {
		t.Errorf("intervals sum to %d Wh, register moved %d; A+ read %d, model %d", c0.sums["A+15m"], r1.Import-r0.Import, c0.regs["A+"], r1.Import)
	}
	if d.Discoveries() != 1 {
		t.Errorf("%d discoveries after repeated collections", d.Discoveries())
	}
}

// TestConfigurationChangeRelearnedInSession: a meter whose load profile
// no longer captures what its template says is discovered again within
// the session, and its entries are read and scaled by what it captures
// now: nothing waits for another day.
func TestConfigurationChangeRelearnedInSession(t *testing.T) {
	clk := &clock{t: time.Date(2026, 6, 15, 10, 0, 0, 0, ams)}
	f := startFleet(t, 1, meter.Faults{}, clk)
	st, _ := storetest.OpenSQLite(t)
	om := st.(store.ObjectModels)
	tg := target(t, f, 0, clk)
	tg.Meter.Manufacturer, tg.Meter.Model, tg.Models = "AMG", "AMG-E1", om
	plan := headend.Plan{Backfill: time.Date(2026, 6, 14, 0, 0, 0, 0, ams), Until: time.Date(2026, 6, 15, 0, 0, 0, 0, ams)}
	newCollector(t, dlmsdriver.New(dlmsdriver.Config{}), tg).collect(plan)
	// The template as it stood before the meter was reconfigured: its
	// load profile without A-.
	m, err := dlmsdriver.TemplateOf(context.Background(), om, tg.Meter)
	if err != nil || m == nil {
		t.Fatal(m, err)
	}
	for i, p := range m.Profiles {
		if p.Kind == "load" {
			m.Profiles[i].Columns = p.Columns[:len(p.Columns)-1]
		}
	}
	b, _ := json.Marshal(m)
	if err := om.PutTemplate(context.Background(), m.Key, b); err != nil {
		t.Fatal(err)
	}
	d := dlmsdriver.New(dlmsdriver.Config{})
	c := newCollector(t, d, tg)
	col := c.collect(plan)
	want := int(clk.Now().Sub(plan.Backfill) / (15 * time.Minute))
	if len(c.ends["A+15m"]) != want || len(c.ends["A-15m"]) != want || d.Discoveries() != 1 {
		t.Errorf("%d A+15m, %d A-15m intervals (want %d), %d discoveries; problems %+v", len(c.ends["A+15m"]), len(c.ends["A-15m"]), want, d.Discoveries(), col.Problems)
	}
	now, err := dlmsdriver.TemplateOf(context.Background(), om, tg.Meter)
	if err != nil || now == nil || now.Key == m.Key {
		t.Fatalf("the meter's template after the change: %v %v", now, err)
	}
	// The next session reads by the new template at once.
	clk.Add(time.Hour)
	c.collect(plan)
	if d.Discoveries() != 1 || len(c.ends["A-15m"]) != want+4 {
		t.Errorf("next session: %d discoveries, %d A-15m intervals", d.Discoveries(), len(c.ends["A-15m"]))
	}
}
