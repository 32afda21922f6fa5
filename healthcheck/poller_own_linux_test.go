//go:build linux

package healthcheck

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The tests of a Manager owning its probe poller (poller_linux.go): the
// poller starts with the Manager's first tcp or http check and stops with
// Close, leaving no goroutine and no file descriptor behind; Managers that
// run at once have a poller each.

// procState is what a stopped poller must give back: goroutines, open
// file descriptors (with the epoll instances and eventfds among them, by
// kind), and the poller loops in the stacks.
type procState struct {
	goroutines, fds, epolls, eventfds, loops int
}

func (s procState) String() string {
	return fmt.Sprintf("%d goroutines (%d poller loops), %d fds (%d epoll, %d eventfd)", s.goroutines, s.loops, s.fds, s.epolls, s.eventfds)
}

func readProcState(t *testing.T) procState {
	t.Helper()
	var s procState
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(ents)
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory's own fd, closed by now
		}
		switch link {
		case "anon_inode:[eventpoll]":
			s.epolls++
		case "anon_inode:[eventfd]":
			s.eventfds++
		}
	}
	s.goroutines = runtime.NumGoroutine()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	s.loops = strings.Count(string(buf), "healthcheck.(*connectPoller).loop(")
	return s
}

// baseState returns the state to come back to, once the poller loops of
// earlier tests have returned (a loop's goroutine outlives its close by a
// moment): the shared poller's alone, which it starts if need be, so that
// it does not start in the middle of a test.
func baseState(t *testing.T) procState {
	t.Helper()
	sharedPoller()
	var s procState
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if s = readProcState(t); s.loops == 1 {
			return s
		}
	}
	t.Fatalf("before the test: %v, want the shared poller's loop alone", s)
	return s
}

// settle waits (a bounded while) until the process is back to base: the
// same poller loops, epoll instances and eventfds exactly, and no more
// goroutines or file descriptors (the servers' side of the probes'
// connections closes on its own time).
func settle(t *testing.T, base procState, what string) {
	t.Helper()
	var s procState
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		s = readProcState(t)
		if s.loops == base.loops && s.epolls == base.epolls && s.eventfds == base.eventfds && s.goroutines <= base.goroutines && s.fds <= base.fds {
			return
		}
	}
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	t.Fatalf("%s: %v, want back to %v\n%s", what, s, base, buf)
}

// silent serves ln by reading what each connection sends and never
// answering, until the client closes it; then it closes its side.
func silent(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
}

// ownSpecs returns checks of every kind that runs on the poller against
// loopback servers that answer: tcp, http, http keeping its connection,
// and, as root, half-open tcp.
func ownSpecs(t *testing.T) []Spec {
	t.Helper()
	ln := listen(t)
	acceptAndClose(ln)
	srv := newServer(t, false)
	keep := newKeepServer(t, false, 0, "ok")
	iv, to := 50*time.Millisecond, time.Second
	specs := []Spec{
		{Kind: KindTCP, Target: addrOf(ln), Interval: iv, Timeout: to},
		{Kind: KindHTTP, Target: srv.addr(), Interval: iv, Timeout: to},
		{Kind: KindHTTP, Target: keep.addr(), Reuse: true, Interval: iv, Timeout: to},
	}
	if os.Geteuid() == 0 {
		specs = append(specs, Spec{Kind: KindTCP, HalfOpen: true, Target: addrOf(ln), Interval: iv, Timeout: to})
	}
	return specs
}

// waitUp waits (a bounded while) for every check of specs to be up.
func waitUp(t *testing.T, m *Manager, specs []Spec) {
	t.Helper()
	up := map[ID]bool{}
	timeout := time.After(10 * time.Second)
	for len(up) < len(specs) {
		select {
		case v := <-m.Verdicts():
			if !v.Up {
				t.Fatalf("check %s down: %v", v.ID, v.Err)
			}
			up[v.ID] = true
		case <-timeout:
			t.Fatalf("%d of %d checks up after 10s: %v", len(up), len(specs), m.Status())
		}
	}
}

// TestManagerOwnsPoller: a Manager's checks run on a poller of its own,
// which Close stops: its loop goroutine ends and its epoll instance,
// eventfd and sockets close.
func TestManagerOwnsPoller(t *testing.T) {
	specs := ownSpecs(t)
	base := baseState(t)
	m := NewManager(Options{})
	if m.poller != nil {
		t.Fatal("a Manager without checks started a poller")
	}
	m.Set(specs)
	waitUp(t, m, specs)
	p := m.poller
	if p == nil {
		t.Fatal("no poller after Set")
	}
	if p == sharedPoller() {
		t.Fatal("the Manager runs its checks on the shared poller")
	}
	during := readProcState(t)
	if during.loops != base.loops+1 || during.epolls != base.epolls+1 || during.eventfds != base.eventfds+1 {
		t.Errorf("running: %v, want one more poller loop, epoll and eventfd than %v", during, base)
	}
	m.Close()
	if _, ok := <-m.Verdicts(); ok {
		t.Error("Verdicts still open after Close")
	}
	// Closed at once, not on the servers' time.
	for _, fd := range []int{p.epfd, p.evfd} {
		if link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && strings.HasPrefix(link, "anon_inode:") {
			t.Errorf("fd %d still open after Close: %s", fd, link)
		}
	}
	settle(t, base, "after Close")
	m.Close() // again: a no-op
}

