package c12driver_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
)

// drivers are the two protocols' drivers, by manifest protocol.
func drivers() map[string]*c12driver.Driver {
	return map[string]*c12driver.Driver{sim.ProtocolC1218: c12driver.NewC1218(c12driver.Config{}),
		sim.ProtocolC1222: c12driver.NewC1222(c12driver.Config{})}
}

// modelRegisters is what a collection of meter i must hold, by reading
// type id: the registers the model keeps.
func modelRegisters(f *sim.Fleet, i int, now time.Time) (map[string]int64, time.Time) {
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	defer f.Lock(i).Unlock()
	regs := m.RegistersAt(now)
	want := map[string]int64{"A+": regs.Import, "A-": regs.Export, "R+": regs.ImportVarh, "R-": regs.ExportVarh,
		"MD+": m.MaxDemand(now).MaxW}
	for k := range 4 {
		want["A+T"+strconv.Itoa(k+1)] = regs.ImportRate[k]
		want["A-T"+strconv.Itoa(k+1)] = regs.ExportRate[k]
	}
	return want, m.Clock(now)
}

// moved is what meter i's registers moved over [from, to).
func moved(f *sim.Fleet, i int, from, to time.Time) meter.Registers {
	m, _ := f.Meter(i)
	f.Lock(i).Lock()
	defer f.Lock(i).Unlock()
	return m.RegistersAt(to).Sub(m.RegistersAt(from))
}

