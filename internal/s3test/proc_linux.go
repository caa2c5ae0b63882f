package s3test

import (
	"os/exec"
	"syscall"
)

// setProcAttr kills the gateway with its parent, even when the parent is
// killed before it can clean up.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
