//go:build linux

package healthcheck

import (
	"container/heap"
	"context"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// TCP probes on Linux run on one connect poller for the whole process,
// keepalived's shape in a goroutine: a probe is a non-blocking socket whose
// connect the poller's epoll instance watches, with its deadline in the
// poller's heap. No goroutine, context or runtime timer per probe; the
// success path is five system calls (socket, connect, epoll_ctl,
// setsockopt SO_LINGER, close). Completions are handled before deadlines,
// so a poller that runs late (a starved CPU) does not turn connects that
// succeeded into timeouts.

// rawTarget is what the poller needs of a tcp Spec: socket addresses.
type rawTarget struct {
	family int
	sa     unix.Sockaddr
	src    unix.Sockaddr // nil: the kernel chooses
	addr   *net.TCPAddr  // for errors
	srcA   *net.TCPAddr
}

// newRawTarget returns s's addresses for the poller, or nil when the
// poller cannot address it (a zone that names no interface).
func newRawTarget(s Spec) *rawTarget {
	sa, family, ok := sockaddr(s.Target)
	if !ok {
		return nil
	}
	t := &rawTarget{family: family, sa: sa, addr: net.TCPAddrFromAddrPort(s.Target)}
	if s.Source.IsValid() {
		src := netip.AddrPortFrom(s.Source, 0)
		if family == unix.AF_INET6 && s.Source.Is4() {
			src = netip.AddrPortFrom(netip.AddrFrom16(s.Source.As16()), 0)
		}
		if t.src, _, ok = sockaddr(src); !ok {
			return nil
		}
		t.srcA = net.TCPAddrFromAddrPort(src)
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
	if c.raw == nil {
		return c.dial(ctx)
	}
	dl := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	ch := make(chan error, 1)
	h := c.start(dl, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		if h != nil {
			h.abort()
		}
		return <-ch
	}
}

// start begins one probe that ends by deadline (see asyncChecker).
func (c *tcpChecker) start(deadline time.Time, done func(error)) probeHandle {
	if c.raw == nil {
		go func() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			done(c.dial(ctx))
		}()
		return nil
	}
	p := thePoller()
	if p == nil {
		go func() {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			done(c.dial(ctx))
		}()
		return nil
	}
	return p.start(c.raw, deadline, done)
}

var (
	pollerOnce sync.Once
	poller     *connectPoller
)

// thePoller returns the process's connect poller, started on first use;
// nil if epoll is not available.
func thePoller() *connectPoller {
	pollerOnce.Do(func() {
		p, err := newConnectPoller()
		if err == nil {
			poller = p
			go p.loop()
		}
	})
	return poller
}

// connectPoller watches the connects of TCP probes. mu guards the probes
// in flight (by file descriptor) and their deadlines; whoever removes a
// probe from inflight (the loop, or abort) closes its socket and calls its
// done, so each probe ends exactly once.
type connectPoller struct {
	epfd, evfd int

	mu       sync.Mutex
	inflight map[int32]*tcpProbe
	heap     probeHeap
	seq      uint32
	// wakeAt is when the loop's epoll_wait returns at the latest (zero
	// while the loop is not waiting); a probe with an earlier deadline
	// wakes it through evfd.
	wakeAt time.Time
}

// tcpProbe is one connect in flight.
type tcpProbe struct {
	p        *connectPoller
	fd       int32
	seq      uint32
	live     bool // in inflight
	deadline time.Time
	t        *rawTarget
	done     func(error)
}

func newConnectPoller() (*connectPoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	return &connectPoller{epfd: epfd, evfd: evfd, inflight: map[int32]*tcpProbe{}}, nil
}

// start opens t's socket and starts its connect. done is called exactly
// once with the result: before start returns when the connect ends at
// once (then start returns nil), otherwise from the poller's goroutine or
// from abort.
func (p *connectPoller) start(t *rawTarget, deadline time.Time, done func(error)) probeHandle {
	fd, err := unix.Socket(t.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		done(t.opError(os.NewSyscallError("socket", err)))
		return nil
	}
	if t.src != nil {
		if err := unix.Bind(fd, t.src); err != nil {
			unix.Close(fd)
			done(t.opError(os.NewSyscallError("bind", err)))
			return nil
		}
	}
	switch err := unix.Connect(fd, t.sa); err {
	case nil:
		closeReset(fd)
		done(nil)
		return nil
	case unix.EINPROGRESS:
	default:
		unix.Close(fd)
		done(t.opError(os.NewSyscallError("connect", err)))
		return nil
	}
	pr := &tcpProbe{p: p, fd: int32(fd), live: true, deadline: deadline, t: t, done: done}
	p.mu.Lock()
	p.seq++
	pr.seq = p.seq
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(fd), Pad: int32(pr.seq)}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Unlock()
		unix.Close(fd)
		done(t.opError(os.NewSyscallError("epoll_ctl", err)))
		return nil
	}
	p.inflight[pr.fd] = pr
	heap.Push(&p.heap, pr)
	kick := !p.wakeAt.IsZero() && deadline.Before(p.wakeAt)
	if kick {
		p.wakeAt = deadline // one kick is enough
	}
	p.mu.Unlock()
	if kick {
		var one = [8]byte{1}
		unix.Write(p.evfd, one[:])
	}
	return pr
}

