package distribution

import (
	"bytes"
	"encoding/csv"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

var month = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func build(t testing.TB, cfg Config) *Network {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSameSeedSameNetwork(t *testing.T) {
	cfg := DefaultConfig(42, 3000, month)
	a, b := build(t, cfg), build(t, cfg)
	if !reflect.DeepEqual(a.Topology().Nodes(), b.Topology().Nodes()) {
		t.Fatal("same seed, different trees")
	}
	end := month.AddDate(0, 0, cfg.Days)
	if !reflect.DeepEqual(a.Outages(month, end), b.Outages(month, end)) {
		t.Fatal("same seed, different ground truth")
	}
	for id := uint64(1); id <= 3000; id += 97 {
		for t0 := month.Unix(); t0 < end.Unix(); t0 += 86400*3 + 3607 {
			if a.VoltagePM(id, t0) != b.VoltagePM(id, t0) {
				t.Fatalf("meter %d at %d: voltages differ", id, t0)
			}
		}
	}
	cfg.Seed = 43
	c := build(t, cfg)
	if reflect.DeepEqual(a.Outages(month, end), c.Outages(month, end)) {
		t.Fatal("another seed gives the same ground truth")
	}
}

func TestTree(t *testing.T) {
	cfg := DefaultConfig(1, 45_000, month)
	cfg.Rural = 0.3
	n := build(t, cfg)
	g := n.Topology()
	if g.Total() != 45_000 {
		t.Fatalf("%d services, want 45000", g.Total())
	}
	subs, feeds, trans := g.At(topology.Substation), g.At(topology.Feeder), g.At(topology.Transformer)
	if len(subs) < 2 || len(subs) > 3 {
		t.Errorf("%d substations for 45000 services, want about one per 20000", len(subs))
	}
	if per := 45_000 / len(feeds); per < 700 || per > 2000 {
		t.Errorf("%d feeders: %d services each, want 1000-2000 urban, fewer rural", len(feeds), per)
	}
	var rural, urban int
	for _, tr := range trans {
		c := g.Customers(tr.ID)
		if c < 1 || c > 40 {
			t.Fatalf("transformer %s has %d services", tr.ID, c)
		}
		if c <= 6 {
			rural++
		} else {
			urban++
		}
	}
	if rural == 0 || urban == 0 {
		t.Errorf("%d small and %d large transformers, want both", rural, urban)
	}
	// Services are the meters' usage points in order, each placed, phased
	// and at a distance.
	for i := 0; i < 45_000; i += 1111 {
		id := UsagePoint(uint64(i) + 1)
		s, ok := g.Node(id)
		if !ok || s.Level != topology.Service {
			t.Fatalf("no service %s", id)
		}
		if s.Phase < 1 || s.Phase > 3 || s.DistanceM <= 0 || math.Abs(s.Lat-townLat) > 0.5 || math.Abs(s.Lon-townLon) > 0.5 {
			t.Fatalf("service %+v", s)
		}
		if s.Region != region(uint64(i)+1) {
			t.Fatalf("service %s in %s, want %s", id, s.Region, region(uint64(i)+1))
		}
		if len(g.Path(id)) != 4 {
			t.Fatalf("service %s: path %v", id, g.Path(id))
		}
	}
	// Neighbouring meters share a transformer, as a street does.
	a, _ := g.Ancestor(UsagePoint(1), topology.Transformer)
	b, _ := g.Ancestor(UsagePoint(2), topology.Transformer)
	if a.ID != b.ID {
		t.Errorf("meters 1 and 2 on %s and %s", a.ID, b.ID)
	}
}

func TestBadConfig(t *testing.T) {
	for _, mod := range []func(*Config){
		func(c *Config) { c.Meters = 0 },
		func(c *Config) { c.Days = -1 },
		func(c *Config) { c.Rural = 1.5 },
		func(c *Config) { c.LastGaspLoss = -0.1 },
		func(c *Config) { c.OutOfBounds = 2 },
		func(c *Config) { c.SagsPerFeederYear = -1 },
	} {
		cfg := DefaultConfig(1, 10, month)
		mod(&cfg)
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: err %v, want ErrConfig", cfg, err)
		}
	}
}

// TestMonthMix checks a month of 10,000 meters against the rates: counts
// per kind and level in plausible ranges, nested outages, and a major
// event day.
func TestMonthMix(t *testing.T) {
	n := build(t, DefaultConfig(2026, 10_000, month))
	g := n.Topology()
	end := month.AddDate(0, 0, 30)
	outs := n.Outages(month, end)
	count := map[string]int{}
	for _, o := range outs {
		count[string(o.Level)+"/"+string(o.Kind)]++
		if o.Start.Before(month) || !o.Start.Before(end) {
			t.Fatalf("%s starts outside the window", o.ID)
		}
		d := o.Duration()
		switch o.Kind {
		case Momentary:
			if d <= 0 || d >= 5*time.Minute {
				t.Errorf("momentary %s lasts %v", o.ID, d)
			}
		case Sustained:
			if d < 10*time.Minute || d > 9*time.Hour {
				t.Errorf("sustained %s lasts %v", o.ID, d)
			}
		case Planned:
			h := o.Start.Hour()
			if o.Level != topology.Transformer || h < 8 || h > 14 || d < time.Hour || d > 4*time.Hour {
				t.Errorf("planned %s: %s at %v for %v", o.ID, o.Level, o.Start, d)
			}
		}
		if o.Customers != g.Customers(o.Device) || o.Customers == 0 {
			t.Errorf("%s: %d customers, the tree says %d", o.ID, o.Customers, g.Customers(o.Device))
		}
	}
	t.Logf("a month of 10000 meters: %v", count)
	for k, r := range map[string][2]int{
		"feeder/momentary":      {3, 40},
		"feeder/sustained":      {1, 10},
		"transformer/sustained": {5, 60},
		"transformer/planned":   {1, 20},
		"service/sustained":     {5, 50},
		"substation/sustained":  {0, 1},
		"feeder/planned":        {0, 0},
		"service/momentary":     {0, 0},
		"transformer/momentary": {0, 0},
		"substation/momentary":  {0, 0},
		"substation/planned":    {0, 0},
		"service/planned":       {0, 0},
	} {
		if c := count[k]; c < r[0] || c > r[1] {
			t.Errorf("%s: %d in a month, want %d..%d", k, c, r[0], r[1])
		}
	}
	// Nested: a transformer out while its feeder is, and still out after
	// the feeder comes back.
	nested := 0
	for _, a := range outs {
		if a.Level != topology.Feeder || a.Kind == Momentary {
			continue
		}
		for _, b := range outs {
			if b.Level == topology.Transformer && g.Children(a.Device) != nil && parent(g, b.Device) == a.Device &&
				b.Start.Before(a.End) && b.End.After(a.End) && !b.Start.Before(a.Start) {
				nested++
			}
		}
	}
	t.Logf("%d transformer outages nested in their feeder's", nested)
	if nested < 2 {
		t.Errorf("%d transformer outages nested in their feeder's, want a few", nested)
	}
	// A major event day: daily SAIDI beyond the 2.5β threshold of the
	// month's days.
	daily := make([]float64, 30)
	for _, o := range outs {
		if o.Kind != Momentary {
			daily[int(o.Start.Sub(month)/(24*time.Hour))] += o.Duration().Minutes() * float64(o.Customers) / float64(g.Total())
		}
	}
	var logs []float64
	for _, s := range daily {
		if s > 0 {
			logs = append(logs, math.Log(s))
		}
	}
	var mean, sd float64
	for _, l := range logs {
		mean += l / float64(len(logs))
	}
	for _, l := range logs {
		sd += (l - mean) * (l - mean) / float64(len(logs)-1)
	}
	tmed := math.Exp(mean + 2.5*math.Sqrt(sd))
	t.Logf("daily SAIDI %.2f, T_MED %.2f", daily, tmed)
	if slices.Max(daily) <= tmed {
		t.Errorf("no day beyond T_MED %.2f: %.2f", tmed, daily)
	}
}

func parent(g *topology.Grid, id string) string {
	n, _ := g.Node(id)
	return n.Parent
}

// TestCutsAreTheUnion checks each sampled meter's cuts against the union
// of the ground-truth outages on its path, computed independently.
func TestCutsAreTheUnion(t *testing.T) {
	cfg := DefaultConfig(7, 5000, month)
	cfg.Mix.TransformerPerYear, cfg.Mix.ServicePerYear = 2, 1 // plenty of overlaps
	n := build(t, cfg)
	g := n.Topology()
	lo, hi := month.Unix(), month.AddDate(0, 0, cfg.Days+1).Unix()
	outs := n.Outages(month, month.AddDate(0, 0, cfg.Days))
	checked := 0
	for id := uint64(1); id <= 5000; id += 7 {
		on := map[string]bool{}
		for _, p := range g.Path(UsagePoint(id)) {
			on[p.ID] = true
		}
		var want [][2]int64
		for _, o := range outs {
			if on[o.Device] {
				want = append(want, [2]int64{o.Start.Unix(), o.End.Unix()})
			}
		}
		slices.SortFunc(want, func(a, b [2]int64) int { return int(a[0] - b[0]) })
		var merged [][2]int64
		for _, w := range want {
			if k := len(merged) - 1; k >= 0 && w[0] <= merged[k][1] {
				merged[k][1] = max(merged[k][1], w[1])
				continue
			}
			merged = append(merged, w)
		}
		var got [][2]int64
		n.Cuts(id, lo, hi, func(a, b int64) { got = append(got, [2]int64{a, b}) })
		if !slices.Equal(got, merged) {
			t.Fatalf("meter %d: cuts %v, union of its outages %v", id, got, merged)
		}
		// Asked in the middle of a cut, the whole cut comes back.
		for _, c := range merged {
			var mid [][2]int64
			n.Cuts(id, (c[0]+c[1])/2, (c[0]+c[1])/2+1, func(a, b int64) { mid = append(mid, [2]int64{a, b}) })
			if len(mid) != 1 || mid[0] != c {
				t.Fatalf("meter %d: asked within %v, got %v", id, c, mid)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("only %d cuts checked", checked)
	}
}

func TestLastGasps(t *testing.T) {
	cfg := DefaultConfig(3, 2000, month)
	n := build(t, cfg)
	sent, cuts := 0, 0
	for id := uint64(1); id <= 2000; id++ {
		n.Cuts(id, month.Unix(), month.AddDate(0, 0, 30).Unix(), func(a, b int64) {
			cuts++
			if n.LastGasp(id, a) {
				sent++
			}
			if again := n.LastGasp(id, a); again != n.LastGasp(id, a) {
				t.Fatal("last gasp not deterministic")
			}
		})
	}
	lost := 1 - float64(sent)/float64(cuts)
	t.Logf("%d cuts, %.3f of last gasps lost", cuts, lost)
	if cuts < 500 || lost < 0.15 || lost > 0.25 {
		t.Errorf("%d cuts, %.3f lost, want about 0.2", cuts, lost)
	}
	falseN := 0
	for id := uint64(1); id <= 2000; id++ {
		var at []int64
		n.FalseGasps(id, month.Unix(), month.AddDate(0, 0, 30).Unix(), func(a int64) { at = append(at, a) })
		falseN += len(at)
		for _, a := range at {
			n.Cuts(id, a, a+1, func(x, y int64) {
				if x <= a && a < y {
					t.Errorf("meter %d: false gasp at %d inside a cut", id, a)
				}
			})
		}
		// The same question in two halves gives the same answer.
		mid := month.AddDate(0, 0, 11).Unix()
		var parts []int64
		n.FalseGasps(id, month.Unix(), mid, func(a int64) { parts = append(parts, a) })
		n.FalseGasps(id, mid, month.AddDate(0, 0, 30).Unix(), func(a int64) { parts = append(parts, a) })
		if !slices.Equal(at, parts) {
			t.Fatalf("meter %d: false gasps %v, in halves %v", id, at, parts)
		}
	}
	share := float64(falseN) / float64(falseN+sent)
	t.Logf("%d false gasps, %.3f of last gasps received", falseN, share)
	if falseN == 0 || share > 0.03 {
		t.Errorf("%d false gasps, %.3f of those received, want about 0.01", falseN, share)
	}
}

// TestOutOfBounds computes 10-minute means of the voltage over a week and
// checks OutOfBounds both ways: its services are outside ±10 % for more
// than 5 % of the means, every other sampled one within for 99 %.
func TestOutOfBounds(t *testing.T) {
	cfg := DefaultConfig(11, 6000, month)
	cfg.Rural, cfg.OutOfBounds, cfg.SagsPerFeederYear = 0.5, 0.04, 200
	cfg.Location, _ = time.LoadLocation("Europe/Amsterdam")
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	n := build(t, cfg)
	week := month.AddDate(0, 0, 7)
	oob := n.OutOfBounds(week)
	if len(oob) == 0 {
		t.Fatal("no usage point out of bounds")
	}
	bad := map[string]bool{}
	for _, u := range oob {
		bad[u] = true
	}
	outside := func(id uint64) float64 {
		out, total := 0, 0
		for w := week.Unix(); w < week.Unix()+7*86400; w += 600 {
			var sum [3]int64
			k := 0
			for s := w; s < w+600; s += 10 {
				v := n.VoltagePM(id, s)
				for p := range sum {
					sum[p] += int64(v[p])
				}
				k++
			}
			for p := range sum {
				if m := sum[p] / int64(k); m > 100 || m < -100 {
					out++
				}
				total++
			}
		}
		return float64(out) / float64(total)
	}
	var worstIn float64
	sampled := 0
	for id := uint64(1); id <= 6000; id++ {
		u := UsagePoint(id)
		if bad[u] {
			if f := outside(id); f <= 0.05 {
				t.Errorf("%s is listed out of bounds but outside only %.3f of the week", u, f)
			}
			sampled++
			continue
		}
		if id%41 == 0 {
			f := outside(id)
			worstIn = max(worstIn, f)
			if f > 0.01 {
				t.Errorf("%s is not listed but outside %.3f of the week", u, f)
			}
			sampled++
		}
	}
	t.Logf("%d out of bounds of 6000, %d sampled, worst in-bounds service outside %.4f", len(oob), sampled, worstIn)
}

func TestDisturbancesShowInTheVoltage(t *testing.T) {
	cfg := DefaultConfig(5, 3000, month)
	cfg.SagsPerFeederYear = 300
	n := build(t, cfg)
	seen := 0
	for id := uint64(1); id <= 3000; id += 150 {
		n.Disturbances(id, month.Unix(), month.AddDate(0, 0, 30).Unix(), func(d Disturbance) {
			if d.Phase < 1 || d.Phase > 3 || d.Dur < 20*time.Millisecond || d.Dur > 3*time.Minute {
				t.Fatalf("meter %d: %+v", id, d)
			}
			if (d.DepthPM < 0 && (d.DepthPM < -900 || d.DepthPM > -100)) || (d.DepthPM > 0 && (d.DepthPM < 100 || d.DepthPM > 200)) {
				t.Fatalf("meter %d: depth %d", id, d.DepthPM)
			}
			if d.Dur < 2*time.Second {
				return
			}
			// A disturbance of whole seconds shows its full depth on its
			// phase, compared with the second before it.
			mid := d.At + int64(d.Dur/time.Second)/2
			before, during := n.VoltagePM(id, d.At-1), n.VoltagePM(id, mid)
			if got := during[d.Phase-1] - before[d.Phase-1]; math.Abs(float64(got-d.DepthPM)) > 60 {
				t.Fatalf("meter %d: %+v moved phase %d by %d", id, d, d.Phase, got)
			}
			seen++
		})
	}
	if seen < 20 {
		t.Fatalf("only %d disturbances checked", seen)
	}
}

func TestWriteCSV(t *testing.T) {
	n := build(t, DefaultConfig(9, 250, month))
	var b bytes.Buffer
	if err := n.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], CSVHeader) || len(recs) != 251 {
		t.Fatalf("header %v, %d rows", recs[0], len(recs))
	}
	g := n.Topology()
	for _, r := range recs[1:] {
		p := g.Path(r[0])
		if len(p) != 4 || p[1].ID != r[1] || p[2].ID != r[2] || p[3].ID != r[3] {
			t.Fatalf("row %v, tree path %v", r, p)
		}
	}
}

// At twelve storms a year every month has one, whatever the seed.
func TestEveryMonthHasAStorm(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		n := build(t, DefaultConfig(seed, 2000, month))
		storm := 0
		for _, o := range n.Outages(month, month.AddDate(0, 0, 30)) {
			if o.Cause == "storm" {
				storm++
			}
		}
		if storm == 0 {
			t.Errorf("seed %d: no storm in the month", seed)
		}
	}
}
