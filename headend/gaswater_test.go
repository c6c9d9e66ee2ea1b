package headend_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/mdm/vee"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
)

// subChannel is the hourly volume channel of a gas or water meter, in
// litres (m³ at multiplier -3).
func subChannel(kind string) string {
	if kind == "gas" {
		return "G60me-3"
	}
	return "W60me-3"
}

// TestGasAndWaterThroughParent collects a fleet whose electricity meters
// carry gas and water meters on their M-Bus: each sub-meter's hourly
// volumes, index and daily index are stored under its own id, equal to
// the model's; its cursors are its own and resume the next day; a
// swapped gas meter is an event and a failed result, not data; the
// sub-meters of an unreachable meter fail with it.
func TestGasAndWaterThroughParent(t *testing.T) {
	const n = 16
	r := newFleetRigWith(t, n, meter.Faults{}, headend.CollectionConfig{Concurrency: 8, PerSegment: 8, Attempts: 1,
		JobTimeout: 30 * time.Second, BackfillDays: 2},
		rigOptions{gas: 0.6, water: 0.4, models: []sim.ModelShare{{Model: sim.ModelIDIS, Weight: 50}, {Model: sim.ModelDSMR5, Weight: 50}}})
	ctx := context.Background()
	type sub struct {
		parent int
		row    manifest.Row
		m      *meter.Meter
	}
	var subs []sub
	rows := append([]manifest.Row(nil), r.rows...)
	swapped, down := -1, -1 // the sub a wrong device answers for; the parent that is down
	for i := range n {
		srs, err := r.fleet.SubRows(i)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := r.fleet.SubMeters(i)
		if err != nil {
			t.Fatal(err)
		}
		for k, sr := range srs {
			if swapped < 0 && sr.Kind == "gas" {
				// Registered as another gas meter than the one installed.
				last := sr.Serial[len(sr.Serial)-1]
				sr.Serial, sr.MeterID = sr.Serial[:len(sr.Serial)-1]+string('0'+(last-'0'+7)%10), sr.MeterID+7
				swapped = len(subs)
			} else if down < 0 && swapped >= 0 && subs[swapped].parent != i {
				down = i
			}
			subs = append(subs, sub{i, sr, ms[k]})
			rows = append(rows, sr)
		}
	}
	if len(subs) < 8 || swapped < 0 || down < 0 {
		t.Fatalf("%d sub-meters; swapped %d, down %d", len(subs), swapped, down)
	}
	if rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, rows); err != nil || rep.Created != len(rows) {
		t.Fatalf("import: %+v %v", rep, err)
	}
	// The parent that is down: its address answers nothing.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	pm, err := r.st.Meter(ctx, headend.MeterID(r.rows[down]))
	if err != nil {
		t.Fatal(err)
	}
	pm.Address = "tcp://" + deadAddr
	if err := r.st.PutMeters(ctx, pm); err != nil {
		t.Fatal(err)
	}

	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	results := r.results(t, day)
	if len(results) != len(rows) {
		t.Fatalf("%d results for %d meters", len(results), len(rows))
	}
	// Meters of one model share an object model whatever hangs on their
	// M-Bus: a meter with nothing on a channel serves no objects for it,
	// which is no problem of the meter's.
	for i := range n {
		if i == down {
			continue
		}
		if res := results[headend.MeterID(r.rows[i])]; strings.Contains(res.Problems, ".24.") || !res.Complete {
			t.Errorf("meter %d: complete %v, problems %q", i, res.Complete, res.Problems)
		}
	}
	r.settle(t)

	check := func(s sub, d cim.Date) {
		t.Helper()
		id := headend.MeterID(s.row)
		ch := subChannel(s.row.Kind)
		got, err := r.st.DayVersions(ctx, id, ch, d)
		if err != nil || len(got) == 0 || d == day && len(got) != 1 {
			t.Fatalf("%s meter %s day %s: %d versions, %v", s.row.Kind, id, d, len(got), err)
		}
		got = got[len(got)-1:] // the next day began in the first run
		lk := r.fleet.Lock(s.parent)
		lk.Lock()
		want := s.m.ProfileRange(r.clk.Now(), d.Start(ams).Add(time.Hour), d.AddDays(1).Start(ams))
		lk.Unlock()
		if len(got[0].Values) != len(want) || got[0].Interval != time.Hour {
			t.Fatalf("%s meter %s day %s: %d intervals of %v, the model has %d", s.row.Kind, id, d, len(got[0].Values), got[0].Interval, len(want))
		}
		for j, v := range got[0].Values {
			if got[0].Quality[j]&cim.QualityMissing != 0 || v != want[j].Import {
				t.Fatalf("%s meter %s %s hour %d: stored %d L (quality %v), the model %d L", s.row.Kind, id, d, j, v, got[0].Quality[j], want[j].Import)
			}
		}
		reg := "Ge-3"
		if s.row.Kind == "water" {
			reg = "We-3"
		}
		reads, err := r.st.RegisterReads(ctx, id, reg, d.Start(ams), r.clk.Now().Add(time.Hour))
		if err != nil || len(reads) == 0 {
			t.Fatalf("%s meter %s: %d %s reads, %v", s.row.Kind, id, len(reads), reg, err)
		}
		last := reads[len(reads)-1]
		lk.Lock()
		model := s.m.RegistersAt(last.TimeStamp).Import
		lk.Unlock()
		if last.Value != model {
			t.Fatalf("%s meter %s: %s at %v is %d, the model's register %d", s.row.Kind, id, reg, last.TimeStamp, last.Value, model)
		}
		end := d.AddDays(1).Start(ams)
		daily, err := r.st.RegisterReads(ctx, id, reg+"/daily", end, end.Add(time.Second))
		lk.Lock()
		model = s.m.RegistersAt(end).Import
		lk.Unlock()
		if err != nil || len(daily) != 1 || daily[0].Value != model {
			t.Fatalf("%s meter %s: daily index at %v %+v %v, the model's %d", s.row.Kind, id, end, daily, err, model)
		}
	}
	for k, s := range subs {
		id := headend.MeterID(s.row)
		res := results[id]
		switch {
		case k == swapped:
			if res.Outcome != headend.OutcomeWrongDevice || !strings.Contains(res.Error, "another device") {
				t.Fatalf("swapped gas meter %s: %+v", id, res)
			}
			evs, err := r.st.Events(ctx, store.EventQuery{MeterID: id, Type: dlmsdriver.EventMBusDevice})
			if err != nil || len(evs) != 1 || evs[0].Details["channel"] != "1" {
				t.Fatalf("swapped gas meter %s: events %+v %v", id, evs, err)
			}
			if ds, _ := r.st.DayVersions(ctx, id, subChannel("gas"), day); len(ds) != 0 {
				t.Fatalf("swapped gas meter %s: the other device's volumes stored as its own", id)
			}
		case s.parent == down:
			parent := results[headend.MeterID(r.rows[down])]
			if parent.Outcome == headend.OutcomeOK || res.Outcome != parent.Outcome || !strings.Contains(res.Error, "which failed") {
				t.Fatalf("sub-meter %s of a meter that is down: %+v (parent %+v)", id, res, parent)
			}
		default:
			if res.Outcome != headend.OutcomeOK || !res.Complete || res.Readings < 24 {
				t.Fatalf("%s meter %s: %+v", s.row.Kind, id, res)
			}
			check(s, day)
			cs, err := r.st.Cursors(ctx, id)
			want := "profile:0." + s.row.Fields["mbus_channel"] + ".24.3.0.255"
			found := false
			for _, c := range cs {
				found = found || c.Name == want
			}
			if err != nil || !found {
				t.Fatalf("%s meter %s: cursors %+v, want %s", s.row.Kind, id, cs, want)
			}
		}
	}
	// The parents' own days hold no M-Bus channel.
	for i := range n {
		if ds, _ := r.st.DayVersions(ctx, headend.MeterID(r.rows[i]), "MB1/60me-3", day); len(ds) != 0 {
			t.Fatalf("meter %d keeps its gas meter's volumes as its own", i)
		}
	}
	// The gas and water rule sets validate the days: zero nights are
	// no fault, and the model's days raise no exception.
	for k, s := range subs {
		if k == swapped || s.parent == down {
			continue
		}
		rep, err := mdm.RunVEE(ctx, r.st, headend.MeterID(s.row), subChannel(s.row.Kind), day, day,
			mdm.VEEOptions{Rules: vee.DefaultRuleSets(), HistoryDays: 7, Now: r.clk.Now})
		if err != nil || rep.RuleSet != s.row.Kind || rep.Days != 1 || rep.Exceptions != 0 {
			t.Fatalf("%s meter %s: validation %+v %v", s.row.Kind, headend.MeterID(s.row), rep, err)
		}
	}

	// The next day resumes from each sub-meter's cursors.
	r.clk.Set(r.clk.Now().Add(24 * time.Hour))
	next := day.AddDays(1)
	if err := r.h.CollectDay(ctx, next, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	results = r.results(t, next)
	r.settle(t)
	for k, s := range subs {
		if k == swapped || s.parent == down {
			continue
		}
		if res := results[headend.MeterID(s.row)]; res.Outcome != headend.OutcomeOK || !res.Complete || res.Readings != 24 {
			t.Fatalf("%s meter %s on %s: %+v", s.row.Kind, headend.MeterID(s.row), next, res)
		}
		check(s, day)
		check(s, next)
	}
}