// abort ends the probe now with context.Canceled, unless it has ended.
func (pr *tcpProbe) abort() {
	p := pr.p
	p.mu.Lock()
	if !pr.live {
		p.mu.Unlock()
		return
	}
	pr.live = false
	delete(p.inflight, pr.fd)
	p.mu.Unlock()
	unix.Close(int(pr.fd))
	pr.done(pr.t.opError(context.Canceled))
}

var errTimeout = os.ErrDeadlineExceeded

// ended is a probe taken out of inflight by the loop, with its result.
type ended struct {
	pr  *tcpProbe
	ok  bool
	err error
}

func (p *connectPoller) loop() {
	events := make([]unix.EpollEvent, 512)
	var out []ended
	for {
		p.mu.Lock()
		timeout := -1
		p.wakeAt = time.Now().Add(time.Hour)
		for len(p.heap) > 0 && !p.heap[0].live {
			heap.Pop(&p.heap)
		}
		if len(p.heap) > 0 {
			p.wakeAt = p.heap[0].deadline
			d := time.Until(p.wakeAt)
			timeout = max(0, int((d+time.Millisecond-1)/time.Millisecond))
		}
		p.mu.Unlock()
		n, err := unix.EpollWait(p.epfd, events, timeout)
		if err != nil && err != unix.EINTR {
			time.Sleep(10 * time.Millisecond) // cannot happen; do not spin
		}
		out = out[:0]
		p.mu.Lock()
		p.wakeAt = time.Time{}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == p.evfd {
				var b [8]byte
				unix.Read(p.evfd, b[:])
				continue
			}
			pr := p.inflight[ev.Fd]
			if pr == nil || pr.seq != uint32(ev.Pad) {
				continue // aborted meanwhile
			}
			pr.live = false
			delete(p.inflight, ev.Fd)
			e := ended{pr: pr, ok: true}
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
				if errno, gerr := unix.GetsockoptInt(int(pr.fd), unix.SOL_SOCKET, unix.SO_ERROR); gerr != nil {
					e.ok, e.err = false, os.NewSyscallError("getsockopt", gerr)
				} else if errno != 0 {
					e.ok, e.err = false, os.NewSyscallError("connect", unix.Errno(errno))
				}
			}
			out = append(out, e)
		}
		now := time.Now()
		for len(p.heap) > 0 && !p.heap[0].deadline.After(now) {
			pr := heap.Pop(&p.heap).(*tcpProbe)
			if !pr.live {
				continue
			}
			pr.live = false
			delete(p.inflight, pr.fd)
			out = append(out, ended{pr: pr, err: errTimeout})
		}
		p.mu.Unlock()
		for i, e := range out {
			if e.err == errTimeout {
				e.ok, e.err = lateResult(int(e.pr.fd))
			}
			if e.ok {
				closeReset(int(e.pr.fd))
				e.pr.done(nil)
			} else {
				unix.Close(int(e.pr.fd))
				e.pr.done(e.pr.t.opError(e.err))
			}
			out[i] = ended{}
		}
	}
}

// lateResult is the result of a probe whose deadline passed before the
// poller saw its connect end: the socket's own state, so that a poller that
// ran late (a starved CPU) does not turn a connect that succeeded or failed
// meanwhile into a timeout. keepalived's checker, which handles ready
// sockets before expired timers, behaves the same.
func lateResult(fd int) (ok bool, err error) {
	if errno, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr == nil && errno != 0 {
		return false, os.NewSyscallError("connect", unix.Errno(errno))
	}
	if _, gerr := unix.Getpeername(fd); gerr == nil {
		return true, nil
	}
	return false, errTimeout
}

// closeReset closes a connected socket with a reset: no TIME_WAIT.
func closeReset(fd int) {
	_ = unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	unix.Close(fd)
}

// opError words err as net.Dialer would: "dial tcp ADDR: connect: …".
func (t *rawTarget) opError(err error) error {
	oe := &net.OpError{Op: "dial", Net: "tcp", Addr: t.addr, Err: err}
	if t.srcA != nil {
		oe.Source = t.srcA
	}
	return oe
}

// probeHeap orders probes by deadline.
type probeHeap []*tcpProbe

func (h probeHeap) Len() int           { return len(h) }
func (h probeHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h probeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *probeHeap) Push(x any)        { *h = append(*h, x.(*tcpProbe)) }
func (h *probeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}
