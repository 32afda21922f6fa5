//go:build linux

package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TCP probes on Linux run on the probe poller of their Manager
// (poller_linux.go), keepalived's shape in a goroutine: a probe is a
// non-blocking socket whose connect the poller's epoll instance watches,
// with its deadline in the poller's heap. No goroutine, context or runtime
// timer per probe; the success path is five system calls (socket, connect,
// epoll_ctl, setsockopt SO_LINGER, close). Completions are handled before
// deadlines, so a poller that runs late (a starved CPU) does not turn
// connects that succeeded into timeouts.

// rawTarget is what the poller needs of a tcp Spec: socket addresses. It
// is kept small (80 bytes): there is one per check, and what only some
// checks need hangs off it.
type rawTarget struct {
	target netip.AddrPort // the destination (errors say it as a net.TCPAddr)
	// The destination as connect takes it, for the poller's raw connect
	// (rawsys_linux.go): a RawSockaddrInet6, or, cast, a RawSockaddrInet4.
	// Its Family is the probes' address family.
	csa    unix.RawSockaddrInet6
	csaLen uint32
	bind   *rawBind       // the Spec's Source; nil: the kernel chooses
	half   *halfOpenState // half-open probes only (tcp_halfopen_linux.go)
}

// rawBind is the source address a Spec's probes are bound to.
type rawBind struct {
	source netip.Addr // as the Spec gave it
	src    unix.Sockaddr
	srcA   *net.TCPAddr
	oob6   []byte // the IPV6_PKTINFO of an IPv6 source, for half-open probes
}

// halfOpenState is what half-open probes need beyond connect's: the
// destination as a raw socket takes it (csa without the port, which a raw
// IPv6 socket would read as the protocol), and the IPv4 source with its
// IP_PKTINFO, learned and kept under mu.
type halfOpenState struct {
	rsa     unix.RawSockaddrInet6
	mu      sync.Mutex
	at      time.Time // when src4 was learned; zero: not known
	epoch   uint64    // the routes' epoch then
	watched bool      // learned under a route watch (see forgetSource)
	src4    [4]byte
	oob4    []byte
}

// family is the address family of t's probes.
func (t *rawTarget) family() int { return int(t.csa.Family) }

// newRawTarget returns s's addresses for the poller, or nil when the
// poller cannot address it (a zone that names no interface).
func newRawTarget(s Spec) *rawTarget {
	t := &rawTarget{}
	if !fillRawTarget(t, s) {
		return nil
	}
	return t
}

// fillRawTarget sets t to s's addresses for the poller, and reports
// whether the poller can address s (not: a zone that names no interface).
// t.target is s's Target either way.
func fillRawTarget(t *rawTarget, s Spec) bool {
	*t = rawTarget{target: s.Target}
	sa, _, ok := sockaddr(s.Target)
	if !ok {
		return false
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(&t.csa))
		r.Family, r.Addr = unix.AF_INET, sa.Addr
		t.csaLen = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		t.csa.Family, t.csa.Addr, t.csa.Scope_id = unix.AF_INET6, sa.Addr, sa.ZoneId
		t.csaLen = unix.SizeofSockaddrInet6
	}
	if s.HalfOpen {
		t.half = &halfOpenState{rsa: t.csa}
	}
	// The port in network byte order, in the same place for both families.
	port := (*[2]byte)(unsafe.Pointer(&t.csa.Port))
	port[0], port[1] = byte(s.Target.Port()>>8), byte(s.Target.Port())
	if s.Source.IsValid() {
		src := netip.AddrPortFrom(s.Source, 0)
		if t.family() == unix.AF_INET6 && s.Source.Is4() {
			src = netip.AddrPortFrom(netip.AddrFrom16(s.Source.As16()), 0)
		}
		b := &rawBind{source: s.Source}
		if b.src, _, ok = sockaddr(src); !ok {
			*t = rawTarget{target: s.Target}
			return false
		}
		b.srcA = net.TCPAddrFromAddrPort(src)
		if s, ok := b.src.(*unix.SockaddrInet6); ok {
			b.oob6 = unix.PktInfo6(&unix.Inet6Pktinfo{Addr: s.Addr})
		}
		t.bind = b
	}
	return true
}

// source is the Spec's Source, the zero Addr when it has none.
func (t *rawTarget) bindSource() netip.Addr {
	if t.bind == nil {
		return netip.Addr{}
	}
	return t.bind.source
}

func sockaddr(ap netip.AddrPort) (unix.Sockaddr, int, bool) {
	a := ap.Addr()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}, unix.AF_INET, true
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		ifi, err := net.InterfaceByName(z)
		if err != nil {
			return nil, 0, false
		}
		sa.ZoneId = uint32(ifi.Index)
	}
	return sa, unix.AF_INET6, true
}

// Check succeeds when the three-way handshake completes; the connection is
// then closed with a reset (SO_LINGER 0), as HAProxy's checks do: at
// thousands of probes a second, a normal close would leave a TIME_WAIT
// socket on the director for every probe.
func (c *tcpChecker) Check(ctx context.Context) error {
	if !c.polled && !c.halfOpen {
		return c.dial(ctx)
	}
	return checkOnPoller(ctx, c.timeout, sharedPoller(), c)
}

// start begins one probe on p that ends by deadline (see asyncChecker).
func (c *tcpChecker) start(p *connectPoller, deadline time.Time, done func(error)) probeHandle {
	if c.halfOpen {
		if !c.polled || p == nil {
			done(errNoHalfOpen(c.raw.target.String()))
			return probeHandle{}
		}
		return p.startHalfOpen(&c.raw, deadline, done)
	}
	if !c.polled || p == nil {
		go func() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			done(c.dial(ctx))
		}()
		return probeHandle{}
	}
	return p.start(&c.raw, nil, deadline, done)
}

// timers puts the check's probe times on p (see asyncChecker).
func (c *tcpChecker) timers(p *connectPoller) probeTimers {
	if !c.polled || p == nil {
		return nil
	}
	return p
}

// checkOnPoller runs one probe of c on p and waits for its result: the
// synchronous Check of an asyncChecker. The probe ends by ctx's deadline
// or after timeout, whichever is first; cancelling ctx aborts it.
func checkOnPoller(ctx context.Context, timeout time.Duration, p *connectPoller, c asyncChecker) error {
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	ch := make(chan error, 1)
	h := c.start(p, dl, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		h.abortWith(ctx.Err())
		return <-ch
	}
}
