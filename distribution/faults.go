package distribution

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// Kind is what sort of interruption an outage is.
type Kind string

// The kinds. A momentary interruption is a recloser's open-close cycle,
// shorter than five minutes; a sustained one is a fault that waits for a
// crew; a planned one was announced.
const (
	Momentary Kind = "momentary"
	Sustained Kind = "sustained"
	Planned   Kind = "planned"
)

// TrueOutage is one outage of the ground truth: a device without power
// from Start to End, for its own reason. An outage of a device below
// another one's may overlap it (nested): each keeps its own times.
type TrueOutage struct {
	ID        string         `json:"id"` // "<device>@<start unix seconds>"
	Level     topology.Level `json:"level"`
	Device    string         `json:"device"`
	Start     time.Time      `json:"start"`
	End       time.Time      `json:"end"`
	Kind      Kind           `json:"kind"`
	Customers int            `json:"customers"`
	// Cause says why: "fault", "reclose", "works", "storm" or
	// "cold-load pickup" (a fuse blown by a feeder's restoration).
	Cause string `json:"cause"`
}

// Duration is how long the device was out.
func (o TrueOutage) Duration() time.Duration { return o.End.Sub(o.Start) }

// Outages returns the ground truth: every outage starting in [from, to),
// by start then device.
func (n *Network) Outages(from, to time.Time) []TrueOutage {
	a, b := from.Unix(), to.Unix()
	var out []TrueOutage
	for _, o := range n.outs {
		if u := o.Start.Unix(); u >= a && u < b {
			out = append(out, o)
		}
	}
	return out
}

// Duration bounds: a sustained outage lasts 10 min to 6 h (a storm's
// damage under a feeder may outlast the feeder by up to 3 h more); a
// momentary one is under 5 min.
const (
	minSustained = 10 * 60
	maxSustained = 6 * 3600
	maxSpan      = maxSustained + 3*3600
	maxMomentary = 299
)

// lognormal draws a duration in seconds with the given median and shape,
// clamped to the sustained bounds: crews mostly take an hour or two, now
// and then most of a shift.
func lognormal(r *rand.Rand, median, sigma float64) int64 {
	d := median * math.Exp(sigma*r.NormFloat64())
	return int64(min(max(d, minSustained), maxSustained))
}

// poisson calls fn at the events of a Poisson process of perYear events a
// year over [from, to).
func poisson(r *rand.Rand, perYear float64, from, to int64, fn func(at int64)) {
	if perYear <= 0 {
		return
	}
	mean := 365 * 86400 / perYear
	for t := float64(from) + r.ExpFloat64()*mean; t < float64(to); t += r.ExpFloat64() * mean {
		fn(int64(t))
	}
}

func momentary(r *rand.Rand) int64 {
	switch u := r.Float64(); {
	case u < 0.8:
		return 1 + r.Int64N(30)
	case u < 0.95:
		return 30 + r.Int64N(90)
	default:
		return 120 + r.Int64N(maxMomentary-120+1)
	}
}

type draft struct {
	level topology.Level
	dev   int
	from  int64
	to    int64
	kind  Kind
	cause string
}

// fault draws the outages of the window. Each family of faults has its own
// stream, so turning one rate up leaves the others' draws alone.
func (n *Network) fault() {
	mix := n.cfg.Mix
	lo, hi := n.from, n.to
	var ds []draft
	add := func(d draft) {
		d.to = min(d.to, d.from+maxSpan)
		ds = append(ds, d)
	}
	stream := func(k uint64) *rand.Rand { return rand.New(rand.NewPCG(n.cfg.Seed^saltFault, k)) }

	r := stream(1)
	for f := range n.feeds {
		rate := mix.MomentaryPerFeeder
		if n.feeds[f].rural {
			rate *= 2
		}
		poisson(r, rate, lo, hi, func(at int64) {
			add(draft{level: topology.Feeder, dev: f, from: at, to: at + momentary(r), kind: Momentary, cause: "reclose"})
		})
	}
	r = stream(2)
	for s := range n.subs {
		poisson(r, mix.SubstationPerYear, lo, hi, func(at int64) {
			add(draft{level: topology.Substation, dev: s, from: at, to: at + lognormal(r, 45*60, 0.6), kind: Sustained, cause: "fault"})
		})
	}
	r = stream(3)
	for f := range n.feeds {
		rate := mix.FeederPerYear
		if n.feeds[f].rural {
			rate *= 2
		}
		poisson(r, rate, lo, hi, func(at int64) {
			end := at + lognormal(r, 80*60, 0.8)
			add(draft{level: topology.Feeder, dev: f, from: at, to: end, kind: Sustained, cause: "fault"})
			n.coldLoad(r, f, end, add)
		})
	}
	r = stream(4)
	for t := range n.trans {
		poisson(r, mix.TransformerPerYear, lo, hi, func(at int64) {
			add(draft{level: topology.Transformer, dev: t, from: at, to: at + lognormal(r, 120*60, 0.8), kind: Sustained, cause: "fault"})
		})
	}
	r = stream(5)
	for s := range n.servs {
		poisson(r, mix.ServicePerYear, lo, hi, func(at int64) {
			add(draft{level: topology.Service, dev: s, from: at, to: at + lognormal(r, 180*60, 0.7), kind: Sustained, cause: "fault"})
		})
	}
	r = stream(6)
	for t := range n.trans {
		poisson(r, mix.PlannedPerTransformer, lo, hi, func(at int64) {
			// Works start on the hour or half hour between 08:00 and
			// 14:00 local on a weekday and last 1 to 4 h.
			day := time.Unix(at, 0).In(n.cfg.Location)
			for day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
				day = day.AddDate(0, 0, 1)
			}
			y, m, d := day.Date()
			start := time.Date(y, m, d, 8, 0, 0, 0, n.cfg.Location).Add(time.Duration(r.IntN(13)) * 30 * time.Minute).Unix()
			if start < lo || start >= hi {
				return
			}
			add(draft{level: topology.Transformer, dev: t, from: start, to: start + 3600 + r.Int64N(7)*1800, kind: Planned, cause: "works"})
		})
	}
	n.storms(stream(7), add)
	n.keep(ds)
}

