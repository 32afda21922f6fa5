//go:build linux

package healthcheck

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The probe poller: one goroutine and one epoll instance per Manager,
// keepalived's shape. A probe is a non-blocking socket whose
// events the poller watches, with its deadline in the poller's heap: a tcp
// probe ends with its connect, an http probe (http_linux.go) writes its
// request once connected and reads the answer as it arrives, into one
// buffer the poller shares between probes. No goroutine, context or
// runtime timer per probe. Events are handled before deadlines, and a
// probe whose deadline passed gets a last look at its socket, so a poller
// that runs late (a starved CPU) does not turn probes that ended in time
// into timeouts.
//
// Each Manager starts its own poller with its first check that needs one
// and stops it in Close (see connectPoller.close): its goroutine ends and
// its epoll instance, eventfd and raw sockets are closed, so a Manager
// that closes leaves nothing behind (a director that restarts its checks
// starts clean), and Managers that run at once (tests) do not share one.
// Only checkers used on
// their own, through Checker.Check outside any Manager, share the
// package's poller (sharedPoller), started on first use.

var (
	sharedOnce sync.Once
	shared     *connectPoller
)

// sharedPoller returns the poller of checkers used on their own (see
// above), started on first use; nil if epoll is not available. A Manager
// never uses it.
func sharedPoller() *connectPoller {
	sharedOnce.Do(func() { shared, _ = startPoller() })
	return shared
}

// sharedPollerOK reports whether checkers used on their own have a poller.
func sharedPollerOK() bool { return sharedPoller() != nil }

// startPoller returns a new poller, its loop running; close stops it.
func startPoller() (*connectPoller, error) {
	p, err := newConnectPoller()
	if err != nil {
		return nil, err
	}
	go p.loop()
	return p, nil
}

// errPollerClosed ends the probes of a poller that closes, and those
// started after.
var errPollerClosed = errors.New("health check poller closed")

// connectPoller watches the sockets of probes. mu guards the probes in
// flight (by file descriptor), their deadlines, the ended ones (free) and
// their gen, live, busy and aborted fields. Whoever takes a probe out of
// inflight (the loop, or abort) closes its socket and calls its done, so
// each probe ends exactly once; while the loop works on a probe's socket
// outside mu (busy), abort only asks the loop to end it.
type connectPoller struct {
	epfd, evfd int
	epf        *os.File        // epfd, in the runtime's poller
	epc        syscall.RawConn // its raw access
	// evfd, as a file: kick writes it through evc, whose use the file's
	// close waits for, so a kick racing with close never writes to a
	// reused descriptor.
	evf    *os.File
	evc    syscall.RawConn
	kickFn func(uintptr) bool
	// loopDone is closed when the loop returns (see close).
	loopDone  chan struct{}
	closeOnce sync.Once
	// wait's state (the loop's): waitRead's events and results.
	waitFn     func(uintptr) bool
	waitEvents []unix.EpollEvent
	waitN      int
	waitErr    error

	mu       sync.Mutex
	closed   bool // close began: the loop ends, nothing more starts
	inflight map[int32]*pollProbe
	heap     deadlineHeap
	seq      uint32
	// Ended probes by kind, for the next probes of their kind (see
	// get): a probe per probe was most of the checker's garbage.
	free [3][]*pollProbe
	// wakeAt is when the loop's epoll_wait returns at the latest (zero
	// while the loop is not waiting); a probe with an earlier deadline
	// wakes it through evfd.
	wakeAt time.Time
	timers timerHeap // probe start times (see probeTimers)
	epoch  time.Time // the origin of the timers' when

	rbuf []byte        // the loop's read buffer
	due  []*probeTimer // the loop's timers to run

	// Half-open probes (tcp_halfopen_linux.go): in flight by their
	// answer's key, under mu; the raw sockets, opened on first use,
	// under halfMu.
	syns     map[synKey]*pollProbe
	halfMu   sync.Mutex
	half     [2]*halfOpenSocket // IPv4, IPv6
	halfErr  [2]error
	halfDone bool          // close closed the raw sockets: open no more
	answers  []synResult   // the loop's
	unsent   []probeHandle // started, their SYN not sent yet
	writes   []probeHandle // started on kept connections, their request not written yet
	// The loop's send batch (see sendHalfOpen).
	sending   []probeHandle
	sendEnded []work
	sendIovs  [synBatch]unix.Iovec
	sendMsgs  [synBatch]unix.Mmsghdr
}

