package osgpdriver_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/bus"
	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/osgpdriver"
	"github.com/amigo-ami/amigo/interval"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/mdm"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
	"github.com/amigo-ami/amigo/store/storetest"
	"github.com/amigo-ami/amigo/vault"
)

// TestHeadEndCollectsOSGPMeters: a head-end imports the simulator's
// manifest of OSGP meters, marks the legacy ones exposed, collects a day,
// and the store holds the model's registers and quarter-hours.
func TestHeadEndCollectsOSGPMeters(t *testing.T) {
	clk := &simClock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const n = 6
	f := osgpFleet(t, n, clk)
	st, _ := storetest.OpenSQLite(t)
	b, err := bus.Open(ctx, bus.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New("test", make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	keys := vault.NewKeyring(v)
	h, err := headend.New(headend.Options{Store: st, Bus: b, Secrets: keys, Now: clk.Now,
		Drivers:    []headend.Driver{osgpdriver.New(osgpdriver.Config{})},
		Collection: headend.CollectionConfig{Concurrency: 4, PerSegment: 4, Attempts: 2, JobTimeout: 30 * time.Second, BackfillDays: 1, RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond},
		Safeguards: &headend.SafeguardConfig{}})
	if err != nil {
		t.Fatal(err)
	}
	in, err := mdm.New(mdm.Options{Store: st, Bus: b, Batch: 256, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); in.Run(ctx) }()
	defer func() { cancel(); wg.Wait(); b.Close(context.Background()) }()

	var file bytes.Buffer
	if err := sim.WriteManifest(&file, f); err != nil {
		t.Fatal(err)
	}
	rd, err := manifest.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := headend.ImportFrom(ctx, st, keys, h.Drivers(), rd)
	if err != nil || rep.Rejected != 0 || rep.Created != n {
		t.Fatalf("import %+v %v", rep, err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	results, err := st.CollectionResults(ctx, day, "", "", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	outcome := map[string]string{}
	for _, x := range results {
		outcome[x.MeterID] = x.Outcome + " " + x.Error
	}
	now := clk.Now()
	exposed := 0
	for i := range n {
		r, _ := f.Row(i)
		id := headend.MeterID(r)
		mt, err := st.Meter(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if (mt.Exposure == osgpdriver.ExposureLegacy) != (r.Fields["osgp_security"] == "legacy") {
			t.Errorf("meter %d: exposure %q, security %s", i, mt.Exposure, r.Fields["osgp_security"])
		}
		if mt.Exposure != "" {
			exposed++
		}
		if outcome[id] != headend.OutcomeOK+" " {
			t.Errorf("meter %d (%s): %q", i, id, outcome[id])
			continue
		}
		m, _ := f.Meter(i)
		f.Lock(i).Lock()
		aplus := m.RegistersAt(now).Import
		move := m.RegistersAt(time.Date(2026, 3, 31, 0, 0, 0, 0, ams)).Import - m.RegistersAt(time.Date(2026, 3, 30, 0, 0, 0, 0, ams)).Import
		f.Lock(i).Unlock()
		// The ingest stores what the bus delivers: wait for it.
		deadline := time.Now().Add(time.Minute)
		var reads []store.RegisterRead
		var sum int64
		var got int
		for {
			reads, err = st.RegisterReads(ctx, id, "A+", now.AddDate(0, 0, -10), now.Add(2*time.Hour))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			d, err := st.Day(ctx, id, cim.EnergyImport15m.ID, day)
			sum, got = 0, 0
			if err == nil {
				sum, got = daySum(d)
			}
			if (len(reads) == 1 && got == 96) || time.Now().After(deadline) {
				break
			}
			select {
			case <-time.After(20 * time.Millisecond):
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		if len(reads) != 1 || reads[0].Value != aplus {
			t.Errorf("meter %d A+: stored %v, model %d", i, reads, aplus)
		}
		if got != 96 || sum != move {
			t.Errorf("meter %d: %d quarter-hours, %d Wh on %s; model %d Wh", i, got, sum, day, move)
		}
	}
	if exposed == 0 || exposed == n {
		t.Errorf("%d of %d meters exposed: want some of each suite", exposed, n)
	}
}

func daySum(d interval.Day) (int64, int) {
	var sum int64
	var n int
	for k, v := range d.Values {
		if d.Quality[k]&cim.QualityMissing == 0 {
			sum += v
			n++
		}
	}
	return sum, n
}
