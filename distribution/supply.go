package distribution

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
	"github.com/amigo-ami/amigo/meter"
)

var _ meter.Supply = (*Network)(nil)

// Cuts calls fn for each power cut at meter id overlapping [from, to), in
// start order: the union of its service's, transformer's, feeder's and
// substation's outages, momentary ones included. A cut is reported whole
// (it may start before from or end after to), so its start is the moment
// power went, wherever the question began.
func (n *Network) Cuts(id uint64, from, to int64, fn func(from, to int64)) {
	s, t, f, b, ok := n.path(id)
	if !ok || from >= to {
		return
	}
	lists := [4][]span{n.byNode[0][b], n.byNode[1][f], n.byNode[2][t], n.byNode[3][s]}
	if len(lists[0])+len(lists[1])+len(lists[2])+len(lists[3]) == 0 {
		return
	}
	// Widen the question until no outage touching the merged cuts is left
	// out: a feeder outage that ended inside a transformer's still makes
	// one cut with it.
	lo, hi := from, to
	var all []span
	for {
		all = all[:0]
		for _, l := range lists {
			for _, sp := range l {
				if sp.from > hi {
					break
				}
				if sp.to >= lo {
					all = append(all, sp)
				}
			}
		}
		slices.SortFunc(all, func(a, b span) int { return int(a.from - b.from) })
		nlo, nhi := lo, hi
		if len(all) > 0 {
			nlo = min(lo, all[0].from)
			for _, sp := range all {
				nhi = max(nhi, sp.to)
			}
		}
		if nlo == lo && nhi == hi {
			break
		}
		lo, hi = nlo, nhi
	}
	var cur span
	open := false
	flush := func() {
		if open && cur.to > from && cur.from < to {
			fn(cur.from, cur.to)
		}
	}
	for _, sp := range all {
		if open && sp.from <= cur.to {
			cur.to = max(cur.to, sp.to)
			continue
		}
		flush()
		cur, open = sp, true
	}
	flush()
}

// LastGasp reports whether meter id's last gasp for the cut starting at
// from gets through: lost with probability LastGaspLoss, drawn from the
// seed, the meter and the cut.
func (n *Network) LastGasp(id uint64, from int64) bool {
	h := loadshape.Rand(n.cfg.Seed, id, uint64(from), saltGasp)
	return h%1_000_000 >= uint64(n.cfg.LastGaspLoss*1_000_000)
}

// FalseGasps calls fn for each false last gasp of meter id in [from, to):
// at most one a UTC day, FalseGaspsPerYear a year on average, within the
// network's window and never while the meter really is without power.
func (n *Network) FalseGasps(id uint64, from, to int64, fn func(at int64)) {
	if _, ok := n.service(id); !ok || n.cfg.FalseGaspsPerYear <= 0 {
		return
	}
	from, to = max(from, n.from), min(to, n.to)
	p := uint64(min(n.cfg.FalseGaspsPerYear/365, 1) * 1_000_000)
	for d := floorDiv(from, 86400); d*86400 < to; d++ {
		h := loadshape.Rand(n.cfg.Seed, id, uint64(d), saltFalse)
		if h%1_000_000 >= p {
			continue
		}
		at := d*86400 + int64(h>>24)%86400
		if at < from || at >= to {
			continue
		}
		down := false
		n.Cuts(id, at, at+1, func(a, b int64) { down = down || (a <= at && at < b) })
		if !down {
			fn(at)
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Disturbance is a sag or swell at a meter (meter.Disturbance).
type Disturbance = meter.Disturbance

// Disturbances calls fn for each sag or swell at meter id starting in
// [from, to), in order. They happen on the meter's feeder, on one of its
// three phases; a three-phase meter sees each one, a single-phase meter
// only those with Phase 1.
func (n *Network) Disturbances(id uint64, from, to int64, fn func(Disturbance)) {
	sv, ok := n.service(id)
	if !ok {
		return
	}
	list := n.dist[n.trans[sv.trans].feeder]
	i := sort.Search(len(list), func(i int) bool { return list[i].At >= from })
	for ; i < len(list) && list[i].At < to; i++ {
		d := list[i]
		d.Phase = terminal(d.Phase, sv.phase)
		fn(d)
	}
}

// terminal maps a network phase onto the meter's terminal phase: a service
// is connected starting on its own phase, the next two in rotation.
func terminal(network, service int) int { return (network-service+3)%3 + 1 }

// disturb draws the feeder's sags and swells: three in four are sags
// 10 to 90 % deep (mostly shallow) from 20 ms to 3 min, the rest swells of
// +10 to +20 % up to 10 s; durations are log-uniform, as most dips are
// cleared by protection within cycles.
func (n *Network) disturb() {
	n.dist = make([][]Disturbance, len(n.feeds))
	for f := range n.feeds {
		r := n.rngFeeder(f)
		poisson(r, n.cfg.SagsPerFeederYear, n.from, n.to, func(at int64) {
			d := Disturbance{At: at, Phase: 1 + r.IntN(3)}
			if r.Float64() < 0.75 {
				u := r.Float64()
				d.DepthPM = -int32(100 + 800*u*u)
				d.Dur = logUniform(r.Float64(), 20*time.Millisecond, 3*time.Minute)
			} else {
				d.DepthPM = int32(100 + r.IntN(101))
				d.Dur = logUniform(r.Float64(), 20*time.Millisecond, 10*time.Second)
			}
			n.dist[f] = append(n.dist[f], d)
		})
	}
}

func (n *Network) rngFeeder(f int) *rand.Rand {
	return rand.New(rand.NewPCG(n.cfg.Seed^saltDisturb, uint64(f)))
}

func logUniform(u float64, lo, hi time.Duration) time.Duration {
	return time.Duration(math.Exp(math.Log(float64(lo)) + u*(math.Log(float64(hi))-math.Log(float64(lo)))))
}
