package pq_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/distribution"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/pq"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/topology"
	"github.com/amigo-ami/amigo/vault"
)

// TestReportFlagsExactlyTheNetworksOutOfBounds is the done-when test: a
// fleet runs on a simulated distribution network; the meters under every
// transformer the network tapped out of EN 50160 bounds, and under a few
// sound ones, serve a week of voltage profiles and power quality logs over
// loopback; the head-end collects them with the DLMS driver, the bus takes
// them to the MDM, the store keeps them with the network's topology; the
// weekly report then flags exactly the usage points the network put out of
// bounds that week, and their feeders.
func TestReportFlagsExactlyTheNetworksOutOfBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("a week of a few hundred meters over loopback")
	}
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skip(err)
	}
	const meters = 2000
	week := time.Date(2026, 6, 1, 0, 0, 0, 0, loc) // a Monday
	clk := &simClock{t: week.AddDate(0, 0, 7).Add(90 * time.Minute)}
	cfg := distribution.DefaultConfig(21, meters, week.AddDate(0, 0, -9))
	// A stormy month for power quality too: a dozen sags and swells in
	// the week, so their periods are left out of the judgement.
	cfg.Days, cfg.Location, cfg.OutOfBounds, cfg.SagsPerFeederYear = 18, loc, 0.04, 300
	nw, err := distribution.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	grid := nw.Topology()
	oob := nw.OutOfBounds(week)
	if len(oob) == 0 {
		t.Fatal("the network put no service out of bounds; the test proves nothing")
	}
	// The services of every out-of-bounds transformer, then of sound
	// ones until about 200.
	bad := map[string]bool{}
	for _, up := range oob {
		tr, _ := grid.Ancestor(up, topology.Transformer)
		bad[tr.ID] = true
	}
	var ups []string
	for _, tr := range grid.At(topology.Transformer) {
		if bad[tr.ID] {
			ups = append(ups, grid.Services(tr.ID)...)
		}
	}
	for _, tr := range grid.At(topology.Transformer) {
		if len(ups) >= 200 {
			break
		}
		if !bad[tr.ID] {
			ups = append(ups, grid.Services(tr.ID)...)
		}
	}
	if len(ups) > 320 {
		t.Fatalf("%d services picked: the out-of-bounds transformers are too many for a quick test", len(ups))
	}

	ctx, cancel := context.WithCancel(context.Background())
	ln, err := sim.ListenLoopback(ctx, 0)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	model := meter.NewFleet(21, loc, clk.Now())
	model.HistoryDays = 10
	model.Install = clk.Now().AddDate(0, 0, -10)
	model.Faults = meter.Faults{}
	fleet, err := sim.NewFleet(sim.Config{Meters: meters, Seed: 21, Port: uint16(ln.Addr().(*net.TCPAddr).Port), Now: clk.Now,
		Model: model, Supply: nw, PQProfile: true})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var rows []manifest.Row
	for _, up := range ups {
		id, err := strconv.ParseUint(strings.TrimPrefix(up, "UP"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		row, err := fleet.Row(int(id - 1))
		if err != nil {
			t.Fatal(err)
		}
		if row.UsagePointID != up {
			t.Fatalf("meter %d is at %s, the network has it at %s", id-1, row.UsagePointID, up)
		}
		rows = append(rows, row)
	}

	st, _ := storetest.OpenSQLite(t)
	if _, err := st.PutTopology(ctx, week.AddDate(0, 0, -30), grid); err != nil {
		t.Fatal(err)
	}
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
	drivers := []headend.Driver{dlmsdriver.New(dlmsdriver.Config{})}
	h, err := headend.New(headend.Options{Store: st, Bus: b, Safeguards: &headend.SafeguardConfig{}, Secrets: keys, Now: clk.Now,
		Drivers: drivers, Collection: headend.CollectionConfig{BackfillDays: 8}})
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
	if _, err := headend.Import(ctx, st, keys, drivers, rows); err != nil {
		t.Fatal(err)
	}
	day := cim.Date{Year: 2026, Month: 6, Day: 7}
	if err := h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	res, err := st.CollectionResults(ctx, day, "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(rows) {
		t.Fatalf("%d collection results for %d meters", len(res), len(rows))
	}
	for _, r := range res {
		if r.Outcome != store.OutcomeOK {
			t.Fatalf("collection of %s: %+v", r.MeterID, r)
		}
	}

	// The store's own topology places the meters.
	rp := &pq.Reporter{Source: st, Topology: st}
	var rep *pq.Report
	deadline := time.Now().Add(90 * time.Second)
	for {
		if rep, err = rp.Week(ctx, week, ""); err != nil {
			t.Fatal(err)
		}
		if stored(rep, len(rows)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the week is not stored after 90 s: %d meters", len(rep.Meters))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var flagged []string
	feeders := map[string]bool{}
	events := 0
	for _, m := range rep.Meters {
		if !m.Compliant {
			flagged = append(flagged, m.UsagePoint)
			feeders[m.Feeder] = true
		}
		events += m.Sags + m.Swells
		if m.Sags > 0 && (m.WorstSag <= 0 || m.WorstSag >= 91 || m.Longest <= 0) {
			t.Errorf("%s: %d sags, worst %v %%, longest %v s", m.MeterID, m.Sags, m.WorstSag, m.Longest)
		}
	}
	if events == 0 {
		t.Error("no sag or swell reached the report")
	}
	slices.Sort(flagged)
	if !slices.Equal(flagged, oob) {
		t.Errorf("the report flags %d usage points, the network put %d out of bounds\nflagged %v\nnetwork %v", len(flagged), len(oob), flagged, oob)
		for _, m := range rep.Meters {
			if !m.Compliant != slices.Contains(oob, m.UsagePoint) {
				t.Logf("%s (%s): %v %+v", m.UsagePoint, m.Transformer, m.Reasons, m.Phases)
			}
		}
	}
	for _, f := range rep.Feeders {
		if f.Flagged != feeders[f.Feeder] || (f.OutOfBounds > 0) != f.Flagged {
			t.Errorf("feeder %+v", f)
		}
	}
	t.Logf("%d meters under %d transformers, %d out of bounds on %d feeders; %d sags and swells logged", len(rep.Meters), len(bad), len(oob), len(feeders), events)
}

// stored reports whether every meter's week is in: a mean or a flagged
// period for every 10 minutes its supply was on.
func stored(rep *pq.Report, n int) bool {
	if len(rep.Meters) != n {
		return false
	}
	for _, m := range rep.Meters {
		if len(m.Phases) == 0 || m.Coverage < 0.9 {
			return false
		}
	}
	return true
}
