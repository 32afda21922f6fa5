//go:build !linux

package healthcheck

import "context"

// rawTarget is Linux's (tcp_linux.go).
type rawTarget struct{}

func newRawTarget(Spec) *rawTarget { return nil }

// Check succeeds when the three-way handshake completes.
func (c *tcpChecker) Check(ctx context.Context) error {
	if c.halfOpen {
		return errNoHalfOpen(c.target.String())
	}
	return c.dial(ctx)
}