// pollProbe is one probe in flight. A probe is used again once it has
// ended (see get and put): p and its kind (x, half) never
// change, gen tells its uses apart, and probeState is each use's own.
type pollProbe struct {
	p    *connectPoller
	x    *httpExchange // nil: a tcp probe
	half *halfOpen     // a half-open tcp probe's state: no socket, fd -1
	gen  uint32        // uses ended (under p.mu)
	probeState
}

// probeState is what one use of a probe holds.
type probeState struct {
	fd        int32
	seq       uint32
	live      bool  // in inflight
	busy      bool  // the loop works on its socket outside mu
	connected bool  // its connect completed (loop only)
	aborted   error // abort's context error, for the loop to deliver (busy)
	deadline  time.Time
	t         *rawTarget
	done      func(error)
}

// Probe kinds, for the free lists.
const (
	tcpKind = iota
	httpKind
	halfKind
)

// maxFree bounds each free list: it holds at most as many probes as were
// ever in flight at once, and no more than this.
const maxFree = 1024

// get returns a probe of kind for its next use, which the handle names:
// an ended one, or a new one.
func (p *connectPoller) get(kind int) probeHandle {
	p.mu.Lock()
	if l := p.free[kind]; len(l) > 0 {
		pr := l[len(l)-1]
		l[len(l)-1] = nil
		p.free[kind] = l[:len(l)-1]
		h := probeHandle{pr: pr, gen: pr.gen}
		p.mu.Unlock()
		return h
	}
	p.mu.Unlock()
	switch kind {
	case httpKind:
		return probeHandle{pr: newHTTPProbe(p)}
	case halfKind:
		hp := &struct {
			pr pollProbe
			h  halfOpen
		}{}
		hp.pr.p, hp.pr.half = p, &hp.h
		return probeHandle{pr: &hp.pr}
	}
	return probeHandle{pr: &pollProbe{p: p}}
}

// put takes back pr, which has ended, for its next use: nothing may read
// it after but through a handle, which then no longer reaches it. Called
// with mu held.
func (p *connectPoller) put(pr *pollProbe) {
	pr.gen++
	pr.probeState = probeState{}
	kind := tcpKind
	switch {
	case pr.x != nil:
		kind = httpKind
	case pr.half != nil:
		kind = halfKind
		*pr.half = halfOpen{}
	}
	if len(p.free[kind]) < maxFree {
		p.free[kind] = append(p.free[kind], pr)
	}
}

// putBack is put, taking mu.
func (p *connectPoller) putBack(pr *pollProbe) {
	p.mu.Lock()
	p.put(pr)
	p.mu.Unlock()
}

func newConnectPoller() (*connectPoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// The loop parks in the runtime's network poller until the epoll
	// instance has events (see wait): an epoll file descriptor is itself
	// pollable. A non-blocking file is put in the runtime's poller.
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	epf := os.NewFile(uintptr(epfd), "probe-epoll")
	epc, err := epf.SyscallConn()
	if err != nil {
		epf.Close()
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		epf.Close()
		return nil, err
	}
	evf := os.NewFile(uintptr(evfd), "probe-eventfd")
	evc, err := evf.SyscallConn()
	if err != nil {
		epf.Close()
		evf.Close()
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		epf.Close()
		evf.Close()
		return nil, err
	}
	p := &connectPoller{epfd: epfd, epf: epf, epc: epc, evfd: evfd, evf: evf, evc: evc, loopDone: make(chan struct{}), inflight: map[int32]*pollProbe{}, syns: map[synKey]*pollProbe{}, rbuf: make([]byte, 16<<10), epoch: time.Now()}
	p.waitFn = p.waitRead
	p.kickFn = kickWrite
	return p, nil
}

