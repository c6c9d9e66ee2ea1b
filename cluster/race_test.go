//go:build race

package cluster_test

// Under the race detector, which slows everything tenfold, the chaos test
// collects a small fleet through one fault; scripts/test.sh runs the full
// size without it.
const chaosMeters = 500

var chaosFaults = []string{faultHeadEnd}
