//go:build !race

package main

// keyRotationFleet is the key-rotation acceptance fleet.
const keyRotationFleet = 10000
