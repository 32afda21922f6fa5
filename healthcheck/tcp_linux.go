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

// rawTarget is what the poller needs of a tcp Spec: socket addresses.
type rawTarget struct {
	family int
	target netip.AddrPort // the destination (errors say it as a net.TCPAddr)
	src    unix.Sockaddr  // nil: the kernel chooses
	srcA   *net.TCPAddr

	// Half-open probes only (tcp_halfopen_linux.go): the destination as
	// a raw socket takes it (a struct sockaddr without the port), the
	// IPV6_PKTINFO of an IPv6 source, and the IPv4 source with its
	// IP_PKTINFO, learned and kept under srcMu.
	rsa    unix.RawSockaddrInet6 // or, cast, a RawSockaddrInet4
	rsaLen uint32
	// The destination as connect takes it (rsa with the port), for the
	// poller's raw connect (rawsys_linux.go).
	csa        unix.RawSockaddrInet6
	csaLen     uint32
	oob6       []byte
	srcMu      sync.Mutex
	srcAt      time.Time // when src4 was learned; zero: not known
	srcEpoch   uint64    // the routes' epoch then
	srcWatched bool      // learned under a route watch (see forgetSource)
	src4       [4]byte
	oob4       []byte
}

// newRawTarget returns s's addresses for the poller, or nil when the
// poller cannot address it (a zone that names no interface).
func newRawTarget(s Spec) *rawTarget {
	sa, family, ok := sockaddr(s.Target)
	if !ok {
		return nil
	}
	t := &rawTarget{family: family, target: s.Target}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(&t.rsa))
		r.Family, r.Addr = unix.AF_INET, sa.Addr
		t.rsaLen = unix.SizeofSockaddrInet4
	case *unix.SockaddrInet6:
		t.rsa.Family, t.rsa.Addr, t.rsa.Scope_id = unix.AF_INET6, sa.Addr, sa.ZoneId
		t.rsaLen = unix.SizeofSockaddrInet6
	}
	t.csa, t.csaLen = t.rsa, t.rsaLen
	// The port in network byte order, in the same place for both families.
	port := (*[2]byte)(unsafe.Pointer(&t.csa.Port))
	port[0], port[1] = byte(s.Target.Port()>>8), byte(s.Target.Port())
	if s.Source.IsValid() {
		src := netip.AddrPortFrom(s.Source, 0)
		if family == unix.AF_INET6 && s.Source.Is4() {
			src = netip.AddrPortFrom(netip.AddrFrom16(s.Source.As16()), 0)
		}
		if t.src, _, ok = sockaddr(src); !ok {
			return nil
		}
		t.srcA = net.TCPAddrFromAddrPort(src)
		if s, ok := t.src.(*unix.SockaddrInet6); ok {
			t.oob6 = unix.PktInfo6(&unix.Inet6Pktinfo{Addr: s.Addr})
		}
	}
	return t
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
	if c.raw == nil && !c.halfOpen {
		return c.dial(ctx)
	}
	return checkOnPoller(ctx, c.timeout, sharedPoller(), c)
}

// start begins one probe on p that ends by deadline (see asyncChecker).
func (c *tcpChecker) start(p *connectPoller, deadline time.Time, done func(error)) probeHandle {
	if c.halfOpen {
		if c.raw == nil || p == nil {
			done(errNoHalfOpen(c.target.String()))
			return nil
		}
		return p.startHalfOpen(c.raw, deadline, done)
	}
	if c.raw == nil || p == nil {
		go func() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			done(c.dial(ctx))
		}()
		return nil
	}
	return p.start(c.raw, nil, deadline, done)
}

// timers puts the check's probe times on p (see asyncChecker).
func (c *tcpChecker) timers(p *connectPoller) probeTimers {
	if c.raw == nil || p == nil {
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
		if pr, ok := h.(*pollProbe); ok {
			pr.abortWith(ctx.Err())
		} else if h != nil {
			h.abort()
		}
		return <-ch
	}
}
