package outage_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/distribution"
	"github.com/amigo-ami/amigo/outage"
	"github.com/amigo-ami/amigo/reliability"
	"github.com/amigo-ami/amigo/topology"
)

// A nested case by hand: a feeder out 12:37-16:55 with two transformers
// under it; TR-B's fuse blew 12:30 (before the feeder) and TR-C stays out
// until 18:26 after the feeder comes back. One service has no logs (an
// offline meter) and one meter's clock is 70 s fast.
func TestReconstructNested(t *testing.T) {
	nodes := []topology.Node{{ID: "SS", Level: topology.Substation}, {ID: "FD", Level: topology.Feeder, Parent: "SS"}, {ID: "FD2", Level: topology.Feeder, Parent: "SS"}}
	svc := func(tr string, n int) []string {
		nodes = append(nodes, topology.Node{ID: tr, Level: topology.Transformer, Parent: "FD"})
		var out []string
		for i := range n {
			id := tr + "-" + string(rune('a'+i))
			nodes = append(nodes, topology.Node{ID: id, Level: topology.Service, Parent: tr})
			out = append(out, id)
		}
		return out
	}
	a, b, c := svc("TR-A", 4), svc("TR-B", 3), svc("TR-C", 2)
	nodes = append(nodes, topology.Node{ID: "TR-Z", Level: topology.Transformer, Parent: "FD2"}, topology.Node{ID: "z", Level: topology.Service, Parent: "TR-Z"})
	g, err := topology.New(nodes)
	if err != nil {
		t.Fatal(err)
	}
	at := func(hm string) time.Time {
		v, _ := time.Parse("2006-01-02 15:04:05", "2026-11-27 "+hm)
		return v
	}
	var logs []outage.Logged
	for i, s := range a {
		if i == 3 {
			continue // offline meter: no log
		}
		down := at("12:37:52")
		if i == 1 {
			down = down.Add(70 * time.Second)
		}
		logs = append(logs, outage.Logged{UsagePoint: s, Down: down, Up: at("16:55:31")})
	}
	for _, s := range b {
		logs = append(logs, outage.Logged{UsagePoint: s, Down: at("12:30:52"), Up: at("16:55:31")})
	}
	for _, s := range c {
		logs = append(logs, outage.Logged{UsagePoint: s, Down: at("12:37:52"), Up: at("18:26:14")})
	}
	// A momentary on the other feeder's lone service, and a single service
	// under TR-A out on its own later.
	logs = append(logs, outage.Logged{UsagePoint: "z", Down: at("13:00:00"), Up: at("13:00:02")},
		outage.Logged{UsagePoint: a[0], Down: at("17:10:00"), Up: at("17:40:00")})
	got := outage.Reconstruct(g, logs, outage.Config{}, at("23:00:00"))
	type key struct {
		dev    string
		start  string
		end    string
		state  outage.State
		parent bool
	}
	want := map[key]bool{
		{"TR-B", "12:30:52", "16:55:31", outage.Verified, false}:   true,
		{"FD", "12:37:52", "16:55:31", outage.Verified, false}:     true,
		{"TR-C", "12:37:52", "18:26:14", outage.Verified, true}:    true,
		{"TR-Z", "13:00:00", "13:00:02", outage.Momentary, false}:  true,
		{"TR-A-a", "17:10:00", "17:40:00", outage.Verified, false}: true,
	}
	for _, ev := range got {
		k := key{ev.Device, ev.Start.Format(time.TimeOnly), ev.End.Format(time.TimeOnly), ev.State, ev.Parent != ""}
		if !want[k] {
			t.Errorf("unexpected %+v", k)
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("missing %+v", k)
	}
}

// A month of a distribution network's outages rebuilt from nothing but the
// meters' event logs, as a collection brings them in days later: every
// meter's clock off by up to a minute either way, and 1 % of the meters
// never read. The outages match the ground truth at the right level and
// the indices equal the truth's within 1 %.
func TestReconstructMonthFromLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of 10,000 meters")
	}
	const meters = 10_000
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	cfg := distribution.DefaultConfig(23, meters, from)
	net, err := distribution.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	to := from.AddDate(0, 0, cfg.Days)
	g := net.Topology()
	rng := rand.New(rand.NewPCG(23, 1))
	silent := map[string]bool{}
	var logs []outage.Logged
	for id := uint64(1); id <= meters; id++ {
		up := distribution.UsagePoint(id)
		if rng.IntN(100) == 0 {
			silent[up] = true
			continue
		}
		skew := time.Duration(rng.Int64N(int64(2*time.Minute))) - time.Minute
		net.Cuts(id, from.Unix(), to.Unix(), func(a, b int64) {
			logs = append(logs, outage.Logged{UsagePoint: up, Down: time.Unix(a, 0).UTC().Add(skew), Up: time.Unix(b, 0).UTC().Add(skew)})
		})
	}
	rng.Shuffle(len(logs), func(i, j int) { logs[i], logs[j] = logs[j], logs[i] })
	got := outage.Reconstruct(g, logs, outage.Config{}, to)

	truths := net.Outages(from, to)
	// A true outage the meters cannot see: all its services silent, or
	// nested inside an enclosing one that began before and ended after
	// it (its meters were dark all along).
	visible := func(o distribution.TrueOutage) bool {
		for _, s := range g.Services(o.Device) {
			if silent[s] {
				continue
			}
			id := serviceID(s)
			seen := false
			net.Cuts(id, o.Start.Unix()-1, o.End.Unix()+1, func(a, b int64) {
				if a == o.Start.Unix() || b == o.End.Unix() {
					seen = true
				}
			})
			if seen {
				return true
			}
		}
		return false
	}
	const tol = 2 * time.Minute
	matched := map[int]bool{}
	tp, sus := 0, 0
	for _, ev := range got {
		if ev.State == outage.Momentary {
			continue
		}
		sus++
		hit := false
		for i, o := range truths {
			if o.Device == ev.Device && (ev.Start.Sub(o.Start).Abs() <= tol || (ev.Parent != "" && ev.End.Sub(o.End).Abs() <= tol)) {
				matched[i] = true
				hit = true
				tp++
				break
			}
		}
		if !hit {
			t.Logf("no true outage for %s %s %s..%s parent %q", ev.Level, ev.Device, ev.Start.Format(time.DateTime), ev.End.Format(time.TimeOnly), ev.Parent)
		}
	}
	want, found := 0, 0
	for i, o := range truths {
		if o.Kind == distribution.Momentary || !visible(o) {
			continue
		}
		want++
		if matched[i] {
			found++
		} else {
			t.Logf("missed %s %s %s %s..%s", o.Kind, o.Level, o.Device, o.Start.Format(time.DateTime), o.End.Format(time.TimeOnly))
		}
	}
	precision, recall := float64(tp)/float64(max(sus, 1)), float64(found)/float64(max(want, 1))
	t.Logf("%d outages rebuilt (%d sustained) from %d logged interruptions; truth %d visible sustained; precision %.3f recall %.3f",
		len(got), sus, len(logs), want, precision, recall)
	if precision < 0.95 || recall < 0.95 {
		t.Errorf("precision %.3f recall %.3f, want >= 0.95", precision, recall)
	}

	var trueOuts, gotOuts []reliability.Outage
	for _, o := range truths {
		trueOuts = append(trueOuts, reliability.Outage{Device: o.Device, Start: o.Start, End: o.End})
	}
	for _, ev := range got {
		gotOuts = append(gotOuts, reliability.Outage{Device: ev.Device, Start: ev.Start, End: ev.End})
	}
	served := reliability.ServedBy(g)
	rt := reliability.Indices(dropSilent(reliability.Expand(g, trueOuts), silent), served, 5*time.Minute, from, to, false, reliability.MEDThreshold{}).Total
	re := reliability.Indices(dropSilent(reliability.Expand(g, gotOuts), silent), served, 5*time.Minute, from, to, false, reliability.MEDThreshold{}).Total
	t.Logf("SAIDI truth %.2f rebuilt %.2f min; SAIFI truth %.4f rebuilt %.4f; MAIFI truth %.4f rebuilt %.4f",
		rt.SAIDI, re.SAIDI, rt.SAIFI, re.SAIFI, rt.MAIFI, re.MAIFI)
	if relDiff(re.SAIDI, rt.SAIDI) > 0.01 || relDiff(re.SAIFI, rt.SAIFI) > 0.01 {
		t.Errorf("SAIDI %.2f vs %.2f, SAIFI %.4f vs %.4f: more than 1 %% apart", re.SAIDI, rt.SAIDI, re.SAIFI, rt.SAIFI)
	}
}

// dropSilent leaves out the interruptions of services whose meters were
// never read: no log can tell of them, so neither side counts them.
func dropSilent(ints []reliability.Interruption, silent map[string]bool) []reliability.Interruption {
	out := ints[:0:0]
	for _, in := range ints {
		if !silent[in.Service] {
			out = append(out, in)
		}
	}
	return out
}

func serviceID(up string) uint64 {
	var id uint64
	for _, c := range up[2:] {
		id = id*10 + uint64(c-'0')
	}
	return id
}
