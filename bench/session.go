package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amigo-ami/amigo/cim"
	"github.com/amigo-ami/amigo/dlms"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/headend"
	"github.com/amigo-ami/amigo/headend/dlmsdriver"
	"github.com/amigo-ami/amigo/manifest"
)

// memCounters keeps invocation counters in memory: each meter's counter
// must only grow, across every session of the run.
type memCounters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *memCounters) forMeter(id string) headend.Counters { return meterCounters{c, id} }

type meterCounters struct {
	c  *memCounters
	id string
}

func (m meterCounters) Reserve(_ context.Context, name string, n uint32) (uint64, error) {
	m.c.mu.Lock()
	defer m.c.mu.Unlock()
	k := m.id + "/" + name
	first := m.c.m[k] + 1
	m.c.m[k] += uint64(n)
	return first, nil
}

// sessionTarget is how the head-end reaches a manifest row; without
// security it uses the public client, which reads the same objects.
func sessionTarget(drv *dlmsdriver.Driver, r manifest.Row, secure bool, cs *memCounters) (headend.Target, error) {
	m := cim.Meter{MRID: r.Serial, Protocol: "dlms", Address: "tcp://" + r.Address.String()}
	creds, err := dlmsdriver.Credentials{Transport: dlms.LinkWrapper, ClientSAP: 16, Authentication: security.MechanismNone, SecurityPolicy: security.PolicyNone}.Marshal()
	if secure {
		var reg headend.Registration
		reg, err = drv.Register(r)
		creds = reg.Credentials
	}
	if err != nil {
		return headend.Target{}, err
	}
	return headend.Target{Meter: m, Credentials: creds, Location: time.UTC, Counters: cs.forMeter(r.Serial),
		Now: func() time.Time { return benchStart }}, nil
}

// sessionPlan reads the whole day before benchStart.
func sessionPlan() headend.Plan {
	day := benchStart.Truncate(24 * time.Hour)
	return headend.Plan{Backfill: day.Add(-24 * time.Hour), Until: day}
}

func runSession(ctx context.Context, o Options) ([]Result, error) {
	meters, sessions, workers := 64, 2000, 4
	if o.Tiny {
		meters, sessions = 8, 40
	}
	sim, err := startSim(ctx, o, meters)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	cs := &memCounters{m: map[string]uint64{}}
	drv := dlmsdriver.New(dlmsdriver.Config{})
	type side struct {
		perSec             float64
		clientUS, serverUS float64
		readings           int64
	}
	one := func(secure bool) (side, error) {
		targets := make([]headend.Target, meters)
		for i := range targets {
			if targets[i], err = sessionTarget(drv, sim.rows[i], secure, cs); err != nil {
				return side{}, err
			}
		}
		var next, readings atomic.Int64
		var firstErr error
		var errOnce sync.Once
		cpu0, srv0, t0 := selfCPU(), procCPU(sim.pid()), time.Now()
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := int(next.Add(1) - 1); i < sessions; i = int(next.Add(1) - 1) {
					r := sim.rows[i%meters]
					n, err := oneSession(ctx, drv, targets[i%meters])
					if err != nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("meter %s: %w", r.Serial, err) })
						return
					}
					readings.Add(int64(n))
				}
			})
		}
		wg.Wait()
		if firstErr != nil {
			return side{}, firstErr
		}
		el := time.Since(t0)
		return side{perSec: float64(sessions) / el.Seconds(),
			clientUS: float64((selfCPU() - cpu0).Microseconds()) / float64(sessions),
			serverUS: float64((procCPU(sim.pid()) - srv0).Microseconds()) / float64(sessions),
			readings: readings.Load()}, nil
	}
	// One unmeasured pass of each warms the connections' paths and the
	// meters' caches of the day.
	if _, err := one(false); err != nil {
		return nil, fmt.Errorf("public client: %w", err)
	}
	plain, err := one(false)
	if err != nil {
		return nil, fmt.Errorf("public client: %w", err)
	}
	secure, err := one(true)
	if err != nil {
		return nil, fmt.Errorf("HLS-GMAC client: %w", err)
	}
	perSession := float64(secure.readings) / float64(sessions)
	return []Result{
		{Metric: "sessions/s, HLS-GMAC + authenticated encryption", Value: secure.perSec, Unit: "sessions/s",
			Baseline: "no security", BaselineValue: plain.perSec,
			Note: fmt.Sprintf("%d workers; each session: connect, associate, read the day's two-channel 15-min profile (%.0f readings), registers, billing profile and event logs, release", workers, perSession)},
		{Metric: "client CPU per session, secured", Value: secure.clientUS, Unit: "µs", Baseline: "no security", BaselineValue: plain.clientUS},
		{Metric: "meter (simulator) CPU per session, secured", Value: secure.serverUS, Unit: "µs", Baseline: "no security", BaselineValue: plain.serverUS,
			Note: "from /proc in 10 ms ticks"},
	}, nil
}

// oneSession opens, collects one day and closes, returning the readings.
func oneSession(ctx context.Context, drv *dlmsdriver.Driver, t headend.Target) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := drv.Open(ctx, t)
	if err != nil {
		return 0, err
	}
	c, err := s.Collect(ctx, sessionPlan())
	if cerr := s.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range c.Blocks {
		n += len(b.Readings)
	}
	if n == 0 {
		return 0, fmt.Errorf("the session read no interval readings")
	}
	return n, nil
}
