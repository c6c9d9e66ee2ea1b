//go:build race

package headend_test

// fleetSize keeps the acceptance fleet small under the race detector,
// which slows everything tenfold; scripts/test.sh also runs the fleet
// tests without it at full size.
const fleetSize = 1000