// close stops the poller: its loop ends, the probes still in flight end
// with errPollerClosed (their sockets closed), its timers are dropped
// without running, and its epoll instance, eventfd and half-open raw
// sockets are closed. Probes and timers started after fail at once or do
// nothing. It returns once all that is done; calls after the first wait
// for it too. It must not run on the loop (a timer's function, a probe's
// done): it waits for the loop to end.
//
// Connections that checkers keep between probes (Spec.Reuse) are theirs:
// the Manager closes them (closeIdle) when it stops the checks.
func (p *connectPoller) close() { p.closeOnce.Do(p.shutdown) }

func (p *connectPoller) shutdown() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.kick()
	<-p.loopDone
	// The loop has ended, with no probe busy: what is left in flight is
	// ours to end.
	p.mu.Lock()
	var ended []*pollProbe
	for _, pr := range p.inflight {
		if pr.live {
			pr.live = false
			ended = append(ended, pr)
		}
	}
	for _, pr := range p.syns {
		if pr.live {
			pr.live = false
			ended = append(ended, pr)
		}
	}
	clear(p.inflight)
	clear(p.syns)
	for _, t := range p.timers {
		t.idx = -1 // disarm finds it unarmed
	}
	p.timers = nil
	p.heap = nil
	p.unsent, p.writes, p.sending, p.due = nil, nil, nil, nil
	p.mu.Unlock()
	p.halfMu.Lock()
	p.halfDone = true
	for i, hs := range p.half {
		if hs != nil {
			hs.close()
			p.half[i] = nil
		}
	}
	p.halfMu.Unlock()
	for _, pr := range ended {
		pr.finish(pr.t.opError(errPollerClosed))
	}
	p.epf.Close()
	p.evf.Close()
}

// start opens t's socket and starts its connect; hc, when not nil, makes
// it an http probe, on hc's kept connection if it has one (see
// Spec.Reuse). done is called exactly once with the result: before start
// returns when the probe ends at once (then start returns nil), otherwise
// from the poller's goroutine or from abort.
func (p *connectPoller) start(t *rawTarget, hc *httpRawChecker, deadline time.Time, done func(error)) probeHandle {
	if hc != nil && hc.reuses() {
		if fd, seq, uses := hc.takeIdle(); fd >= 0 {
			h := p.get(httpKind)
			pr := h.pr
			pr.fd, pr.seq, pr.live, pr.connected, pr.deadline, pr.t, pr.done = int32(fd), seq, true, true, deadline, t, done
			if uses == spent {
				pr.x.init(hc, 0)
				if ended, err := p.reconnect(pr); ended {
					p.end(pr, err)
					return probeHandle{}
				}
				return h
			}
			pr.x.init(hc, uses)
			if !p.reuse(h) {
				closeReset(fd)
				p.end(pr, t.opError(errPollerClosed))
				return probeHandle{}
			}
			return h
		}
	}
	var h probeHandle
	if hc != nil {
		h = p.get(httpKind)
		h.pr.x.init(hc, 0)
	} else {
		h = p.get(tcpKind)
	}
	pr := h.pr
	pr.live, pr.deadline, pr.t, pr.done = true, deadline, t, done
	if ended, err := p.dial(pr); ended {
		p.end(pr, err)
		return probeHandle{}
	}
	return h
}

// end ends pr, which start did not put in flight, with err.
func (p *connectPoller) end(pr *pollProbe, err error) {
	done := pr.done
	p.putBack(pr)
	done(err)
}

// newHTTPProbe returns a probe of p and its http exchange in one
// allocation.
func newHTTPProbe(p *connectPoller) *pollProbe {
	hp := &struct {
		pr pollProbe
		x  httpExchange
	}{}
	hp.pr.p, hp.pr.x = p, &hp.x
	return &hp.pr
}