func open(t *testing.T, d headend.Driver, tg headend.Target) headend.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := d.Open(ctx, tg)
	if err != nil {
		t.Fatalf("open: %v (cause %q)", err, d.Cause(err))
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestCollectDay: a day collected from a C12.18 and a C12.22 meter holds
// the model's registers, its clock, and 96 quarter hours of each energy
// that add up exactly to what the model's registers moved; the next
// collection from the cursors reads nothing twice.
func TestCollectDay(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	f := fleetOf(t, 12, 0.5, 0.5, clk)
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, ams)
	for proto, d := range drivers() {
		t.Run(proto, func(t *testing.T) {
			i := first(t, f, proto)
			tg := targetOf(t, d, f, i, clk)
			s := open(t, d, tg)
			ctx := context.Background()
			col, err := s.Collect(ctx, headend.Plan{Backfill: day, Until: day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatalf("collect: %v (cause %q)", err, d.Cause(err))
			}
			if len(col.Problems) > 0 {
				t.Errorf("problems: %+v", col.Problems)
			}
			if !col.Complete {
				t.Error("the day's profile is not complete")
			}
			want, mt := modelRegisters(f, i, clk.Now())
			if !col.MeterTime.Equal(mt) {
				t.Errorf("meter time %v, model %v", col.MeterTime, mt)
			}
			got := map[string]int64{}
			for _, r := range col.Registers {
				if r.MeterID != tg.Meter.MRID {
					t.Errorf("a register of %q", r.MeterID)
				}
				got[r.ReadingType] = r.Value
			}
			for id, w := range want {
				if g, ok := got[id]; !ok || g != w {
					t.Errorf("%s = %d (read %v), model %d", id, g, ok, w)
				}
			}
			mv := moved(f, i, day, day.AddDate(0, 0, 1))
			sums := map[string]int64{}
			counts := map[string]int{}
			for _, b := range col.Blocks {
				if b.ReadingType.Interval != 15*time.Minute || b.ReadingType.Unit == cim.UnitNone {
					t.Errorf("block %+v", b.ReadingType)
				}
				for _, r := range b.Readings {
					if r.End.After(day) && !r.End.After(day.AddDate(0, 0, 1)) {
						sums[b.ReadingType.ID] += r.Value
						counts[b.ReadingType.ID]++
					}
				}
			}
			for id, w := range map[string]int64{"A+15m": mv.Import, "A-15m": mv.Export, "R+15m": mv.ImportVarh, "R-15m": mv.ExportVarh} {
				if sums[id] != w || counts[id] != 96 {
					t.Errorf("%s: %d intervals adding up to %d, the model moved %d", id, counts[id], sums[id], w)
				}
			}
			if cur := col.Cursors["profile:ST64"]; !cur.Equal(clk.Now()) {
				t.Errorf("profile cursor %v, want %v", cur, clk.Now())
			}
			// From the cursors: nothing read twice.
			again, err := s.Collect(ctx, headend.Plan{Since: col.Cursors, Backfill: day, Until: day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range again.Blocks {
				if len(b.Readings) > 0 {
					t.Errorf("%s read again: %d readings", b.ReadingType.ID, len(b.Readings))
				}
			}
			if len(again.Events) > 0 {
				t.Errorf("events read again: %+v", again.Events[0])
			}
			if !again.Complete {
				t.Error("a profile read up to now is not complete")
			}
		})
	}
}

// TestTemplateLearnedOnce: meters of one kind share their template, read
// from the first one.
func TestTemplateLearnedOnce(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	f := fleetOf(t, 40, 1, 0, clk)
	d := c12driver.NewC1218(c12driver.Config{})
	models := &memModels{}
	opened := 0
	for i := range f.Len() {
		r, _ := f.Row(i)
		if r.Model != "AMG-A1" {
			continue
		}
		tg := targetOf(t, d, f, i, clk)
		tg.Models = models
		s := open(t, d, tg)
		s.Close(context.Background())
		opened++
	}
	if opened < 2 {
		t.Fatalf("only %d meters of one model", opened)
	}
	if n := d.Discoveries(); n != 1 {
		t.Fatalf("%d meters of one model learned %d times", opened, n)
	}
	if len(models.meters) != opened || len(models.templates) != 1 {
		t.Fatalf("store: %d meters' templates, %d templates", len(models.meters), len(models.templates))
	}
	// What an operator sees of a meter: its template and channels.
	r, _ := f.Row(first(t, f, sim.ProtocolC1218))
	model, chs, err := d.Describe(context.Background(), models, cim.Meter{MRID: r.Serial})
	if err != nil || model == nil {
		t.Fatalf("describe: %v %v", model, err)
	}
	ids := map[string]bool{}
	for _, c := range chs.([]c12driver.Channel) {
		ids[c.ReadingType] = true
	}
	for _, id := range []string{"A+", "A-", "R+", "R-", "MD+", "A+T1", "A-T4", "A+15m", "A-15m", "R+15m", "R-15m"} {
		if !ids[id] {
			t.Errorf("no %s among the channels %v", id, ids)
		}
	}
	// A new driver (another head-end node) takes the template from the
	// store.
	d2 := c12driver.NewC1218(c12driver.Config{})
	tg := targetOf(t, d2, f, first(t, f, sim.ProtocolC1218), clk)
	tg.Models = models
	open(t, d2, tg)
	if n := d2.Discoveries(); n != 0 {
		t.Fatalf("the stored template was learned again (%d)", n)
	}
}

// TestCommands: the service switch opens and closes the model's relay, a
// demand reset clears its maximum demand and is logged, and a clock set
// puts its clock right.
func TestCommands(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 12, 0, 0, 0, ams)}
	f := fleetOf(t, 12, 0.5, 0.5, clk)
	for proto, d := range drivers() {
		t.Run(proto, func(t *testing.T) {
			ctx := context.Background()
			i := first(t, f, proto)
			m, _ := f.Meter(i)
			relay := func() meter.ControlState {
				f.Lock(i).Lock()
				defer f.Lock(i).Unlock()
				st, _ := m.Relay()
				return st
			}
			s := open(t, d, targetOf(t, d, f, i, clk))
			out, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDisconnect})
			if err != nil || relay() != meter.Disconnected {
				t.Fatalf("disconnect: %q %v; relay %v", out, err, relay())
			}
			out, err = s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlReconnect})
			if err != nil || relay() == meter.Disconnected {
				t.Fatalf("reconnect: %q %v; relay %v", out, err, relay())
			}
			if _, err := s.Execute(ctx, cim.EndDeviceControl{Type: cim.ControlDemandReset}); err != nil {
				t.Fatal(err)
			}
			f.Lock(i).Lock()
			md := m.MaxDemand(clk.Now())
			f.Lock(i).Unlock()
			if md.MaxW != 0 {
				t.Errorf("maximum demand %d W after the reset", md.MaxW)
			}
			// An hour fast, set right.
			f.Lock(i).Lock()
			m.SetClock(clk.Now(), clk.Now().Add(time.Hour))
			f.Lock(i).Unlock()
			if mt, err := s.Clock(ctx); err != nil || !mt.Equal(clk.Now().Add(time.Hour)) {
				t.Fatalf("clock %v %v, want an hour fast", mt, err)
			}
			if err := s.SetClock(ctx, clk.Now()); err != nil {
				t.Fatal(err)
			}
			f.Lock(i).Lock()
			mc := m.Clock(clk.Now())
			f.Lock(i).Unlock()
			if !mc.Equal(clk.Now()) {
				t.Fatalf("model clock %v after the set, want %v", mc, clk.Now())
			}
			// The log has the reset, the switch and the clock change, each
			// with the type the DLMS driver gives it.
			col, err := s.Collect(ctx, headend.Plan{Since: map[string]time.Time{"events:ST76": clk.Now().Add(-time.Minute)},
				Backfill: clk.Now().Add(-time.Minute), Until: clk.Now()})
			if err != nil {
				t.Fatal(err)
			}
			types := map[cim.EndDeviceEventType]int{}
			for _, e := range col.Events {
				types[e.Type]++
				if !strings.HasPrefix(e.MRID, col.Events[0].MeterID+"/ST76/") {
					t.Errorf("mRID %q", e.MRID)
				}
			}
			for _, want := range []cim.EndDeviceEventType{"3.8.0.215", "3.36.114.24", "3.31.0.0"} {
				if types[want] == 0 {
					t.Errorf("no %s event among %v", want, types)
				}
			}
			// Read again, the same events have the same mRIDs.
			again, err := s.Collect(ctx, headend.Plan{Since: map[string]time.Time{"events:ST76": clk.Now().Add(-time.Minute)},
				Backfill: clk.Now().Add(-time.Minute), Until: clk.Now()})
			if err != nil {
				t.Fatal(err)
			}
			if len(again.Events) != len(col.Events) {
				t.Fatalf("%d events, then %d", len(col.Events), len(again.Events))
			}
			for k := range again.Events {
				if again.Events[k].MRID != col.Events[k].MRID {
					t.Errorf("event %d: mRID %q, then %q", k, col.Events[k].MRID, again.Events[k].MRID)
				}
			}
		})
	}
}

