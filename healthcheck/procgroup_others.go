//go:build !unix

package healthcheck

import (
	"errors"
	"os"
	"os/exec"
)

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the process alone.
func killProcessGroup(p *os.Process) error { return p.Kill() }

// setCredential: no other user here.
func setCredential(*exec.Cmd, *Credential) error {
	return errors.New("running a command as another user is not supported on this system")
}