// dial opens pr's socket, starts its connect and puts pr in flight, unless
// the probe ends at once (ended, with its result err, the socket closed):
// on an error, or for a tcp probe a connect that completes at once.
func (p *connectPoller) dial(pr *pollProbe) (ended bool, err error) {
	t := pr.t
	pr.fd, pr.connected = -1, false
	fd, serr := rawSocket(t.family(), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if serr != nil {
		return true, t.opError(os.NewSyscallError("socket", serr))
	}
	if t.bind != nil {
		if err := unix.Bind(fd, t.bind.src); err != nil {
			rawClose(fd)
			return true, t.opError(os.NewSyscallError("bind", err))
		}
	}
	switch err := rawConnect(fd, unsafe.Pointer(&t.csa), t.csaLen); err {
	case nil:
		if pr.x == nil {
			closeReset(fd)
			return true, nil
		}
		pr.connected = true
	case unix.EINPROGRESS:
	default:
		rawClose(fd)
		return true, t.opError(os.NewSyscallError("connect", err))
	}
	pr.fd = int32(fd)
	if err := p.add(pr, unix.EPOLL_CTL_ADD); err != nil {
		pr.fd, pr.connected = -1, false
		rawClose(fd)
		return true, t.opError(os.NewSyscallError("epoll_ctl", err))
	}
	return false, nil
}

// add puts pr, whose socket is open, in flight: its socket in the epoll
// set (op EPOLL_CTL_ADD; EPOLL_CTL_MOD for one already there) under a new
// seq, and its deadline in the heap.
func (p *connectPoller) add(pr *pollProbe, op int) error {
	// A tcp probe waits for one event; an http probe for several (the
	// connect, then the answer's bytes), edge-triggered: no epoll_ctl
	// between them.
	events := uint32(unix.EPOLLOUT | unix.EPOLLONESHOT)
	if pr.x != nil {
		events = unix.EPOLLOUT | unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errPollerClosed
	}
	p.seq++
	pr.seq = p.seq
	ev := unix.EpollEvent{Events: events, Fd: pr.fd, Pad: int32(pr.seq)}
	if err := rawEpollCtl(p.epfd, op, int(pr.fd), &ev); err != nil {
		p.mu.Unlock()
		return err
	}
	p.inflight[pr.fd] = pr
	p.pushDeadline(pr)
	kick := p.wakeBy(pr.deadline)
	p.mu.Unlock()
	if kick {
		p.kick()
	}
	return nil
}

// reuse puts pr, a probe on a kept connection, in flight: the socket is
// still in the epoll set, under the seq of its last probe, which pr keeps
// (no epoll_ctl). The loop writes the request after this wake-up's
// timers, all the kept connections' at once; pr is in flight by then, so
// the answer's event finds it. False when the poller has closed: pr is
// not in flight.
func (p *connectPoller) reuse(h probeHandle) bool {
	pr := h.pr
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.inflight[pr.fd] = pr
	p.pushDeadline(pr)
	p.writes = append(p.writes, h)
	kick := p.wakeBy(time.Time{}) // now
	p.mu.Unlock()
	if kick {
		p.kick()
	}
	return true
}

// reconnect starts a new connection on pr's socket, a spent one (see
// spent): it drops the old connection (a reset, if the server has not
// closed it: no TIME_WAIT) and connects again, keeping the socket and its
// epoll registration, which it re-arms under a new seq (EPOLL_CTL_MOD
// looks at the socket afresh, as the ADD of a new one does, so an
// event of the new connect that came first is not lost, and events of
// the old connection are). Three system calls where closing the socket
// and opening another costs five (the reset's linger option, close,
// socket, connect, epoll_ctl). Like dial, it puts pr in flight unless the
// probe ends at once (then the socket is closed).
func (p *connectPoller) reconnect(pr *pollProbe) (ended bool, err error) {
	fd := int(pr.fd)
	pr.connected = false
	fail := func(err error) (bool, error) {
		rawClose(fd)
		pr.fd = -1
		return true, pr.t.opError(err)
	}
	if err := disconnect(fd); err != nil {
		return fail(err)
	}
	switch err := rawConnect(fd, unsafe.Pointer(&pr.t.csa), pr.t.csaLen); err {
	case nil:
		pr.connected = true
	case unix.EINPROGRESS:
	default:
		return fail(os.NewSyscallError("connect", err))
	}
	if err := p.add(pr, unix.EPOLL_CTL_MOD); err != nil {
		return fail(os.NewSyscallError("epoll_ctl", err))
	}
	return false, nil
}

// redial replaces the kept connection of pr, which the server closed, by
// a fresh one (see httpExchange.stale); finished when that fails at once.
// It runs on the loop, outside mu, while pr is busy. pr is then twice in
// the deadline heap, which the loop tolerates (it skips a popped probe
// that is busy or has ended).
func (p *connectPoller) redial(pr *pollProbe) (finished bool, err error) {
	p.mu.Lock()
	delete(p.inflight, pr.fd)
	p.mu.Unlock()
	rawClose(int(pr.fd)) // a plain close: the server has gone from it
	pr.x.init(pr.x.c, 0)
	return p.dial(pr) // an http probe: it does not end on its connect
}

// wakeBy notes that the loop has something to do at t; true when the loop
// waits past t and must be kicked (see kick). Called with mu held.
func (p *connectPoller) wakeBy(t time.Time) bool {
	kick := !p.wakeAt.IsZero() && t.Before(p.wakeAt)
	if kick {
		p.wakeAt = t // one kick is enough
	}
	return kick
}

// wait returns the probes' socket events, waiting up to timeout ms for
// some (-1: without end). It never blocks in epoll_wait: a goroutine
// blocked in a system call holds its thread and P, which the runtime's
// monitor takes back every time (a futex hand-off, and the monitor then
// wakes every 20 µs while the poller is busy). It reads the events
// without waiting, and when there are none parks the goroutine in the
// runtime's own poller until the epoll instance has some or the timeout
// passes, as a net.Conn read does.
func (p *connectPoller) wait(events []unix.EpollEvent, timeout int) (int, error) {
	if timeout == 0 {
		return rawEpollPoll(p.epfd, events)
	}
	// The read calls waitRead first, and parks only if it finds nothing.
	var dl time.Time
	if timeout > 0 {
		dl = time.Now().Add(time.Duration(timeout) * time.Millisecond)
	}
	p.epf.SetReadDeadline(dl)
	p.waitEvents = events
	rerr := p.epc.Read(p.waitFn)
	p.waitEvents = nil
	if rerr != nil && !errors.Is(rerr, os.ErrDeadlineExceeded) {
		return 0, rerr
	}
	return p.waitN, p.waitErr
}

// waitRead is wait's read of the epoll instance, made once into waitFn
// (a closure per wait would be an allocation per wake-up).
func (p *connectPoller) waitRead(fd uintptr) bool {
	p.waitN, p.waitErr = rawEpollPoll(int(fd), p.waitEvents)
	return p.waitN != 0 || (p.waitErr != nil && p.waitErr != unix.EINTR)
}

// kick wakes the loop from its wait. After close it does nothing.
func (p *connectPoller) kick() {
	p.evc.Write(p.kickFn)
}

// kickWrite is kick's write of the eventfd (a function value made once:
// a closure per kick would be an allocation).
func kickWrite(fd uintptr) bool {
	var one = [8]byte{1}
	rawWrite(int(fd), one[:])
	return true // a full counter (never) has woken the loop anyway
}

// arm implements probeTimers: t.f runs on the loop at at.
func (p *connectPoller) arm(t *probeTimer, at time.Time) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return // never runs
	}
	t.when = int64(at.Sub(p.epoch))
	if t.idx >= 0 {
		p.timers.fix(t.idx)
	} else {
		p.timers.push(t)
	}
	kick := p.wakeBy(at)
	p.mu.Unlock()
	if kick {
		p.kick()
	}
}

