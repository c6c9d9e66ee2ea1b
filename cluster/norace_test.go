//go:build !race

package cluster_test

// chaosMeters is the fleet scripts/test.sh runs the chaos faults with,
// without the race detector. 5,000 meters keep five collections within
// its budget on two cores; AMIGO_CHAOS_METERS=20000 is the full fleet, at
// about eight minutes a collection (the ingest into PostgreSQL sets the
// pace).
const chaosMeters = 5000

var chaosFaults = []string{faultHeadEnd, faultNATSKill, faultNATSStop, faultMDM}
