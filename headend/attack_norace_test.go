//go:build !race

package headend_test

// attackMeters is the compromised-account campaign of the issue: 50,000
// disconnects from one operator account.
const attackMeters = 50000
