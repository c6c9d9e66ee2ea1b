package distribution

import (
	"slices"
	"sort"
	"time"

	"github.com/amigo-ami/amigo/loadshape"
)

// load is a residential feeder's load over the local day, as a fraction
// of its evening peak, hour by hour: low at night, a morning bump, the
// peak from 17:00 to 21:00.
var load = [25]float64{
	0.40, 0.35, 0.32, 0.30, 0.30, 0.33, 0.45, 0.60, 0.62, 0.55, 0.52, 0.52,
	0.55, 0.52, 0.50, 0.52, 0.62, 0.85, 1.00, 1.00, 0.95, 0.85, 0.68, 0.50, 0.40,
}

// loadAt interpolates the daily load at local time t.
func loadAt(t time.Time) float64 {
	h, m, s := t.Clock()
	x := float64(m*60+s) / 3600
	return load[h] + (load[h+1]-load[h])*x
}

// VoltagePM is the supply voltage at meter id at unix second t, per phase
// as the meter's terminals see them, in permille from nominal: the
// transformer's tap, less the drop along the feeder to the transformer
// (growing with the feeder's load and with distance), less the drop on
// the service cable, a small per-phase unbalance, and a sag or swell in
// progress. Cuts are not reflected: a meter without power reads nothing.
func (n *Network) VoltagePM(id uint64, t int64) [3]int32 {
	sv, ok := n.service(id)
	if !ok {
		return [3]int32{}
	}
	tr := &n.trans[sv.trans]
	fd := &n.feeds[tr.feeder]
	lf := loadAt(time.Unix(t, 0).In(n.cfg.Location))
	base := float64(tr.tapPM)
	if fd.length > 0 {
		base -= float64(fd.dropPM) * float64(tr.distM) / float64(fd.length) * lf
	}
	base -= min(float64(sv.distM)/40, 20) * lf
	var v [3]int32
	for k := range v {
		phase := (sv.phase-1+k)%3 + 1
		unb := int64(loadshape.Rand(n.cfg.Seed, uint64(sv.trans), uint64(phase), saltTree)%11) - 5
		v[k] = int32(base) + int32(unb)
	}
	list := n.dist[tr.feeder]
	i := sort.Search(len(list), func(i int) bool { return list[i].At > t-200 })
	for ; i < len(list) && list[i].At <= t; i++ {
		d := list[i]
		end := time.Unix(d.At, 0).Add(d.Dur)
		if !end.After(time.Unix(t, 0)) {
			continue
		}
		// The second's RMS holds the disturbance for the part of the
		// second it lasts.
		part := min(end.Sub(time.Unix(t, 0)), time.Second)
		k := terminal(d.Phase, sv.phase) - 1
		v[k] += int32(int64(d.DepthPM) * int64(part) / int64(time.Second))
	}
	return v
}

// OutOfBounds returns the usage points whose transformer's tap puts them
// outside EN 50160's ±10 % for more than 5 % of the week from weekStart,
// sorted. A tap error lasts the life of the model, so every week has the
// same ones; every other service stays within bounds for at least 99 % of
// the week's 10-minute means.
func (n *Network) OutOfBounds(weekStart time.Time) []string {
	_ = weekStart
	var out []string
	for _, tr := range n.trans {
		if !tr.oob {
			continue
		}
		for s := tr.first; s < tr.first+tr.n; s++ {
			out = append(out, UsagePoint(uint64(s)+1))
		}
	}
	slices.Sort(out)
	return out
}