// disarm implements probeTimers.
func (p *connectPoller) disarm(t *probeTimer) {
	p.mu.Lock()
	if t.idx >= 0 {
		p.timers.remove(t.idx)
	}
	p.mu.Unlock()
}

// abort ends the probe now with context.Canceled, unless it has ended.
func (h probeHandle) abort() { h.abortWith(context.Canceled) }

// abortWith ends the probe now with err (a context's error, worded as the
// probe's kind words it), unless it has ended.
func (h probeHandle) abortWith(err error) {
	pr := h.pr
	if pr == nil {
		return
	}
	p := pr.p
	p.mu.Lock()
	if !h.current() {
		p.mu.Unlock()
		return
	}
	if pr.busy {
		pr.aborted = err // the loop ends it
		p.mu.Unlock()
		return
	}
	pr.live = false
	p.forget(pr)
	err = pr.ctxError(err) // the loop is done with pr: its state is ours
	p.mu.Unlock()
	if pr.half == nil {
		rawClose(int(pr.fd))
	}
	pr.done(err)
	p.putBack(pr)
}

// current reports whether h's use of its probe is in flight. Called with
// the probe's poller's mu held.
func (h probeHandle) current() bool { return h.pr.gen == h.gen && h.pr.live }

// forget takes pr out of the probes in flight. Called with mu held.
func (p *connectPoller) forget(pr *pollProbe) {
	if pr.half != nil {
		delete(p.syns, pr.half.key)
	} else {
		delete(p.inflight, pr.fd)
	}
}

