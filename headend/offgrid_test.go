package headend_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// TestOffGridIntervalIsStoredFlagged collects a simulated meter whose load
// profile holds an entry at 07:07:30 each day (a capture as its clock was
// set) through the DLMS driver, the bus and the MDM: the collection is ok,
// nothing is dead-lettered, and 07:00–07:15 holds the whole quarter hour's
// energy, flagged clock-adjusted, between neighbours that are not.
func TestOffGridIntervalIsStoredFlagged(t *testing.T) {
	clk := &simClock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(3, ams, clk.Now())
	model.HistoryDays = 5
	model.Install = clk.Now().AddDate(0, 0, -5)
	fleet, err := sim.NewFleet(sim.Config{Meters: 2, Seed: 3, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now, Model: model,
		FaultsOf: func(i int) sim.Fault {
			if i == 0 {
				return sim.FaultOffGrid
			}
			return 0
		}})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	h, err := headend.New(headend.Options{Store: st, Bus: b, Safeguards: noSafeguards, Secrets: keys, Now: clk.Now,
		Drivers: []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}, Collection: headend.CollectionConfig{BackfillDays: 1}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: st, Bus: b, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fleet.Serve(ctx, ln) }()
	go func() { defer wg.Done(); in.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		b.Close(context.Background())
	})

	row, err := fleet.Row(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := headend.Import(context.Background(), st, keys, dlmsDrivers, []manifest.Row{row}); err != nil {
		t.Fatal(err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := h.CollectDay(context.Background(), day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	rs, err := st.CollectionResults(context.Background(), day, "", "", "", 10)
	if err != nil || len(rs) != 1 || rs[0].Outcome != store.OutcomeOK || !rs[0].Complete {
		t.Fatalf("results %+v %v", rs, err)
	}
	id := rs[0].MeterID
	var d interval.Day
	waitUntil(t, "the day in the MDM", func() bool {
		d, err = st.Day(context.Background(), id, "A+15m", day)
		return err == nil && d.Quality[95]&cim.QualityMissing == 0
	})
	// The meter's own captures on the grid say what each quarter hour holds.
	m, err := fleet.Meter(0)
	if err != nil {
		t.Fatal(err)
	}
	iv := 15 * time.Minute
	want := map[int]int64{}
	for _, c := range m.AppendCaptures(nil, clk.Now(), day.Start(ams).Add(iv), day.AddDays(1).Start(ams), iv) {
		want[int(c.Stamp.Sub(day.Start(ams))/iv)-1] = c.Delta.Import
	}
	if len(d.Values) != 96 {
		t.Fatalf("%d intervals", len(d.Values))
	}
	for _, slot := range []int{27, 28, 29} {
		if d.Values[slot] != want[slot] {
			t.Errorf("slot %d holds %d Wh, the meter's captures say %d", slot, d.Values[slot], want[slot])
		}
	}
	if d.Quality[28]&cim.QualityClockAdjusted == 0 || d.Quality[28]&cim.QualitySuspect != 0 {
		t.Errorf("07:00–07:15 quality %s, want clock-adjusted", d.Quality[28])
	}
	if d.Quality[27] != 0 || d.Quality[29] != 0 {
		t.Errorf("neighbours flagged %s and %s", d.Quality[27], d.Quality[29])
	}
	if dls, err := mdm.DeadLetters(context.Background(), b, 10); err != nil || len(dls) != 0 {
		t.Errorf("dead letters %+v %v", dls, err)
	}
}
