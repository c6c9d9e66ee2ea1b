//go:build race

package main

// keyRotationFleet is small under the race detector, which slows
// everything tenfold.
const keyRotationFleet = 500
