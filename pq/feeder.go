package pq

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/amigo-ami/amigo/topology"
)

// Point is one service's voltage on a feeder at an instant.
type Point struct {
	UsagePoint  string `json:"usagePoint"`
	MeterID     string `json:"meter"`
	Transformer string `json:"transformer"`
	// DistanceM is the cable distance from the substation: the
	// transformer's along the feeder plus the service's from it (0:
	// unknown).
	DistanceM int `json:"distanceM"`
	Phase     int `json:"phase,omitempty"` // the service's phase, 0: three-phase or unknown
	// Voltage is the 10-minute mean per phase in volts, of the period
	// holding the instant; 0 for a phase the meter lacks.
	Voltage [3]float64 `json:"voltageV"`
	// Mean is the mean over the meter's phases.
	Mean float64 `json:"meanV"`
	// End is the end of the 10-minute period the values are of.
	End time.Time `json:"end"`
}

// FeederVoltage is the voltage along a feeder at an instant.
type FeederVoltage struct {
	Feeder  string    `json:"feeder"`
	At      time.Time `json:"at"`
	Nominal float64   `json:"nominalV"`
	// Points are ordered by distance, then usage point; services whose
	// meters have no mean for the period are left out.
	Points []Point `json:"points"`
	// Missing counts the services without a mean.
	Missing int `json:"missing"`
}

// Along returns each service's mean voltage on a feeder at an instant,
// ordered by distance from the substation, on the grid in force then.
func (r *Reporter) Along(ctx context.Context, feeder string, at time.Time) (*FeederVoltage, error) {
	g, ms, ids, err := r.placedAt(ctx, at, feeder)
	if err != nil {
		return nil, err
	}
	// The period holding at ends at the next 10-minute boundary.
	end := at.Truncate(Interval).Add(Interval)
	ser, err := readSeries(ctx, r.Source, ids, []Stat{Avg}, end.Add(-Interval), end)
	if err != nil {
		return nil, err
	}
	fv := &FeederVoltage{Feeder: feeder, At: at, Nominal: r.limits().Nominal, Points: []Point{}}
	seen := map[string]bool{}
	for _, m := range ms {
		up := m.m.UsagePointID
		ph := ser[m.m.MRID]
		if ph == nil || seen[up] {
			continue
		}
		pt := Point{UsagePoint: up, MeterID: m.m.MRID, Transformer: m.transformer, End: end}
		n := 0
		for p := range 3 {
			if s := ph[p][Avg]; s != nil && len(s.vals) > 0 {
				pt.Voltage[p] = float64(s.vals[len(s.vals)-1]) / scaleDV
				pt.Mean += pt.Voltage[p]
				n++
			}
		}
		if n == 0 {
			continue
		}
		pt.Mean /= float64(n)
		if sv, ok := g.Node(up); ok {
			pt.DistanceM, pt.Phase = sv.DistanceM, sv.Phase
			if tr, ok := g.Ancestor(up, topology.Transformer); ok {
				pt.DistanceM += tr.DistanceM
			}
		}
		seen[up] = true
		fv.Points = append(fv.Points, pt)
	}
	fv.Missing = len(g.Services(feeder)) - len(fv.Points)
	slices.SortFunc(fv.Points, func(a, b Point) int {
		return cmp.Or(cmp.Compare(a.DistanceM, b.DistanceM), cmp.Compare(a.UsagePoint, b.UsagePoint))
	})
	return fv, nil
}

// String names the feeder and instant, for errors and logs.
func (fv *FeederVoltage) String() string {
	return fmt.Sprintf("feeder %s at %s: %d services", fv.Feeder, fv.At.Format(time.RFC3339), len(fv.Points))
}