// ctxError words a context's error as the probe's kind does: a tcp probe
// as net.Dialer, an http probe as net/http.
func (pr *pollProbe) ctxError(err error) error {
	if pr.x != nil {
		if err == context.DeadlineExceeded {
			return pr.x.timeoutError(pr)
		}
		return err
	}
	if err == context.DeadlineExceeded {
		err = errTimeout
	}
	return pr.t.opError(err)
}

var errTimeout = os.ErrDeadlineExceeded

// work is a probe the loop handles outside mu: its events (none when its
// deadline passed), then its result.
type work struct {
	pr       *pollProbe
	events   uint32
	finished bool
	err      error
}

func (p *connectPoller) loop() {
	defer close(p.loopDone)
	events := make([]unix.EpollEvent, 512)
	var todo []work
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return // close ends what is left
		}
		timeout := -1
		p.wakeAt = time.Now().Add(time.Hour)
		for len(p.heap) > 0 && !p.heap[0].h.current() {
			p.heap.pop()
		}
		if len(p.heap) > 0 {
			p.wakeAt = p.epoch.Add(time.Duration(p.heap[0].when))
		}
		if len(p.timers) > 0 {
			if at := p.epoch.Add(time.Duration(p.timers[0].when)); at.Before(p.wakeAt) {
				p.wakeAt = at
			}
		}
		if len(p.heap) > 0 || len(p.timers) > 0 {
			d := time.Until(p.wakeAt)
			timeout = max(0, int((d+time.Millisecond-1)/time.Millisecond))
		}
		if len(p.unsent) > 0 || len(p.writes) > 0 {
			timeout = 0 // SYNs or requests queued while the loop ran
		}
		p.mu.Unlock()
		n, err := p.wait(events, timeout)
		if err != nil && err != unix.EINTR {
			time.Sleep(10 * time.Millisecond) // cannot happen; do not spin
		}
		todo = todo[:0]
		p.mu.Lock()
		p.wakeAt = time.Time{}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == p.evfd {
				var b [8]byte
				rawRead(p.evfd, b[:])
				continue
			}
			pr := p.inflight[ev.Fd]
			if pr == nil || pr.seq != uint32(ev.Pad) {
				continue // ended meanwhile
			}
			pr.busy = true
			todo = append(todo, work{pr: pr, events: ev.Events})
		}
		p.mu.Unlock()
		// The half-open probes' answers: read on every wake-up (a read
		// that finds none costs one system call), before deadlines.
		if p.answers = p.readHalfOpen(p.answers[:0]); len(p.answers) > 0 {
			p.mu.Lock()
			for _, a := range p.answers {
				pr := p.syns[a.key]
				if pr == nil || pr.busy {
					continue // late, a duplicate, or ended by send
				}
				pr.busy = true
				pr.half.answered, pr.half.err = true, a.err
				todo = append(todo, work{pr: pr})
			}
			p.mu.Unlock()
		}
		p.mu.Lock()
		now := time.Now()
		for mono := int64(now.Sub(p.epoch)); len(p.heap) > 0 && p.heap[0].when <= mono; {
			h := p.heap.pop().h
			pr := h.pr
			if !h.current() || pr.busy {
				continue // ended, or has events: step sees the deadline
			}
			pr.busy = true
			todo = append(todo, work{pr: pr})
		}
		p.mu.Unlock()
		p.run(todo, now)
		// Then start the probes due, all of this instant's at once.
		p.mu.Lock()
		for mono := int64(now.Sub(p.epoch)); len(p.timers) > 0 && p.timers[0].when <= mono; {
			p.due = append(p.due, p.timers.pop())
		}
		p.mu.Unlock()
		for i, t := range p.due {
			t.f()
			p.due[i] = nil
		}
		p.due = p.due[:0]
		p.sendHalfOpen() // this wake-up's SYNs, in batches
		// The requests of probes started on kept connections.
		todo = todo[:0]
		p.mu.Lock()
		for i, h := range p.writes {
			if h.current() && !h.pr.busy {
				h.pr.busy = true
				todo = append(todo, work{pr: h.pr, events: unix.EPOLLOUT})
			}
			p.writes[i] = probeHandle{}
		}
		p.writes = p.writes[:0]
		p.mu.Unlock()
		p.run(todo, now)
	}
}

