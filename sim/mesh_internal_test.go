package sim

import (
	"math"
	"testing"
	"time"
)

// The link layer hides most per-hop loss: an exchange is lost end to end
// about as often as a frame fails every try on some hop, and each retry
// shows as one more round trip on that hop.
func TestPathLossAndRetries(t *testing.T) {
	m, err := newMesh(Mesh{Collectors: 1, Hop: HopClass{Latency: time.Millisecond}, HopLoss: 0.3, Retries: 2}, 11, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var exchanges, lost int
	var hops int
	for i := range 1000 {
		p := m.path(i, 1)
		hops += p.hops
		for range 50 {
			d, ok := p.exchange(0, 0)
			exchanges++
			if !ok {
				lost++
				continue
			}
			tries := int(d / (2 * time.Millisecond))
			if tries < p.hops || d%(2*time.Millisecond) != 0 {
				t.Fatalf("meter %d: %v for %d hops", i, d, p.hops)
			}
		}
	}
	meanHops := float64(hops) / 1000
	want := 1 - math.Pow(1-math.Pow(0.3, 3), meanHops) // a hop fails all 3 tries
	got := float64(lost) / float64(exchanges)
	if math.Abs(got-want) > 0.25*want {
		t.Fatalf("%.4f of exchanges lost, want about %.4f (%.2f hops on average)", got, want, meanHops)
	}
	// The same meter's same session loses the same exchanges.
	a, b := m.path(7, 3), m.path(7, 3)
	for range 100 {
		da, oka := a.exchange(10, 20)
		db, okb := b.exchange(10, 20)
		if da != db || oka != okb {
			t.Fatal("the same session's draws differ")
		}
	}
}

// Bad mesh settings are refused with a clear error.
func TestMeshConfigErrors(t *testing.T) {
	for _, c := range []Mesh{{Collectors: 0}, {Collectors: 11}, {Collectors: 2, Rural: 2}, {Collectors: 2, HopLoss: 1},
		{Collectors: 2, Down: []string{"col-0009"}}, {Collectors: 2, Down: []string{"nonsense"}}, {Collectors: 2, DownFraction: -1}} {
		if _, err := newMesh(c, 1, 10); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	m, err := newMesh(Mesh{Collectors: 100, DownFraction: 0.2}, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.down); n < 8 || n > 35 {
		t.Fatalf("%d of 100 collectors down at a fraction of 0.2", n)
	}
}
