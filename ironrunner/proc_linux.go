package ironrunner

import (
	"os/exec"
	"syscall"
)

// setProcAttr kills the function with the runner, even when the runner is
// killed before it can clean up.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
