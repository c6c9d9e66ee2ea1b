package outage

import (
	"context"
	"math/rand/v2"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// truth is one real interruption of a device.
type truth struct {
	device string
	level  topology.Level
	start  time.Time
	end    time.Time
}

// month is a simulated month of a grid's real supply.
type month struct {
	g      *topology.Grid
	outs   []truth
	byDev  map[string][]int
	from   time.Time
	to     time.Time
	rng    *rand.Rand
	margin time.Duration
}

func (m *month) powered(svc string, at time.Time) bool {
	for _, n := range m.g.Path(svc) {
		for _, i := range m.byDev[n.ID] {
			if o := m.outs[i]; !at.Before(o.start) && at.Before(o.end) {
				return false
			}
		}
	}
	return true
}

// free reports whether dev and every device above or below it are
// without an outage near [from, to), so that the month's faults do not
// overlap (nested ones are added on purpose).
func (m *month) free(dev string, from, to time.Time) bool {
	related := []string{}
	for _, n := range m.g.Path(dev) {
		related = append(related, n.ID)
	}
	var below func(string)
	below = func(d string) {
		for _, c := range m.g.Children(d) {
			related = append(related, c)
			below(c)
		}
	}
	below(dev)
	for _, d := range related {
		for _, i := range m.byDev[d] {
			o := m.outs[i]
			if from.Before(o.end.Add(m.margin)) && o.start.Before(to.Add(m.margin)) {
				return false
			}
		}
	}
	return true
}

func (m *month) add(o truth) {
	m.byDev[o.device] = append(m.byDev[o.device], len(m.outs))
	m.outs = append(m.outs, o)
}

// place adds n outages at devices of level l lasting between min and max,
// nested (a transformer outlasting its feeder) with probability nest.
func (m *month) place(l topology.Level, n int, min, max time.Duration, nest float64) {
	devs := m.g.At(l)
	for placed := 0; placed < n; {
		d := devs[m.rng.IntN(len(devs))].ID
		start := m.from.Add(time.Duration(m.rng.Int64N(int64(m.to.Sub(m.from) - 12*time.Hour)))).Truncate(time.Second)
		end := start.Add(min + time.Duration(m.rng.Int64N(int64(max-min)))).Truncate(time.Second)
		tail := time.Duration(0)
		if m.rng.Float64() < nest {
			tail = 30*time.Minute + time.Duration(m.rng.IntN(60))*time.Minute
		}
		if !m.free(d, start, end.Add(tail)) {
			continue
		}
		m.add(truth{device: d, level: l, start: start, end: end})
		if tail > 0 {
			kids := m.g.Children(d)
			k := kids[m.rng.IntN(len(kids))]
			m.add(truth{device: k, level: topology.Transformer, start: start, end: end.Add(tail)})
		}
		placed++
	}
}

type delivery struct {
	at time.Time
	s  Signal
}

// TestMonthOnTheGroundTruth replays a month of a 10,000-service grid's
// faults (sustained, nested, momentary, service drops), with a fifth of
// last gasps lost and false gasps from 1 % of meters, and holds the
// engine's outages to the truth.
func TestMonthOnTheGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of 10,000 meters")
	}
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	m := &month{g: testGrid(t, 2, 5, 100, 10), byDev: map[string][]int{}, from: from, to: from.AddDate(0, 1, 0),
		rng: rand.New(rand.NewPCG(22, 7)), margin: 2 * time.Hour}
	m.place(topology.Substation, 1, 40*time.Minute, 2*time.Hour, 0)
	m.place(topology.Feeder, 8, 30*time.Minute, 3*time.Hour, 0.5)
	m.place(topology.Feeder, 20, 5*time.Second, time.Minute, 0)
	m.place(topology.Transformer, 150, 20*time.Minute, 4*time.Hour, 0)
	m.place(topology.Transformer, 20, 30*time.Second, 4*time.Minute, 0)
	m.place(topology.Service, 80, 30*time.Minute, 6*time.Hour, 0)
	const lost = 0.2

	// The signals the meters send: gasps (a fifth lost), restored pushes,
	// false gasps, and a daily read with its event log.
	var sig []delivery
	jitter := func(max time.Duration) time.Duration { return time.Duration(m.rng.Int64N(int64(max))) }
	services := m.g.At(topology.Service)
	// Per service, the interruptions its event log records.
	type logged struct{ down, up time.Time }
	logs := map[string][]logged{}
	for _, svc := range services {
		var cur *logged
		// Walk the service's path outages in time order, merging nested.
		var ivs []truth
		for _, n := range m.g.Path(svc.ID) {
			for _, i := range m.byDev[n.ID] {
				ivs = append(ivs, m.outs[i])
			}
		}
		sort.Slice(ivs, func(a, b int) bool { return ivs[a].start.Before(ivs[b].start) })
		for _, o := range ivs {
			if cur != nil && !o.start.After(cur.up) {
				if o.end.After(cur.up) {
					cur.up = o.end
				}
				continue
			}
			if cur != nil {
				logs[svc.ID] = append(logs[svc.ID], *cur)
			}
			cur = &logged{down: o.start, up: o.end}
		}
		if cur != nil {
			logs[svc.ID] = append(logs[svc.ID], *cur)
		}
		for _, l := range logs[svc.ID] {
			if m.rng.Float64() >= lost {
				sig = append(sig, delivery{l.down.Add(jitter(5 * time.Second)), Signal{UsagePoint: svc.ID, Kind: LastGasp, At: l.down}})
			}
			sig = append(sig, delivery{l.up.Add(jitter(10 * time.Second)), Signal{UsagePoint: svc.ID, Kind: PowerRestored, At: l.up}})
		}
	}
	falseGasps := 0
	for falseGasps < len(services)/100 {
		svc := services[m.rng.IntN(len(services))].ID
		at := from.Add(jitter(m.to.Sub(from) - time.Hour)).Truncate(time.Second)
		if !m.powered(svc, at) || !m.powered(svc, at.Add(10*time.Minute)) {
			continue
		}
		sig = append(sig, delivery{at, Signal{UsagePoint: svc, Kind: LastGasp, At: at}})
		falseGasps++
	}
	for day := from.Add(24*time.Hour + 30*time.Minute); day.Before(m.to.Add(24 * time.Hour)); day = day.Add(24 * time.Hour) {
		for _, svc := range services {
			if !m.powered(svc.ID, day) {
				sig = append(sig, delivery{day, Signal{UsagePoint: svc.ID, Kind: ReadMissed, At: day}})
				continue
			}
			sig = append(sig, delivery{day, Signal{UsagePoint: svc.ID, Kind: ReadOK, At: day}})
			for _, l := range logs[svc.ID] {
				if l.up.Before(day) && !l.up.Before(day.Add(-24*time.Hour)) {
					sig = append(sig, delivery{day, Signal{UsagePoint: svc.ID, Kind: PowerRestored, At: l.up, DownSince: l.down}})
				}
			}
		}
	}
	slices.SortStableFunc(sig, func(a, b delivery) int { return a.at.Compare(b.at) })

	now := from
	var pings atomic.Int64
	e := NewEngine(Config{}, m.g, pingFunc(func(t Target) bool { pings.Add(1); return m.powered(t.UsagePoint, now) }))
	final := map[string]Event{}
	var ids []string
	step := 10 * time.Second
	for next := 0; now.Before(m.to.Add(25 * time.Hour)); {
		now = now.Add(step)
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

	// Match sustained outages by device and start.
	const tol = time.Minute
	sustained := func(d time.Duration) bool { return d >= 5*time.Minute }
	var truthSus, truthMom []int
	for i, o := range m.outs {
		if sustained(o.end.Sub(o.start)) {
			truthSus = append(truthSus, i)
		} else {
			truthMom = append(truthMom, i)
		}
	}
	matchedTruth := map[int]string{}
	engSus, engMom, dismissed, tp := 0, 0, 0, 0
	var lat []time.Duration
	lateDetected := 0
	for _, id := range ids {
		ev := final[id]
		switch ev.State {
		case Dismissed:
			dismissed++
			continue
		case Momentary:
			engMom++
		default:
			engSus++
		}
		hit := -1
		for _, i := range m.byDev[ev.Device] {
			if o := m.outs[i]; (ev.Start.Sub(o.start)).Abs() <= tol {
				hit = i
			}
		}
		if hit < 0 {
			if ev.State != Momentary {
				t.Logf("unmatched: %s %s %s..%s", ev.State, ev.Device, ev.Start.Format(time.DateTime), ev.End.Format(time.TimeOnly))
			}
			continue
		}
		o := m.outs[hit]
		if sustained(o.end.Sub(o.start)) != (ev.State != Momentary) {
			continue
		}
		matchedTruth[hit] = id
		if ev.State != Momentary {
			tp++
			if ev.DetectedAt.Before(o.end) {
				lat = append(lat, ev.VerifiedAt.Sub(o.end))
				if !ev.End.Equal(o.end) {
					t.Errorf("%s: end %s, power came back at %s", ev.ID, ev.End, o.end)
				}
			} else {
				lateDetected++
			}
		}
	}
	recallN := 0
	for _, i := range truthSus {
		if _, ok := matchedTruth[i]; ok {
			recallN++
		} else {
			o := m.outs[i]
			t.Logf("missed: %s %s %s..%s", o.level, o.device, o.start.Format(time.DateTime), o.end.Format(time.TimeOnly))
		}
	}
	momN := 0
	for _, i := range truthMom {
		if _, ok := matchedTruth[i]; ok {
			momN++
		}
	}
	precision := float64(tp) / float64(engSus)
	recall := float64(recallN) / float64(len(truthSus))
	slices.Sort(lat)
	t.Logf("grid %d services; truth: %d sustained, %d momentary; %d false gasps, %d dismissed; %d pings",
		m.g.Total(), len(truthSus), len(truthMom), falseGasps, dismissed, pings.Load())
	t.Logf("sustained: engine %d, matched %d: precision %.3f recall %.3f; momentary classified %d/%d (engine %d)",
		engSus, tp, precision, recall, momN, len(truthMom), engMom)
	if len(lat) > 0 {
		t.Logf("verification after true restoration (%d outages found while out): min %s median %s p95 %s max %s; %d found only after restoration (event log)",
			len(lat), lat[0], lat[len(lat)/2], lat[len(lat)*95/100], lat[len(lat)-1], lateDetected)
	}
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.3f recall %.3f, want >= 0.95", precision, recall)
	}
	if len(lat) == 0 || lat[len(lat)-1] > time.Minute || lat[0] < 0 {
		t.Errorf("verification latencies %v, want 0..60 s", lat)
	}
	if float64(momN) < 0.95*float64(len(truthMom)) || float64(engMom) > 1.05*float64(len(truthMom)) {
		t.Errorf("momentary: %d of %d classified, %d reported", momN, len(truthMom), engMom)
	}
	if dismissed < falseGasps || dismissed > falseGasps*11/10 {
		t.Errorf("%d dismissed for %d false gasps", dismissed, falseGasps)
	}

	// SAIDI and SAIFI: customer interruptions from the truth and from the
	// engine's sustained outages, a customer's nested ones merged.
	var engOuts []truth
	for _, id := range ids {
		if ev := final[id]; ev.State != Dismissed && ev.State != Momentary {
			engOuts = append(engOuts, truth{device: ev.Device, start: ev.Start, end: ev.End})
		}
	}
	var trueOuts []truth
	for _, i := range truthSus {
		trueOuts = append(trueOuts, m.outs[i])
	}
	saidiT, saifiT := indices(m.g, trueOuts)
	saidiE, saifiE := indices(m.g, engOuts)
	t.Logf("SAIDI truth %.3f engine %.3f min; SAIFI truth %.4f engine %.4f", saidiT, saidiE, saifiT, saifiE)
	if rel(saidiE, saidiT) > 0.01 || rel(saifiE, saifiT) > 0.01 {
		t.Errorf("SAIDI %.3f vs %.3f, SAIFI %.4f vs %.4f: more than 1 %% apart", saidiE, saidiT, saifiE, saifiT)
	}
}

