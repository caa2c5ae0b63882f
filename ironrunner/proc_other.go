//go:build !linux

package ironrunner

import "os/exec"

func setProcAttr(*exec.Cmd) {}