// coldLoad blows a transformer's fuse, now and then, when its feeder comes
// back: the inrush after a long outage. The transformer stays out after
// the feeder is restored.
func (n *Network) coldLoad(r *rand.Rand, f int, at int64, add func(draft)) {
	if r.Float64() >= n.cfg.Mix.ColdLoadPickupPerRestore || at >= n.to {
		return
	}
	fd := &n.feeds[f]
	t := fd.first + r.IntN(fd.n)
	add(draft{level: topology.Transformer, dev: t, from: at, to: at + lognormal(r, 90*60, 0.6), kind: Sustained, cause: "cold-load pickup"})
}

// storms places major event days. They are spread evenly rather than as a
// Poisson process: the window is cut into round(Days*StormsPerYear/365)
// equal periods and each holds exactly one storm at a random point, so a
// month at twelve storms a year always has its major event day.
func (n *Network) storms(r *rand.Rand, add func(draft)) {
	mix := n.cfg.Mix
	k := math.Round(float64(n.to-n.from) / (365 * 86400) * mix.StormsPerYear)
	if mix.StormsPerYear <= 0 || k < 1 {
		return
	}
	period := float64(n.to-n.from) / k
	for i := 0.0; i < k; i++ {
		at := n.from + int64((i+r.Float64())*period)
		// The front arrives in the afternoon and does its damage over
		// six hours; kept in the window.
		day := time.Unix(at, 0).In(n.cfg.Location)
		y, m, d := day.Date()
		front := time.Date(y, m, d, 12, 0, 0, 0, n.cfg.Location).Add(time.Duration(r.IntN(6*60)) * time.Minute).Unix()
		if front < n.from {
			front += 86400
		}
		if front >= n.to {
			front -= 86400
		}
		if front < n.from || front >= n.to {
			continue
		}
		hit := map[int]bool{}
		// The storm's path: one feeder at least is down for hours.
		worst := r.IntN(len(n.feeds))
		for f := range n.feeds {
			if r.Float64() < 0.5 {
				at := front + r.Int64N(6*3600)
				add(draft{level: topology.Feeder, dev: f, from: at, to: at + momentary(r), kind: Momentary, cause: "storm"})
			}
			if r.Float64() >= mix.StormFeederShare && f != worst {
				continue
			}
			at := front + r.Int64N(6*3600)
			dur := lognormal(r, 4*3600, 0.4)
			add(draft{level: topology.Feeder, dev: f, from: at, to: at + dur, kind: Sustained, cause: "storm"})
			// Damage under the feeder is found when it is re-energised:
			// that transformer stays out after its feeder comes back.
			if r.Float64() < 0.5 {
				fd := &n.feeds[f]
				t := fd.first + r.IntN(fd.n)
				hit[t] = true
				tAt := at + r.Int64N(max(dur/2, 1))
				add(draft{level: topology.Transformer, dev: t, from: tAt, to: at + dur + 20*60 + r.Int64N(160*60), kind: Sustained, cause: "storm"})
			}
		}
		for t := range n.trans {
			if hit[t] || r.Float64() >= mix.StormTransformerShare {
				continue
			}
			at := front + r.Int64N(6*3600)
			add(draft{level: topology.Transformer, dev: t, from: at, to: at + lognormal(r, 3*3600, 0.5), kind: Sustained, cause: "storm"})
		}
	}
}

// keep turns the drafts into the ground truth and indexes it per device.
func (n *Network) keep(ds []draft) {
	slices.SortStableFunc(ds, func(a, b draft) int {
		return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.level.Depth(), b.level.Depth()), cmp.Compare(a.dev, b.dev))
	})
	sizes := [4]int{len(n.subs), len(n.feeds), len(n.trans), len(n.servs)}
	for l := range n.byNode {
		n.byNode[l] = make([][]span, sizes[l])
	}
	ids := map[string]bool{}
	for _, d := range ds {
		dev := n.deviceID(d.level, d.dev)
		// One device cannot fail twice at once: a later fault inside an
		// outage of the same device is the same outage.
		l := d.level.Depth()
		if sp := n.byNode[l][d.dev]; len(sp) > 0 && sp[len(sp)-1].to > d.from {
			continue
		}
		id := fmt.Sprintf("%s@%d", dev, d.from)
		for ids[id] {
			d.from++
			d.to++
			id = fmt.Sprintf("%s@%d", dev, d.from)
		}
		ids[id] = true
		n.byNode[l][d.dev] = append(n.byNode[l][d.dev], span{from: d.from, to: d.to, outage: len(n.outs)})
		n.outs = append(n.outs, TrueOutage{
			ID: id, Level: d.level, Device: dev, Kind: d.kind, Cause: d.cause,
			Start: time.Unix(d.from, 0).In(n.cfg.Location), End: time.Unix(d.to, 0).In(n.cfg.Location),
			Customers: n.grid.Customers(dev),
		})
	}
}

func (n *Network) deviceID(l topology.Level, i int) string {
	switch l {
	case topology.Substation:
		return n.subs[i].id
	case topology.Feeder:
		return n.feeds[i].id
	case topology.Transformer:
		return n.trans[i].id
	}
	return UsagePoint(uint64(i) + 1)
}
