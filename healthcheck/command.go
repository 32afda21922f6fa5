package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// stderrKeep is how much of a command's standard error is kept for the
// error message.
const stderrKeep = 512

// waitDelay bounds how long a command's stderr pipe is waited for once the
// command has exited or been killed (a process outside the group may hold
// it open).
const waitDelay = 200 * time.Millisecond

// Credential is a user a command runs as (Spec.RunAs).
type Credential struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups
}

// commandChecker runs an argv; exit status 0 means up.
type commandChecker struct {
	argv    []string
	env     []string
	timeout time.Duration
	name    string
	runAs   func() *Credential // nil: as this process
}

func newCommandChecker(s Spec) *commandChecker {
	c := &commandChecker{
		argv:    s.Command,
		timeout: s.Timeout,
		name:    "command " + strings.Join(s.Command, " "),
		runAs:   s.RunAs,
	}
	if s.Target.IsValid() {
		c.env = []string{
			"TANDEM_CHECK_ADDR=" + s.Target.Addr().String(),
			"TANDEM_CHECK_PORT=" + strconv.Itoa(int(s.Target.Port())),
		}
	}
	return c
}

func (c *commandChecker) String() string { return c.name }

// Check runs the command in a process group of its own, as Spec.RunAs's
// user when it names one (never through a shell: argv[0] is executed
// with the other elements as its arguments). When ctx is done
// first, the whole group is killed with SIGKILL and the command reaped; once
// the command ends, whatever it left behind in its group is killed too, so
// nothing accumulates from one probe to the next.
func (c *commandChecker) Check(ctx context.Context) error {
	ctx, cancel := deadline(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	if c.env != nil {
		cmd.Env = append(os.Environ(), c.env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &capped{buf: &stderr, n: stderrKeep}
	setProcessGroup(cmd)
	if c.runAs != nil {
		if cred := c.runAs(); cred != nil {
			if err := setCredential(cmd, cred); err != nil {
				return err
			}
		}
	}
	cmd.Cancel = func() error { return killProcessGroup(cmd.Process) }
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return err
	}
	err := cmd.Wait()
	_ = killProcessGroup(cmd.Process) // leftovers; ESRCH when none
	if ctx.Err() != nil {
		return fmt.Errorf("command timed out, process group killed: %w", ctx.Err())
	}
	if err == nil || errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success() {
		return nil
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return fmt.Errorf("%w: %s", err, oneLine(msg))
	}
	return err
}

// oneLine joins the lines of s with " | " and keeps it short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
