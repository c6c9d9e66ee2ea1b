package c12driver_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/c12driver"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/sim"
)

// cpuTime is the process's user and system time so far: the head-end's
// side and the simulated meter's alike, as both run here.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSessionC1222VsDLMS collects the same day (registers, the
// quarter-hour load profile of the day, the event log, the clock) from a
// C12.22 meter and from a DLMS meter (HLS-GMAC, authenticated encryption)
// of the same load model, through a counting proxy on loopback; one op is
// one session of each. Reported per session: the octets on the wire either
// way and the CPU time of both ends, for each protocol, and C12.22's as a
// ratio of DLMS's.
func BenchmarkSessionC1222VsDLMS(b *testing.B) {
	clk := &clock{t: time.Date(2026, 3, 31, 2, 0, 0, 0, ams)}
	f := fleetOf(b, 16, 0, 0.5, clk)
	day := time.Date(2026, 3, 30, 0, 0, 0, 0, ams)
	plan := headend.Plan{Backfill: day, Until: day.AddDate(0, 0, 1)}
	type side struct {
		name  string
		d     headend.Driver
		tg    headend.Target
		p     *proxy
		bytes int64
		cpu   time.Duration
	}
	mk := func(name, proto string, d headend.Driver) *side {
		i := first(b, f, proto)
		tg := targetOf(b, d, f, i, clk)
		r, _ := f.Row(i)
		p := newProxy(b, r.Address.String())
		tg.Meter.Address = p.addr()
		return &side{name: name, d: d, tg: tg, p: p}
	}
	sides := []*side{mk("c1222", sim.ProtocolC1222, c12driver.NewC1222(c12driver.Config{})),
		mk("dlms", sim.ProtocolDLMS, dlmsdriver.New(dlmsdriver.Config{}))}
	session := func(s *side) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ss, err := s.d.Open(ctx, s.tg)
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		col, err := ss.Collect(ctx, plan)
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		if !col.Complete || len(col.Blocks) == 0 {
			b.Fatalf("%s: collection of the day incomplete: %d blocks, problems %v", s.name, len(col.Blocks), col.Problems)
		}
		if err := ss.Close(ctx); err != nil {
			b.Fatalf("%s: close: %v", s.name, err)
		}
	}
	// One session of each first: the templates and object models are
	// learned once per kind of meter, not in every session.
	for _, s := range sides {
		session(s)
		s.p.bytes(b)
		s.p.up.Store(0)
		s.p.down.Store(0)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, s := range sides {
			c0 := cpuTime()
			session(s)
			s.cpu += cpuTime() - c0
		}
	}
	b.StopTimer()
	n := float64(b.N)
	for _, s := range sides {
		s.bytes = s.p.bytes(b)
		b.ReportMetric(float64(s.bytes)/n, s.name+"-bytes/session")
		b.ReportMetric(float64(s.cpu.Microseconds())/n, s.name+"-cpu-µs/session")
	}
	c, d := sides[0], sides[1]
	b.ReportMetric(float64(c.bytes)/float64(d.bytes), "c1222/dlms-bytes")
	if d.cpu > 0 {
		b.ReportMetric(c.cpu.Seconds()/d.cpu.Seconds(), "c1222/dlms-cpu")
	}
}
