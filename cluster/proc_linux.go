package cluster

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the child when the process that
// started it dies, so a test killed midway leaves no server listening and
// no JetStream directory locked behind it. SIGKILL, not SIGTERM: a stopped
// (SIGSTOP) child would never act on a catchable signal.
func dieWithParent(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
