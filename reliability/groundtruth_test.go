package reliability

import (
	"testing"
	"time"

	"github.com/amigo-ami/amigo/distribution"
)

// TestExpandAgreesWithTheSimulatedSupply expands a simulated (rough) month of
// ground-truth outages (storms, nested faults, cold-load pickups and
// reclosers included) on the network's own topology, and checks each
// customer's interruptions against the power cuts the simulated supply
// gives that customer's meter, which the network works out on its own
// from the same outages; then the month's SAIDI both ways.
func TestExpandAgreesWithTheSimulatedSupply(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := distribution.DefaultConfig(7, 5000, start)
	// A rough month: ten times the default faults, so that outages nest.
	m := &cfg.Mix
	for _, f := range []*float64{&m.MomentaryPerFeeder, &m.SubstationPerYear, &m.FeederPerYear, &m.TransformerPerYear, &m.ServicePerYear, &m.PlannedPerTransformer, &m.StormsPerYear} {
		*f *= 10
	}
	n, err := distribution.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	end := start.AddDate(0, 0, cfg.Days)
	var outs []Outage
	for _, o := range n.Outages(start, end) {
		outs = append(outs, Outage{Device: o.Device, Start: o.Start, End: o.End})
	}
	if len(outs) < 50 {
		t.Fatalf("only %d outages in the month", len(outs))
	}
	g := n.Topology()
	ints := Expand(g, outs)
	bySvc := map[string][]Interruption{}
	for _, in := range ints {
		bySvc[in.Service] = append(bySvc[in.Service], in)
	}
	// Customer minutes of sustained interruptions inside the month, from
	// the supply's cuts.
	cmi, nested := 0.0, 0
	for id := uint64(1); id <= uint64(cfg.Meters); id++ {
		up := distribution.UsagePoint(id)
		var cuts [][2]int64
		n.Cuts(id, start.Add(-24*time.Hour).Unix(), end.Add(24*time.Hour).Unix(), func(a, b int64) { cuts = append(cuts, [2]int64{a, b}) })
		got := bySvc[up]
		if len(got) != len(cuts) {
			t.Fatalf("%s: %d interruptions, the supply cut it %d times: %v", up, len(got), len(cuts), cuts)
		}
		for i, c := range cuts {
			if got[i].Start.Unix() != c[0] || got[i].End.Unix() != c[1] {
				t.Fatalf("%s: interruption %d %s–%s, the supply's cut %s–%s", up, i, got[i].Start, got[i].End, time.Unix(c[0], 0).UTC(), time.Unix(c[1], 0).UTC())
			}
			if d := c[1] - c[0]; d > 300 {
				cmi += float64(min(c[1], end.Unix())-max(c[0], start.Unix())) / 60
			}
		}
		// Count customers whose one interruption is made of several
		// outages: the merge is exercised, not just passed through.
		for _, in := range got {
			k := 0
			for _, p := range g.Path(up) {
				for _, o := range outs {
					if o.Device == p.ID && !o.Start.Before(in.Start) && !o.End.After(in.End) {
						k++
					}
				}
			}
			if k > 1 {
				nested++
				break
			}
		}
	}
	if nested == 0 {
		t.Fatal("no customer saw nested or overlapping outages: the month does not test the merge")
	}
	r := Indices(ints, ServedBy(g), 0, start, end, false, MEDThreshold{})
	if want := cmi / float64(cfg.Meters); !near(r.Total.SAIDI, want) {
		t.Fatalf("SAIDI %v, from the supply's cuts %v", r.Total.SAIDI, want)
	}
	t.Logf("%d outages, %d customers with merged outages, SAIDI %.2f min, SAIFI %.3f, CAIDI %.1f min, MAIFI %.3f",
		len(outs), nested, r.Total.SAIDI, r.Total.SAIFI, r.Total.CAIDI, r.Total.MAIFI)
}