// run steps the probes of todo (each marked busy), ends those that
// finished and clears todo.
func (p *connectPoller) run(todo []work, now time.Time) {
	for i := range todo {
		w := &todo[i]
		w.finished, w.err = p.step(w.pr, w.events, !w.pr.deadline.After(now))
	}
	p.mu.Lock()
	for i := range todo {
		w := &todo[i]
		pr := w.pr
		pr.busy = false
		if !w.finished && pr.aborted != nil {
			w.finished, w.err = true, pr.ctxError(pr.aborted)
		}
		if w.finished {
			pr.live = false
			p.forget(pr)
		} else if pr.half != nil && pr.half.resent {
			pr.half.resent = false
			p.pushDeadline(pr) // its SYN went again
		}
	}
	p.mu.Unlock()
	p.deliver(todo)
	clear(todo)
}

// deliver ends the probes of ws that finished, taken out of flight: it
// delivers their results, then takes them back (see put).
func (p *connectPoller) deliver(ws []work) {
	ended := false
	for i := range ws {
		if w := &ws[i]; w.finished {
			w.pr.finish(w.err)
			ended = true
		}
	}
	if !ended {
		return
	}
	p.mu.Lock()
	for i := range ws {
		if ws[i].finished {
			p.put(ws[i].pr)
		}
	}
	p.mu.Unlock()
}

// step advances pr with its socket's events (none: its deadline passed);
// timedOut says the deadline has passed, so the probe must end now. It
// runs on the loop, outside mu.
func (p *connectPoller) step(pr *pollProbe, events uint32, timedOut bool) (finished bool, err error) {
	if pr.x != nil {
		return p.stepHTTP(pr, events, timedOut)
	}
	if pr.half != nil {
		return p.stepHalfOpen(pr)
	}
	fd := int(pr.fd)
	if events == 0 {
		ok, err := lateResult(fd)
		if ok {
			pr.connected = true
			return true, nil
		}
		return true, pr.t.opError(err)
	}
	if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		if errno, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr != nil {
			return true, pr.t.opError(os.NewSyscallError("getsockopt", gerr))
		} else if errno != 0 {
			return true, pr.t.opError(os.NewSyscallError("connect", unix.Errno(errno)))
		}
	}
	pr.connected = true
	return true, nil
}

// finish closes pr's socket (with a reset once connected: no TIME_WAIT)
// and delivers its result.
func (pr *pollProbe) finish(err error) {
	if pr.half != nil {
		if err != nil {
			pr.t.forgetSource() // a route may have changed
		}
		pr.done(err)
		return
	}
	switch {
	case pr.fd < 0: // a redial failed: no socket
	case err == nil && pr.x != nil && pr.x.keep && pr.x.c.putIdle(int(pr.fd), pr.seq, pr.x.uses):
		// Kept for the check's next probe, still in the epoll set.
	case err == nil && pr.x != nil && pr.x.c.reuses() && pr.x.c.putIdle(int(pr.fd), pr.seq, spent):
		// Not kept, but a reusing check's next probe reconnects this
		// socket (see reconnect).
	case pr.connected && pr.x != nil && pr.x.owes(err) && pr.x.c.putOwed(int(pr.fd), pr.seq, pr.x.uses, &pr.x.resp):
		// Timed out waiting for the answer: kept with the answer owed,
		// for the next probe to read and drop (see putOwed).
	case pr.connected:
		closeReset(int(pr.fd))
	default:
		rawClose(int(pr.fd))
	}
	pr.done(err)
}