// TestSubMeterImportedLater: a gas or water meter imported after its
// parent was collected is read at once, by a catch-up run of its parent.
func TestSubMeterImportedLater(t *testing.T) {
	const n = 6
	r := newFleetRigWith(t, n, meter.Faults{}, headend.CollectionConfig{Concurrency: 4, PerSegment: 4, Attempts: 1,
		JobTimeout: 30 * time.Second, BackfillDays: 1, CatchUpWindow: time.Millisecond}, rigOptions{gas: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil {
		t.Fatal(err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := r.h.StartRun(day, headend.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.h.Run(ctx, headend.ScheduleConfig{Zone: ams, At: time.Hour}) }()
	runEnded(t, r.h, headend.RunManual, n)

	var subs []manifest.Row
	for i := range n {
		srs, err := r.fleet.SubRows(i)
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, srs...)
	}
	if len(subs) != n {
		t.Fatalf("%d gas meters behind %d meters", len(subs), n)
	}
	if rep, err := r.h.Import(ctx, subs); err != nil || rep.Created != n {
		t.Fatalf("import %+v %v", rep, err)
	}
	// The catch-up run reads each gas meter through its parent: both count.
	if p := runEnded(t, r.h, headend.RunCatchUp, 2*n); p.OK != 2*n || p.Day != day {
		t.Fatalf("catch-up run %+v", p)
	}
	results := r.results(t, day)
	for _, s := range subs {
		if res := results[headend.MeterID(s)]; res.Outcome != headend.OutcomeOK || !res.Complete || res.Readings == 0 {
			t.Fatalf("gas meter %s: %+v", headend.MeterID(s), res)
		}
	}
	cancel()
	<-done
}
