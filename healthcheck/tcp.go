package healthcheck

import (
	"context"
	"fmt"
	"net"
	"time"
)

// tcpChecker connects to the target and closes the connection at once.
// On Linux its probes run on the package's probe poller (poller_linux.go);
// elsewhere, and for targets the poller cannot address, through a
// net.Dialer.
type tcpChecker struct {
	target  string
	timeout time.Duration
	dialer  *net.Dialer
	name    string
	raw     *rawTarget // nil: dial through dialer
	// halfOpen: probes are half-open (Spec.HalfOpen; Linux only, see
	// tcp_halfopen_linux.go).
	halfOpen bool
}

func newTCPChecker(s Spec) *tcpChecker {
	return &tcpChecker{
		target:   s.Target.String(),
		timeout:  s.Timeout,
		dialer:   dialer(s),
		name:     "tcp " + s.Target.String(),
		raw:      newRawTarget(s),
		halfOpen: s.HalfOpen,
	}
}

// errNoHalfOpen is the result of a half-open probe where there are none:
// off Linux, or for an address the raw socket cannot reach.
func errNoHalfOpen(target string) error {
	return fmt.Errorf("half-open tcp check of %s: needs Linux, and a zone that names an interface", target)
}

func (c *tcpChecker) String() string { return c.name }

// dial succeeds when the three-way handshake completes. The connection is
// closed with a reset (SO_LINGER 0), as HAProxy's checks do: at thousands of
// probes a second, a normal close would leave a TIME_WAIT socket on the
// director for every probe.
func (c *tcpChecker) dial(ctx context.Context) error {
	ctx, cancel := deadline(ctx, c.timeout)
	defer cancel()
	conn, err := c.dialer.DialContext(ctx, "tcp", c.target)
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close() // the handshake is the result
	return nil
}