// lateResult is the state of a socket whose connect the poller has not
// seen end: connected (ok), failed (err), or still connecting (errTimeout).
// keepalived's checker, which handles ready sockets before expired
// timers, judges a late connect the same way.
func lateResult(fd int) (ok bool, err error) {
	if errno, gerr := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr == nil && errno != 0 {
		return false, os.NewSyscallError("connect", unix.Errno(errno))
	}
	if _, gerr := unix.Getpeername(fd); gerr == nil {
		return true, nil
	}
	return false, errTimeout
}

// opError words err as net.Dialer would: "dial tcp ADDR: connect: …".
func (t *rawTarget) opError(err error) error {
	oe := &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(t.target), Err: err}
	if t.bind != nil {
		oe.Source = t.bind.srcA
	}
	return oe
}

// deadlineHeap is a binary min-heap of probe deadlines. An entry outlives
// the use of its probe that it was pushed for (a probe that ends is not
// taken out): the loop drops it when its handle is no longer current.
type deadlineHeap []deadlineEntry

// deadlineEntry is one entry of a deadlineHeap.
type deadlineEntry struct {
	when int64 // the deadline, since the poller's epoch
	h    probeHandle
}

// pushDeadline puts pr's deadline on the heap. Called with mu held.
func (p *connectPoller) pushDeadline(pr *pollProbe) {
	h := &p.heap
	*h = append(*h, deadlineEntry{when: int64(pr.deadline.Sub(p.epoch)), h: probeHandle{pr: pr, gen: pr.gen}})
	for j := len(*h) - 1; j > 0; {
		i := (j - 1) / 2
		if (*h)[i].when <= (*h)[j].when {
			break
		}
		(*h)[i], (*h)[j] = (*h)[j], (*h)[i]
		j = i
	}
}

// pop takes out the earliest entry.
func (h *deadlineHeap) pop() deadlineEntry {
	old := *h
	top, n := old[0], len(old)-1
	old[0] = old[n]
	old[n] = deadlineEntry{}
	old = old[:n]
	for i := 0; ; {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && old[r].when < old[j].when {
			j = r
		}
		if old[j].when >= old[i].when {
			break
		}
		old[i], old[j] = old[j], old[i]
		i = j
	}
	*h = old
	return top
}

// timerHeap is a binary min-heap of probe timers by when, each knowing
// its place (idx, -1 when not armed). It is written out rather than
// container/heap's: with 10 000 checks it is 14 levels deep, every probe
// pops and pushes it, and the interface calls of container/heap (Less,
// Swap, at each level) were most of that cost.
type timerHeap []*probeTimer

func (h *timerHeap) push(t *probeTimer) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

// pop takes out the earliest timer.
func (h *timerHeap) pop() *probeTimer {
	t := (*h)[0]
	h.remove(0)
	return t
}

// remove takes out the timer at i.
func (h *timerHeap) remove(i int) {
	old := *h
	n := len(old) - 1
	t := old[i]
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*h = old[:n]
	if i < n {
		h.fix(i)
	}
	t.idx = -1
}

// fix restores the order after the time of the timer at i changed.
func (h timerHeap) fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

func (h timerHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if h[i].when <= h[j].when {
			return
		}
		h.swap(i, j)
		j = i
	}
}

// down moves the timer at i0 down to its place; false if it stayed.
func (h timerHeap) down(i0 int) bool {
	i, n := i0, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			break
		}
		if r := j + 1; r < n && h[r].when < h[j].when {
			j = r
		}
		if h[j].when >= h[i].when {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
