package headend_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
)

// TestSubMeterReadAndProgress: a day's run counts the gas and water
// meters read through their parents in its progress as its results do;
// an on-demand read of a gas meter goes through its parent's session and
// returns, and stores under the gas meter, the model's index and hours;
// a parent that cannot be reached fails the read naming both meters; and
// what the parent's session cannot carry to a sub-meter fails as
// unsupported without a dial.
func TestSubMeterReadAndProgress(t *testing.T) {
	const n = 8
	r := newFleetRigWith(t, n, meter.Faults{}, headend.CollectionConfig{Concurrency: 4, PerSegment: 4, Attempts: 1,
		JobTimeout: 30 * time.Second, BackfillDays: 2},
		rigOptions{gas: 0.7, water: 0.4, models: []sim.ModelShare{{Model: sim.ModelIDIS, Weight: 50}, {Model: sim.ModelDSMR5, Weight: 50}}})
	ctx := context.Background()
	type sub struct {
		parent int
		row    manifest.Row
		m      *meter.Meter
	}
	var subs []sub
	rows := append([]manifest.Row(nil), r.rows...)
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
			subs = append(subs, sub{i, sr, ms[k]})
			rows = append(rows, sr)
		}
	}
	gas, down := -1, -1 // the gas meter read on demand; a sub-meter whose parent is down
	for k, s := range subs {
		if gas < 0 && s.row.Kind == "gas" {
			gas = k
		}
	}
	for k, s := range subs {
		if down < 0 && gas >= 0 && s.parent != subs[gas].parent {
			down = k
		}
	}
	if gas < 0 || down < 0 {
		t.Fatalf("%d sub-meters: gas %d, down %d", len(subs), gas, down)
	}
	if rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, rows); err != nil || rep.Created != len(rows) {
		t.Fatalf("import: %+v %v", rep, err)
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	downID := headend.MeterID(r.rows[subs[down].parent])
	pm, err := r.st.Meter(ctx, downID)
	if err != nil {
		t.Fatal(err)
	}
	pm.Address = "tcp://" + deadAddr
	if err := r.st.PutMeters(ctx, pm); err != nil {
		t.Fatal(err)
	}

	// The day's run: its progress counts every meter the results do.
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	p := r.h.Progress()
	sum := daySummary(t, r.st, day)
	failed := 0
	for _, c := range sum.Failed {
		failed += c
	}
	if sum.Total != len(rows) || p.Total != sum.Total || p.Done != p.Total || p.OK != sum.OK || p.Failed != failed ||
		p.Readings != sum.Readings || p.OK+p.Failed != p.Total {
		t.Fatalf("progress %+v, results %+v, %d meters", p, sum, len(rows))
	}
	// The failed ones are the parent that is down and its sub-meters.
	downSubs := 0
	for _, s := range subs {
		if s.parent == subs[down].parent {
			downSubs++
		}
	}
	if p.Failed != 1+downSubs {
		t.Fatalf("progress %+v: %d failed, want the parent that is down and its %d sub-meters", p, p.Failed, downSubs)
	}

	// Hours later, the gas meter is read on demand.
	r.clk.Set(r.clk.Now().Add(5 * time.Hour))
	g := subs[gas]
	gid := headend.MeterID(g.row)
	cursor := "profile:0." + g.row.Fields["mbus_channel"] + ".24.3.0.255"
	before := cursorAt(t, r.st, gid, cursor)
	vals, err := r.h.Read(ctx, gid, nil)
	if err != nil {
		t.Fatalf("read of gas meter %s: %v", gid, err)
	}
	now := r.clk.Now()
	lk := r.fleet.Lock(g.parent)
	lk.Lock()
	want := g.m.ProfileRange(now, before.Add(time.Second), now)
	lk.Unlock()
	if len(want) < 5 {
		t.Fatalf("the model has %d hours after %v", len(want), before)
	}
	var wantSum int64
	for _, e := range want {
		wantSum += e.Import
	}
	got := map[string]headend.Value{}
	for _, v := range vals {
		if v.Error != "" {
			t.Fatalf("gas meter %s: %s: %s", gid, v.Object, v.Error)
		}
		got[v.Object] = v
	}
	hours, ok := got["G60me-3"]
	if !ok || hours.Value != wantSum || hours.Scaler != -3 || !hours.At.Equal(want[len(want)-1].Stamp) {
		t.Fatalf("gas meter %s: hours %+v, the model's %d L up to %v (values %+v)", gid, hours, wantSum, want[len(want)-1].Stamp, vals)
	}
	index, ok := got["Ge-3"]
	if !ok {
		t.Fatalf("gas meter %s: no index in %+v", gid, vals)
	}
	lk.Lock()
	model := g.m.RegistersAt(index.At).Import
	lk.Unlock()
	if index.Value != model {
		t.Fatalf("gas meter %s: index %+v, the model's %d", gid, index, model)
	}
	// Stored under the gas meter as a collection stores it: the index,
	// the hours of the day, and the cursor moved to the last hour.
	r.settle(t)
	reads, err := r.st.RegisterReads(ctx, gid, "Ge-3", index.At, index.At.Add(time.Second))
	if err != nil || len(reads) != 1 || reads[0].Value != model {
		t.Fatalf("gas meter %s: stored index %+v %v, the model's %d", gid, reads, err, model)
	}
	today := cim.DateOf(now, ams)
	vs, err := r.st.DayVersions(ctx, gid, "G60me-3", today)
	if err != nil || len(vs) == 0 {
		t.Fatalf("gas meter %s: %d versions of %s, %v", gid, len(vs), today, err)
	}
	last := vs[len(vs)-1]
	lk.Lock()
	wantDay := g.m.ProfileRange(now, today.Start(ams).Add(time.Hour), now)
	lk.Unlock()
	for j, e := range wantDay {
		if j >= len(last.Values) || last.Values[j] != e.Import || last.Quality[j]&cim.QualityMissing != 0 {
			t.Fatalf("gas meter %s %s: stored %v, the model's hour %d is %d L", gid, today, last.Values, j, e.Import)
		}
	}
	if at := cursorAt(t, r.st, gid, cursor); !at.Equal(want[len(want)-1].Stamp) {
		t.Fatalf("gas meter %s: cursor at %v, the last hour read %v", gid, at, want[len(want)-1].Stamp)
	}

	// A parent that cannot be reached fails the read, naming both.
	did := headend.MeterID(subs[down].row)
	_, err = r.h.Read(ctx, did, nil)
	if err == nil || !strings.Contains(err.Error(), did) || !strings.Contains(err.Error(), downID) ||
		errors.Is(err, headend.ErrUnsupported) {
		t.Fatalf("read of %s behind unreachable %s: %v", did, downID, err)
	}
	// Named objects, key changes and firmware are not carried to it.
	if _, err := r.h.Read(ctx, gid, []string{"0.1.24.2.1.255"}); !errors.Is(err, headend.ErrUnsupported) {
		t.Fatalf("named objects of gas meter %s: %v", gid, err)
	}
	if _, err := r.h.RotateKeys(ctx, gid); !errors.Is(err, headend.ErrUnsupported) || !strings.Contains(err.Error(), headend.MeterID(r.rows[g.parent])) {
		t.Fatalf("key change of gas meter %s: %v", gid, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		r.h.RunCommands(cctx)
	}()
	c, _, err := r.h.Issue(ctx, cim.EndDeviceControl{MeterID: gid, Type: cim.ControlPing, CorrelationID: "ping-gas", IssuedBy: "olga"})
	if err != nil {
		t.Fatal(err)
	}
	if c = waitStatus(t, r.st, c.MRID, cim.ControlFailed); !strings.Contains(c.Reason, "reached through meter "+headend.MeterID(r.rows[g.parent])) {
		t.Fatalf("ping of gas meter %s: %s", gid, c.Reason)
	}
	cancel()
	<-ran
	t.Logf("progress %+v; read %+v", p, vals)
}

func cursorAt(t *testing.T, st store.Store, meterID, name string) time.Time {
	t.Helper()
	cs, err := st.Cursors(context.Background(), meterID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.Name == name {
			return c.At
		}
	}
	t.Fatalf("meter %s: no cursor %s in %+v", meterID, name, cs)
	return time.Time{}
}