// TestWrongCredentials: a C12.18 meter refuses a wrong password with
// ISC and a C12.22 meter does not answer under a wrong key; both are
// authentication failures.
func TestWrongCredentials(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 12, 0, 0, 0, ams)}
	f := fleetOf(t, 12, 0.5, 0.5, clk)
	ds := drivers()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	d18 := ds[sim.ProtocolC1218]
	tg := targetOf(t, d18, f, first(t, f, sim.ProtocolC1218), clk)
	c, _ := c12driver.ParseCredentials(tg.Credentials)
	c.Password[0] ^= 1
	tg.Credentials, _ = c.Marshal()
	if s, err := d18.Open(ctx, tg); err == nil || d18.Cause(err) != headend.OutcomeAuth {
		if s != nil {
			s.Close(ctx)
		}
		t.Errorf("c12.18 with a wrong password: %v, cause %q", err, d18.Cause(err))
	}

	d22 := c12driver.NewC1222(c12driver.Config{Timeout: 500 * time.Millisecond})
	tg = targetOf(t, d22, f, first(t, f, sim.ProtocolC1222), clk)
	c, _ = c12driver.ParseCredentials(tg.Credentials)
	c.Key[0] ^= 1
	tg.Credentials, _ = c.Marshal()
	if s, err := d22.Open(ctx, tg); err == nil || d22.Cause(err) != headend.OutcomeAuth {
		if s != nil {
			s.Close(ctx)
		}
		t.Errorf("c12.22 with a wrong key: %v, cause %q", err, d22.Cause(err))
	}

	// Nothing listens: refused.
	tg = targetOf(t, d18, f, first(t, f, sim.ProtocolC1218), clk)
	tg.Meter.Address = "tcp://127.0.0.1:1"
	if _, err := d18.Open(ctx, tg); d18.Cause(err) != headend.OutcomeRefused {
		t.Errorf("nothing listening: %v, cause %q", err, d18.Cause(err))
	}
}

// TestOutages: a meter whose power fails often logs each cut, which the
// collection turns into the DLMS driver's power off and restored events,
// once each; the intervals it had no power to record are left out, the
// one after each cut is flagged, and the day still adds up to what the
// model's register moved.
func TestOutages(t *testing.T) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	f := fleetWith(t, 12, 0.5, 0.5, meter.Faults{OutagesPerYear: 3 * 365}, clk)
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, ams)
	for proto, d := range drivers() {
		t.Run(proto, func(t *testing.T) {
			// A meter with a cut on the day.
			i := -1
			for k := range f.Len() {
				m, _ := f.Meter(k)
				if f.Protocol(k) == proto && len(m.Outages(day, day.AddDate(0, 0, 1))) > 0 {
					i = k
					break
				}
			}
			if i < 0 {
				t.Fatal("no meter with an outage on the day")
			}
			s := open(t, d, targetOf(t, d, f, i, clk))
			col, err := s.Collect(context.Background(), headend.Plan{Backfill: day, Until: day.AddDate(0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			m, _ := f.Meter(i)
			cuts := m.Outages(day, clk.Now())
			types := map[cim.EndDeviceEventType]int{}
			seen := map[string]bool{}
			for _, e := range col.Events {
				if seen[e.MRID] {
					t.Errorf("event %s twice", e.MRID)
				}
				seen[e.MRID] = true
				types[e.Type]++
			}
			if types[cim.EventPowerOff] < len(cuts)-1 || types[cim.EventPowerRestored] < len(cuts)-1 || types[cim.EventPowerOff] == 0 {
				t.Errorf("%d cuts, events %v", len(cuts), types)
			}
			var sum int64
			var flagged int
			for _, b := range col.Blocks {
				if b.ReadingType.ID != "A+15m" {
					continue
				}
				for _, r := range b.Readings {
					if r.End.After(day) && !r.End.After(day.AddDate(0, 0, 1)) {
						sum += r.Value
						if r.Quality&(cim.QualityPowerDown|cim.QualityPartial) != 0 {
							flagged++
						}
					}
				}
			}
			if mv := moved(f, i, day, day.AddDate(0, 0, 1)); sum != mv.Import {
				t.Errorf("the day adds up to %d Wh, the model moved %d", sum, mv.Import)
			}
			if flagged == 0 {
				t.Errorf("no interval flagged for %d cuts", len(cuts))
			}
		})
	}
}
