package headend_test

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/manifest"
	"github.com/amigo-ami/amigo/meter"
	"github.com/amigo-ami/amigo/sim"
	"github.com/amigo-ami/amigo/store"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// Meters behind a simulated data concentrator are collected through it:
// the head-end dials the concentrator, wraps each APDU in a gateway
// request to the meter's physical address, and stores days whose
// intervals add up to what the model's A+ register moved.
func TestGatewayCollection(t *testing.T) {
	const n, behind = 12, 8
	r := newFleetRig(t, n, meter.Faults{}, headend.CollectionConfig{Concurrency: 8, PerSegment: 8, Attempts: 2, BackfillDays: 2})
	ctx, cancel := context.WithCancel(context.Background())
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: raw}
	conc := sim.Concentrator{NetworkID: 3}
	for i := range behind {
		conc.Meters = append(conc.Meters, i)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.fleet.ServeConcentrator(ctx, ln, conc) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, i := range conc.Meters {
		row, err := r.fleet.GatewayRow(i, conc, ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		r.rows[i] = row
	}
	if rep, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, r.rows); err != nil || rep.Created != n {
		t.Fatalf("import: %+v %v", rep, err)
	}
	day := cim.Date{Year: 2026, Month: 3, Day: 30}
	if err := r.h.CollectDay(ctx, day, store.MeterQuery{}); err != nil {
		t.Fatal(err)
	}
	r.settle(t)
	if got := ln.n.Load(); got < behind {
		t.Fatalf("the concentrator took %d connections for %d meters behind it", got, behind)
	}
	results := r.results(t, day)
	for i := range n {
		id := headend.MeterID(r.rows[i])
		if res := results[id]; res.Outcome != headend.OutcomeOK || !res.Complete {
			t.Fatalf("meter %d (%s): %+v", i, id, res)
		}
		got, err := r.st.DayVersions(ctx, id, "A+15m", day)
		if err != nil || len(got) != 1 {
			t.Fatalf("meter %s day %s: %d versions, %v", id, day, len(got), err)
		}
		m, _ := r.fleet.Meter(i)
		lk := r.fleet.Lock(i)
		lk.Lock()
		want := m.RegistersAt(day.AddDays(1).Start(ams)).Import - m.RegistersAt(day.Start(ams)).Import
		lk.Unlock()
		var sum int64
		for _, v := range got[0].Values {
			sum += v
		}
		if sum != want {
			t.Fatalf("meter %s day %s: stored %d Wh, the register moved %d Wh", id, day, sum, want)
		}
	}

	// A meter the concentrator does not serve is not reached through it.
	stray, err := r.fleet.GatewayRow(behind, conc, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := headend.Import(ctx, r.st, r.keys, dlmsDrivers, []manifest.Row{stray}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.h.Read(ctx, headend.MeterID(stray), nil); err == nil {
		t.Fatal("a meter the concentrator does not serve was read through it")
	}
}
