package healthcheck

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// tcpChecker connects to the target and closes the connection at once.
// On Linux its probes run on the package's probe poller (poller_linux.go);
// elsewhere, and for targets the poller cannot address, through a
// net.Dialer.
type tcpChecker struct {
	// raw is the target as the poller addresses it, and raw.target the
	// Spec's Target (its text is made when needed, String and a dial: a
	// string per check costs memory). Kept in the checker, not beside it:
	// one allocation per check.
	raw rawTarget
	// polled is set when the poller can address the target (raw is
	// complete); otherwise the probes dial through dialer.
	polled bool
	// halfOpen: probes are half-open (Spec.HalfOpen; Linux only, see
	// tcp_halfopen_linux.go).
	halfOpen bool
	timeout  time.Duration
	// dialer is built when the probes need it: when not polled, or at
	// the first dial without a poller (its allocation is per check, and
	// most checks on Linux never dial through it).
	dialer *net.Dialer
	dialMu sync.Mutex
}

func newTCPChecker(s Spec) *tcpChecker {
	c := &tcpChecker{timeout: s.Timeout, halfOpen: s.HalfOpen}
	c.polled = fillRawTarget(&c.raw, s)
	if !c.polled {
		c.dialer = dialer(s)
	}
	return c
}

// errNoHalfOpen is the result of a half-open probe where there are none:
// off Linux, or for an address the raw socket cannot reach.
func errNoHalfOpen(target string) error {
	return fmt.Errorf("half-open tcp check of %s: needs Linux, and a zone that names an interface", target)
}

func (c *tcpChecker) String() string { return "tcp " + c.raw.target.String() }

// dial succeeds when the three-way handshake completes. The connection is
// closed with a reset (SO_LINGER 0), as HAProxy's checks do: at thousands of
// probes a second, a normal close would leave a TIME_WAIT socket on the
// director for every probe.
func (c *tcpChecker) dial(ctx context.Context) error {
	ctx, cancel := deadline(ctx, c.timeout)
	defer cancel()
	c.dialMu.Lock()
	if c.dialer == nil {
		c.dialer = dialer(Spec{Source: c.raw.bindSource()})
	}
	d := c.dialer
	c.dialMu.Unlock()
	conn, err := d.DialContext(ctx, "tcp", c.raw.target.String())
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close() // the handshake is the result
	return nil
}
