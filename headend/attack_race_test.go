//go:build race

package headend_test

// attackMeters keeps the compromised-account campaign small under the
// race detector, which slows everything tenfold; without it the campaign
// runs at full size.
const attackMeters = 1000
