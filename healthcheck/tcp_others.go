//go:build !linux

package healthcheck

import (
	"context"
	"net/netip"
)

// rawTarget is Linux's (tcp_linux.go); elsewhere it only names the target.
type rawTarget struct{ target netip.AddrPort }

func fillRawTarget(t *rawTarget, s Spec) bool {
	*t = rawTarget{target: s.Target}
	return false
}

func (t *rawTarget) bindSource() netip.Addr { return netip.Addr{} }

// Check succeeds when the three-way handshake completes.
func (c *tcpChecker) Check(ctx context.Context) error {
	if c.halfOpen {
		return errNoHalfOpen(c.raw.target.String())
	}
	return c.dial(ctx)
}
