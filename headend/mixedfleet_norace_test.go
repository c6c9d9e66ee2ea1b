//go:build !race

package headend_test

// mixedFleetSize is the mixed fleet of the acceptance run.
const mixedFleetSize = fleetSize
