//go:build !race

package headend_test

// fleetSize is the acceptance fleet of the head-end issue.
const fleetSize = 10000
