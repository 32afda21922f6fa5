package healthcheck

import (
	"context"
	"net"
	"time"
)

// tcpChecker connects to the target and closes the connection at once.
type tcpChecker struct {
	target  string
	timeout time.Duration
	dialer  *net.Dialer
	name    string
}

func newTCPChecker(s Spec) *tcpChecker {
	return &tcpChecker{
		target:  s.Target.String(),
		timeout: s.Timeout,
		dialer:  dialer(s),
		name:    "tcp " + s.Target.String(),
	}
}

func (c *tcpChecker) String() string { return c.name }

// Check succeeds when the three-way handshake completes. The connection is
// closed with a reset (SO_LINGER 0), as HAProxy's checks do: at thousands of
// probes a second, a normal close would leave a TIME_WAIT socket on the
// director for every probe.
func (c *tcpChecker) Check(ctx context.Context) error {
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