// TestManagerCloseEndsProbesInFlight: Close does not wait out the probes
// in flight (a server that never answers, a long timeout): they end, and
// their sockets close with the poller.
func TestManagerCloseEndsProbesInFlight(t *testing.T) {
	ln := listen(t)
	silent(ln)
	base := baseState(t)
	m := NewManager(Options{})
	var specs []Spec
	for i := range 5 {
		specs = append(specs, Spec{Kind: KindHTTP, Target: addrOf(ln), Interval: 20 * time.Millisecond, Timeout: time.Minute, Rise: i + 1})
	}
	m.Set(specs)
	// Wait until every check has a probe in flight (connected, no answer).
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m.poller.mu.Lock()
		n := len(m.poller.inflight)
		m.poller.mu.Unlock()
		if n == len(specs) {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d probes in flight after 10s, want %d", n, len(specs))
		}
	}
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // far below the probes' minute
		t.Fatal("Close waits for the probes in flight")
	}
	settle(t, base, "after Close")
}

// TestPollerClose: probes in flight when a poller closes end with
// errPollerClosed, and what is started on it after fails at once.
func TestPollerClose(t *testing.T) {
	ln := listen(t)
	silent(ln)
	base := baseState(t)
	p, err := startPoller()
	if err != nil {
		t.Fatal(err)
	}
	hc, err := newHTTPChecker(Spec{Kind: KindHTTP, Target: addrOf(ln), Timeout: time.Minute}.Normalize(), func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	h := hc.(*httpRawChecker)
	results := make(chan error, 10)
	deadline := time.Now().Add(time.Minute)
	for range 3 {
		if pr := h.start(p, deadline, func(err error) { results <- err }); pr.pr == nil {
			t.Fatal("an http probe to a server that never answers ended at once")
		}
	}
	tm := probeTimer{idx: -1, f: func() { t.Error("a timer of a closed poller ran") }}
	p.arm(&tm, time.Now().Add(time.Hour))
	p.close()
	for range 3 {
		select {
		case err := <-results:
			if !errors.Is(err, errPollerClosed) {
				t.Errorf("probe in flight at close: %v, want %v", err, errPollerClosed)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a probe in flight did not end with the poller")
		}
	}
	p.disarm(&tm)
	p.arm(&tm, time.Now())
	if pr := h.start(p, deadline, func(err error) { results <- err }); pr.pr != nil {
		t.Error("a probe started on a closed poller is in flight")
	}
	select {
	case err := <-results:
		if !errors.Is(err, errPollerClosed) {
			t.Errorf("probe started after close: %v, want %v", err, errPollerClosed)
		}
	default:
		t.Error("a probe started on a closed poller did not end at once")
	}
	p.kick()
	p.close()
	settle(t, base, "after close")
}

// TestManagersIndependentPollers: two Managers at once run on pollers of
// their own; closing one leaves the other's checks probing and up.
func TestManagersIndependentPollers(t *testing.T) {
	specs := ownSpecs(t)
	m1 := NewManager(Options{})
	defer m1.Close()
	m2 := NewManager(Options{})
	defer m2.Close()
	m1.Set(specs)
	m2.Set(specs)
	waitUp(t, m1, specs)
	waitUp(t, m2, specs)
	if m1.poller == nil || m1.poller == m2.poller {
		t.Fatalf("pollers %p and %p: want one each", m1.poller, m2.poller)
	}
	m1.Close()
	p0, _ := probes(m2)
	want := p0 + 5*len(specs)
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n, failing := probes(m2)
		if failing > 0 {
			t.Fatalf("after the other Manager closed: %d checks failing: %v", failing, m2.Status())
		}
		if n >= want {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("after the other Manager closed: %d probes in 10s, want %d", n-p0, want-p0)
		}
	}
	select {
	case v := <-m2.Verdicts():
		t.Errorf("verdict after the other Manager closed: %+v", v)
	default:
	}
	for _, st := range m2.Status() {
		if st.State != Up {
			t.Errorf("%s: %v", st.ID, st.State)
		}
	}
}

// TestManagerReloadCycles: a reload's cycle of a new Manager, its checks
// up, and Close, 20 times, leaks no goroutine, poller or file descriptor.
func TestManagerReloadCycles(t *testing.T) {
	specs := ownSpecs(t)
	base := baseState(t)
	for i := range 20 {
		m := NewManager(Options{})
		m.Set(specs)
		waitUp(t, m, specs)
		m.Close()
		if i == 0 {
			settle(t, base, "after the first cycle")
		}
	}
	settle(t, base, "after 20 cycles")
}
