//go:build !race

package cluster_test

// chaosMeters is the fleet scripts/test.sh runs the chaos test with,
// without the race detector: a baseline and a collection per fault take
// about five minutes on two cores. AMIGO_CHAOS_METERS=20000 is the full
// fleet (see docs/scale-out.md, Chaos tests).
const chaosMeters = 2000

// chaosFaults are the cluster collections the chaos test runs by default:
// one per fault, so that a difference names its fault.
// AMIGO_CHAOS_FAULTS=all runs every fault in one collection instead.
var chaosFaults = []string{faultHeadEnd, faultNATSKill, faultNATSStop, faultMDM}
