//go:build !linux

package ironrunner

import (
	"os"
	"os/exec"
)

func setProcAttr(*exec.Cmd) {}

func maxRSS(*os.ProcessState) int64 { return 0 }

// PeakRSSKB is not measured on this system.
func PeakRSSKB(int) int64 { return 0 }

// RSSKB is not measured on this system.
func RSSKB(int) int64 { return 0 }
