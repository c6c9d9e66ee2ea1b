package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel stop the simulator when the bench process
// dies, so an interrupted run leaves no fleet listening behind it.
func dieWithParent(c *exec.Cmd) {
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
