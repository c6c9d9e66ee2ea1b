package outage_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/distribution"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/reliability"
)

type cut struct{ from, to time.Time }

type delivery struct {
	at time.Time
	s  outage.Signal
}

type pingFunc func(outage.Target) bool

func (f pingFunc) Ping(_ context.Context, t outage.Target) (bool, error) { return f(t), nil }

func relDiff(a, b float64) float64 {
	if b == 0 {
		return a
	}
	return math.Abs(a-b) / b
}

// TestMonthOnTheDistributionNetwork replays a month of the simulator's
// distribution network of 10,000 meters (its default mix: reclosers,
// feeder, transformer and service faults, planned works, storms with
// nested damage, cold-load pickups), a fifth of last gasps lost and its
// false gasps, with the signals its ground truth implies and pings
// answered from it, and holds the engine to the truth.
func TestMonthOnTheDistributionNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of 10,000 meters")
	}
	const meters = 10_000
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cfg := distribution.DefaultConfig(22, meters, from)
	net, err := distribution.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	to := from.AddDate(0, 0, cfg.Days)
	g := net.Topology()
	rng := rand.New(rand.NewPCG(22, 9))
	jitter := func(max time.Duration) time.Duration { return time.Duration(rng.Int64N(int64(max))) }

	// Each meter's cuts, and the signals they imply.
	cuts := make(map[string][]cut, meters)
	var sig []delivery
	falseGasps, gasps := 0, 0
	for id := uint64(1); id <= meters; id++ {
		up := distribution.UsagePoint(id)
		net.Cuts(id, from.Unix(), to.Add(24*time.Hour).Unix(), func(a, b int64) {
			c := cut{time.Unix(a, 0).UTC(), time.Unix(b, 0).UTC()}
			cuts[up] = append(cuts[up], c)
			if net.LastGasp(id, a) {
				gasps++
				sig = append(sig, delivery{c.from.Add(jitter(5 * time.Second)), outage.Signal{Meter: "m", UsagePoint: up, Kind: outage.LastGasp, At: c.from}})
			}
			sig = append(sig, delivery{c.to.Add(jitter(10 * time.Second)), outage.Signal{UsagePoint: up, Kind: outage.PowerRestored, At: c.to}})
		})
		net.FalseGasps(id, from.Unix(), to.Unix(), func(at int64) {
			falseGasps++
			sig = append(sig, delivery{time.Unix(at, 0).UTC(), outage.Signal{UsagePoint: up, Kind: outage.LastGasp, At: time.Unix(at, 0).UTC()}})
		})
	}
	powered := func(up string, at time.Time) bool {
		for _, c := range cuts[up] {
			if !at.Before(c.from) && at.Before(c.to) {
				return false
			}
		}
		return true
	}
	// A daily read at 00:30 with the event log of the day before.
	for day := from.Add(24*time.Hour + 30*time.Minute); day.Before(to.Add(48 * time.Hour)); day = day.Add(24 * time.Hour) {
		for id := uint64(1); id <= meters; id++ {
			up := distribution.UsagePoint(id)
			if !powered(up, day) {
				sig = append(sig, delivery{day, outage.Signal{UsagePoint: up, Kind: outage.ReadMissed, At: day}})
				continue
			}
			sig = append(sig, delivery{day, outage.Signal{UsagePoint: up, Kind: outage.ReadOK, At: day}})
			for _, c := range cuts[up] {
				if c.to.Before(day) && !c.to.Before(day.Add(-24*time.Hour)) {
					sig = append(sig, delivery{day, outage.Signal{UsagePoint: up, Kind: outage.PowerRestored, At: c.to, DownSince: c.from}})
				}
			}
		}
	}
	slices.SortStableFunc(sig, func(a, b delivery) int { return a.at.Compare(b.at) })

	now := from
	var pings atomic.Int64
	e := outage.NewEngine(outage.Config{}, g, pingFunc(func(tg outage.Target) bool { pings.Add(1); return powered(tg.UsagePoint, now) }))
	final := map[string]outage.Event{}
	var ids []string
	for next := 0; now.Before(to.Add(49 * time.Hour)); {
		now = now.Add(10 * time.Second)
		for ; next < len(sig) && !sig[next].at.After(now); next++ {
			if err := e.Observe(sig[next].s); err != nil {
				t.Fatal(err)
			}
		}
		for _, ev := range e.Advance(context.Background(), now) {
			if _, ok := final[ev.ID]; !ok {
				ids = append(ids, ev.ID)
			}
			final[ev.ID] = ev
		}
	}
	if open := e.Open(); len(open) > 0 {
		t.Errorf("%d outages still open at the end, first %+v", len(open), open[0])
	}

	truths := net.Outages(from, to)
	byDev := map[string][]int{}
	var sus, mom []int
	for i, o := range truths {
		byDev[o.Device] = append(byDev[o.Device], i)
		if o.Kind == distribution.Momentary {
			mom = append(mom, i)
		} else {
			sus = append(sus, i)
		}
	}
	// An engine outage matches a true one of its device starting at the
	// same time, or, nested under an enclosing outage, ending at the same
	// time (it continues from the enclosing outage's start).
	const tol = time.Minute
	match := func(ev outage.Event) int {
		for _, i := range byDev[ev.Device] {
			o := truths[i]
			if ev.Start.Sub(o.Start).Abs() <= tol || (ev.Parent != "" && ev.End.Sub(o.End).Abs() <= tol) {
				return i
			}
		}
		return -1
	}
	matched := map[int]bool{}
	engSus, engMom, tp, momOK, dismissed, late := 0, 0, 0, 0, 0, 0
	var lat []time.Duration
	for _, id := range ids {
		ev := final[id]
		if ev.State == outage.Dismissed {
			dismissed++
			continue
		}
		i := match(ev)
		isMom := ev.State == outage.Momentary
		if isMom {
			engMom++
		} else {
			engSus++
		}
		if i < 0 {
			if !isMom {
				t.Logf("no true outage for %s %s %s %s..%s parent %q", ev.State, ev.Level, ev.Device, ev.Start.Format(time.DateTime), ev.End.Format(time.TimeOnly), ev.Parent)
			}
			continue
		}
		o := truths[i]
		if isMom != (o.Kind == distribution.Momentary) {
			continue
		}
		matched[i] = true
		if isMom {
			momOK++
			continue
		}
		tp++
		// Power is back at the meters when the cut they saw ends: later
		// than the device's own repair when an enclosing device was still
		// out (a storm's transformer under a feeder tripped later).
		back := o.End
		for _, c := range cuts[g.Services(o.Device)[0]] {
			if !o.Start.Before(c.from) && o.Start.Before(c.to) {
				back = c.to
			}
		}
		if !ev.End.Equal(back) {
			t.Errorf("%s: end %s, power back at %s", ev.ID, ev.End, back)
		}
		if ev.DetectedAt.Before(back) {
			lat = append(lat, ev.VerifiedAt.Sub(back))
		} else {
			late++
		}
	}
	found := 0
	for _, i := range sus {
		if matched[i] {
			found++
		} else {
			o := truths[i]
			t.Logf("missed %s %s %s %s..%s (%s)", o.Kind, o.Level, o.Device, o.Start.Format(time.DateTime), o.End.Format(time.TimeOnly), o.Cause)
		}
	}
	momFound := 0
	for _, i := range mom {
		if matched[i] {
			momFound++
		}
	}
	precision := float64(tp) / float64(max(engSus, 1))
	recall := float64(found) / float64(max(len(sus), 1))
	slices.Sort(lat)
	t.Logf("%d meters, %d days: truth %d sustained (planned included), %d momentary; %d gasps received, %d false, %d dismissed; %d pings",
		meters, cfg.Days, len(sus), len(mom), gasps, falseGasps, dismissed, pings.Load())
	t.Logf("sustained: engine %d, matched %d: precision %.3f recall %.3f; momentary: %d of %d found, engine %d",
		engSus, tp, precision, recall, momFound, len(mom), engMom)
	if len(lat) > 0 {
		t.Logf("verified after true restoration (%d found while out): min %s median %s p95 %s max %s; %d found only after restoration",
			len(lat), lat[0], lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1], late)
	}
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.3f recall %.3f, want >= 0.95", precision, recall)
	}
	if len(lat) == 0 || lat[len(lat)-1] > time.Minute || lat[0] < 0 {
		t.Errorf("verification latencies from %v to %v, want 0..60 s", lat[0], lat[len(lat)-1])
	}
	if dismissed < falseGasps || dismissed > falseGasps*11/10+1 {
		t.Errorf("%d dismissed for %d false gasps", dismissed, falseGasps)
	}
	if float64(momFound) < 0.95*float64(len(mom)) {
		t.Errorf("momentary: %d of %d", momFound, len(mom))
	}

	// The indices by package reliability, from the truth's outages and
	// from the engine's, momentary ones included (MAIFI).
	var trueOuts, engOuts []reliability.Outage
	for _, o := range truths {
		trueOuts = append(trueOuts, reliability.Outage{Device: o.Device, Start: o.Start, End: o.End})
	}
	for _, id := range ids {
		if ev := final[id]; ev.State != outage.Dismissed {
			engOuts = append(engOuts, reliability.Outage{Device: ev.Device, Start: ev.Start, End: ev.End})
		}
	}
	served := reliability.ServedBy(g)
	rt := reliability.Indices(reliability.Expand(g, trueOuts), served, 5*time.Minute, from, to, false, reliability.MEDThreshold{}).Total
	re := reliability.Indices(reliability.Expand(g, engOuts), served, 5*time.Minute, from, to, false, reliability.MEDThreshold{}).Total
	saidiT, saifiT, saidiE, saifiE := rt.SAIDI, rt.SAIFI, re.SAIDI, re.SAIFI
	t.Logf("MAIFI truth %.4f engine %.4f; CAIDI truth %.1f engine %.1f min", rt.MAIFI, re.MAIFI, rt.CAIDI, re.CAIDI)
	if relDiff(re.MAIFI, rt.MAIFI) > 0.05 {
		t.Errorf("MAIFI %.4f vs %.4f", re.MAIFI, rt.MAIFI)
	}
	t.Logf("SAIDI truth %.2f engine %.2f min; SAIFI truth %.4f engine %.4f", saidiT, saidiE, saifiT, saifiE)
	if relDiff(saidiE, saidiT) > 0.01 || relDiff(saifiE, saifiT) > 0.01 {
		t.Errorf("SAIDI %.2f vs %.2f, SAIFI %.4f vs %.4f: more than 1 %% apart", saidiE, saidiT, saifiE, saifiT)
	}
}
