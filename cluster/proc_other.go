//go:build !linux

package cluster

import "os/exec"

// dieWithParent does nothing off Linux: there the children of a test that
// dies must be ended by hand.
func dieWithParent(*exec.Cmd) {}
