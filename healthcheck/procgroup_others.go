//go:build !unix

package healthcheck

import (
	"os"
	"os/exec"
)

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process alone.
func killProcessGroup(p *os.Process) error { return p.Kill() }
