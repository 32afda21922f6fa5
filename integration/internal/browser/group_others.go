//go:build !unix

package browser

import "os/exec"

func newGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) { cmd.Process.Kill() }
