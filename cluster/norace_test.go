//go:build !race

package cluster_test

// chaosMeters is the fleet scripts/test.sh runs the chaos faults with,
// without the race detector. 2,000 meters keep five collections within
// a few minutes on two cores; AMIGO_CHAOS_METERS=20000 is the full fleet,
// at several minutes a collection (the ingest into PostgreSQL sets the
// pace).
const chaosMeters = 2000

var chaosFaults = []string{faultHeadEnd, faultNATSKill, faultNATSStop, faultMDM}
