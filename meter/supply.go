package meter

import "time"

// Supply is the distribution network behind the meters, when the simulator
// models one (package distribution): it decides when a meter loses power
// and what voltage reaches it, in place of the fleet's own outage groups
// and regional voltage. Its answers depend only on its seed and the
// arguments, like the rest of the model.
type Supply interface {
	// Cuts calls fn for each power cut at meter id overlapping [from, to)
	// (true unix seconds), in start order; a cut ends at to (exclusive).
	Cuts(id uint64, from, to int64, fn func(from, to int64))
	// VoltagePM is the supply voltage at meter id at unix second t, per
	// phase, as a deviation from nominal in permille (before the meter's
	// own load noise).
	VoltagePM(id uint64, t int64) [3]int32
	// LastGasp reports whether the meter's last gasp for the cut starting
	// at from gets out: a last gasp is sent on the energy left in a
	// capacitor and is often lost.
	LastGasp(id uint64, from int64) bool
	// FalseGasps calls fn for each false last gasp meter id sends in
	// [from, to): a meter's own fault, with no cut behind it.
	FalseGasps(id uint64, from, to int64, fn func(at int64))
	// Disturbances calls fn for each voltage sag or swell at meter id
	// starting in [from, to), in order.
	Disturbances(id uint64, from, to int64, fn func(Disturbance))
}

// Disturbance is a voltage dip (sag) or swell at a meter: it starts at At
// (unix seconds) and lasts Dur, on the meter's phase Phase (1..3 as its
// terminals see it: a single-phase meter has phase 1 only), taking the
// voltage DepthPM permille from nominal (negative: a sag).
type Disturbance struct {
	At      int64         `json:"at"`
	Dur     time.Duration `json:"dur"`
	Phase   int           `json:"phase"`
	DepthPM int32         `json:"depthPM"`
}
