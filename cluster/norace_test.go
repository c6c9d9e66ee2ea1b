//go:build !race

package cluster_test

// The chaos fleet and faults at full size; scripts/test.sh runs them
// without the race detector.
const chaosMeters = 20000

var chaosFaults = []string{faultHeadEnd, faultNATSKill, faultNATSStop, faultMDM}