type pingFunc func(Target) bool

func (f pingFunc) Ping(_ context.Context, t Target) (bool, error) { return f(t), nil }

func rel(a, b float64) float64 {
	if b == 0 {
		return a
	}
	d := (a - b) / b
	if d < 0 {
		return -d
	}
	return d
}

// indices computes SAIDI (minutes) and SAIFI over the grid's customers,
// merging a customer's overlapping interruptions into one.
func indices(g *topology.Grid, outs []truth) (saidi, saifi float64) {
	per := map[string][]truth{}
	for _, o := range outs {
		for _, s := range g.Services(o.device) {
			per[s] = append(per[s], o)
		}
	}
	var mins float64
	n := 0
	for _, ivs := range per {
		sort.Slice(ivs, func(a, b int) bool { return ivs[a].start.Before(ivs[b].start) })
		var cs, ce time.Time
		for i, o := range ivs {
			if i > 0 && !o.start.After(ce) {
				if o.end.After(ce) {
					ce = o.end
				}
				continue
			}
			if i > 0 {
				mins += ce.Sub(cs).Minutes()
			}
			cs, ce = o.start, o.end
			n++
		}
		mins += ce.Sub(cs).Minutes()
	}
	total := float64(g.Total())
	return mins / total, float64(n) / total
}
