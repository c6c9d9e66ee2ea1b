//go:build !linux

package bench

import "os/exec"

// dieWithParent has no portable form: elsewhere an interrupted run may
// leave the simulator running.
func dieWithParent(*exec.Cmd) {}
