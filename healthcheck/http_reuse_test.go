package healthcheck

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// keepServer is an HTTP/1.1 server that keeps connections alive and
// counts what the reuse of connections is about: connections opened and
// closed, requests, and requests that asked to close their connection.
type keepServer struct {
	*httptest.Server
	mu                   sync.Mutex
	opened, closed, reqs int
	asked                []int // the requests (1-based) that asked Connection: close
}

func newKeepServer(t *testing.T, tls bool, idle time.Duration, body string) *keepServer {
	t.Helper()
	s := &keepServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs++
		if r.Close {
			s.asked = append(s.asked, s.reqs)
		}
		s.mu.Unlock()
		fmt.Fprint(w, body)
	}))
	s.Config.IdleTimeout = idle
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch st {
		case http.StateNew:
			s.opened++
		case http.StateClosed, http.StateHijacked:
			s.closed++
		}
	}
	startTestServer(t, s.Server, tls)
	return s
}

func (s *keepServer) addr() netip.AddrPort {
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

func (s *keepServer) counts() (opened, closed, reqs int, asked []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opened, s.closed, s.reqs, append([]int(nil), s.asked...)
}

// noOffset makes c's first connection serve MaxReuse probes, as later
// ones do, instead of a random number of them.
func noOffset(c Checker) Checker {
	switch c := c.(type) {
	case *httpChecker:
		c.probes.Store(0)
	case interface{ noOffset() }:
		c.noOffset()
	}
	return c
}

// rawKeepServer answers every request read on a connection with pieces
// (each followed by a short pause, so that the prober reads them apart)
// and keeps the connection; conns returns the connections it accepted.
func rawKeepServer(t *testing.T, pieces ...string) (target netip.AddrPort, conns func() []*net.TCPConn) {
	t.Helper()
	ln := listen(t)
	var mu sync.Mutex
	var accepted []*net.TCPConn
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, nc.(*net.TCPConn))
			mu.Unlock()
			go func() {
				defer nc.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := nc.Read(buf); err != nil {
						return
					}
					for _, p := range pieces {
						nc.Write([]byte(p))
						time.Sleep(5 * time.Millisecond)
					}
				}
			}()
		}
	}()
	return addrOf(ln), func() []*net.TCPConn {
		mu.Lock()
		defer mu.Unlock()
		return append([]*net.TCPConn(nil), accepted...)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHTTPReuse checks that with Reuse a connection serves MaxReuse
// probes (the first one fewer), the last asking to close it, then a fresh
// one is opened; over http (the poller on Linux) and https (net/http).
func TestHTTPReuse(t *testing.T) {
	for _, tt := range []struct {
		tls   bool
		limit int // Spec.KeepaliveRequests; 0: MaxReuse
	}{{false, 0}, {true, 0}, {false, 3}, {true, 3}} {
		name := map[bool]string{false: "http", true: "https"}[tt.tls] + fmt.Sprintf("-%d", tt.limit)
		t.Run(name, func(t *testing.T) {
			tls, per := tt.tls, tt.limit
			if per == 0 {
				per = MaxReuse
			}
			srv := newKeepServer(t, tls, 0, "status: ok\n")
			s := Spec{Kind: KindHTTP, Target: srv.addr(), Reuse: true, KeepaliveRequests: tt.limit, Regex: "ok"}
			if tls {
				s.Kind, s.TLS.InsecureSkipVerify = KindHTTPS, true
			}
			c := mustChecker(t, s)
			n := 2*per + 5
			for i := range n {
				if err := probe(t, c, 5*time.Second); err != nil {
					t.Fatalf("probe %d: %v", i+1, err)
				}
			}
			// The first connection serves 1 to MaxReuse probes (a
			// random offset), every later one MaxReuse.
			opened, _, reqs, asked := srv.counts()
			if len(asked) == 0 || asked[0] < 1 || asked[0] > per {
				t.Fatalf("requests %v asked Connection: close, want the first within 1..%d", asked, per)
			}
			var want []int
			for r := asked[0]; r <= n; r += per {
				want = append(want, r)
			}
			if fmt.Sprint(asked) != fmt.Sprint(want) {
				t.Errorf("requests %v asked Connection: close, want %v", asked, want)
			}
			wantConns := len(want)
			if want[len(want)-1] < n {
				wantConns++
			}
			if reqs != n || opened != wantConns {
				t.Errorf("%d probes: %d requests on %d connections, want %d on %d", n, reqs, opened, n, wantConns)
			}
			c.(idleCloser).closeIdle()
			waitFor(t, "the kept connection to close", func() bool { _, closed, _, _ := srv.counts(); return closed == wantConns })
		})
	}
}

// TestHTTPReuseDefaultOff checks that without Reuse every probe opens a
// connection and asks to close it.
func TestHTTPReuseDefaultOff(t *testing.T) {
	srv := newKeepServer(t, false, 0, "")
	c := mustChecker(t, Spec{Kind: KindHTTP, Target: srv.addr()})
	for range 3 {
		if err := probe(t, c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if opened, _, _, asked := srv.counts(); opened != 3 || len(asked) != 3 {
		t.Errorf("3 probes: %d connections, %d asked to close; want 3 and 3", opened, len(asked))
	}
}

// TestHTTPReuseServerClosed checks that a kept connection the server
// closed while it was idle (its idle timeout, a restart) costs no failed
// probe: the probe redials at once. And that a server that is gone fails
// the probe as without reuse (refused).
func TestHTTPReuseServerClosed(t *testing.T) {
	srv := newKeepServer(t, false, 50*time.Millisecond, "")
	c := noOffset(mustChecker(t, Spec{Kind: KindHTTP, Target: srv.addr(), Reuse: true}))
	for i := range 3 {
		if err := probe(t, c, 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i+1, err)
		}
		// The server closes the connection after 50 ms idle.
		waitFor(t, "the server's idle close", func() bool { _, closed, _, _ := srv.counts(); return closed == i+1 })
	}
	if opened, _, reqs, _ := srv.counts(); opened != 3 || reqs != 3 {
		t.Errorf("%d requests on %d connections, want 3 on 3", reqs, opened)
	}

	// Reset rather than closed: a restarted server's kernel answers the
	// request with a reset.
	target, conns := rawKeepServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	rc := noOffset(mustChecker(t, Spec{Kind: KindHTTP, Target: target, Reuse: true}))
	if err := probe(t, rc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	first := conns()[0]
	first.SetLinger(0)
	first.Close()
	time.Sleep(20 * time.Millisecond)
	if err := probe(t, rc, 5*time.Second); err != nil {
		t.Errorf("probe after the kept connection was reset: %v", err)
	}
	if n := len(conns()); n != 2 {
		t.Errorf("%d connections, want 2 (the reset one replaced)", n)
	}

	// Gone: the listener and its connections closed.
	gone := newKeepServer(t, false, 0, "")
	gc := mustChecker(t, Spec{Kind: KindHTTP, Target: gone.addr(), Reuse: true})
	if err := probe(t, gc, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	gone.Close()
	if err := probe(t, gc, 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("probe of a closed server: %v, want connection refused", err)
	}
}

// TestHTTPReuseNotKept checks the answers after which a connection is not
// kept: the server closing it (Connection: close, HTTP/1.0, a body up to
// the end of the connection), a body still coming when the status
// decided, a failed verdict, bytes past the answer.
func TestHTTPReuseNotKept(t *testing.T) {
	tests := []struct {
		name   string
		pieces []string
		spec   Spec
		kept   bool
	}{
		{name: "kept", pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"}, kept: true},
		{name: "kept chunked digest", spec: Spec{Regex: "ok"}, pieces: []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n", "0\r\n\r\n"}, kept: true},
		{name: "kept no body", pieces: []string{"HTTP/1.1 204 No Content\r\n\r\n"}, kept: true},
		{name: "connection close", pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive, close\r\n\r\n"}},
		{name: "HTTP/1.0", pieces: []string{"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"}},
		{name: "to EOF", pieces: []string{"HTTP/1.1 200 OK\r\n\r\nok"}},
		{name: "body still coming", pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok", "ok"}},
		{name: "status failed", pieces: []string{"HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n"}},
		{name: "bytes past the answer", pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, conns := rawKeepServer(t, tt.pieces...)
			s := tt.spec
			s.Kind, s.Target, s.Reuse = KindHTTP, target, true
			c := noOffset(mustChecker(t, s))
			probe(t, c, 5*time.Second)
			time.Sleep(20 * time.Millisecond) // the rest of the pieces
			probe(t, c, 5*time.Second)
			if want, opened := map[bool]int{true: 1, false: 2}[tt.kept], len(conns()); opened != want {
				t.Errorf("2 probes opened %d connections, want %d", opened, want)
			}
		})
	}
}

// TestHTTPReuseManagerStop checks that the Manager closes a check's kept
// connection when it stops the check.
func TestHTTPReuseManagerStop(t *testing.T) {
	srv := newKeepServer(t, false, 0, "")
	m := NewManager(Options{})
	defer m.Close()
	s := Spec{Kind: KindHTTP, Target: srv.addr(), Reuse: true, Interval: 20 * time.Millisecond, Timeout: time.Second}
	m.Set([]Spec{s})
	waitFor(t, "three probes", func() bool { _, _, reqs, _ := srv.counts(); return reqs >= 3 })
	m.Set(nil)
	waitFor(t, "the kept connection to close", func() bool { opened, closed, _, _ := srv.counts(); return closed == opened })
	if opened, _, reqs, _ := srv.counts(); opened >= reqs {
		t.Errorf("%d requests on %d connections: not reused", reqs, opened)
	}
	// Nothing kept after the stop, even from a probe that ended late.
	time.Sleep(50 * time.Millisecond)
	if opened, closed, _, _ := srv.counts(); closed != opened {
		t.Errorf("%d connections open after the check stopped", opened-closed)
	}
}

// TestHTTPReuseLateAnswer: a probe on a kept connection that times out
// after sending its request leaves the connection kept, owing the answer
// (putOwed). When the late answer has come by the next probe, that probe
// reads and drops it and runs on the same connection; when it has not,
// the next probe reconnects. (The poller's http; https runs on net/http.)
func TestHTTPReuseLateAnswer(t *testing.T) {
	for _, tt := range []struct {
		name  string
		pause time.Duration // before the next probe
		conns int           // connections the three probes use
	}{
		{"answer came", 600 * time.Millisecond, 1},
		{"answer still owed", 0, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			reqs, opened := 0, 0
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				reqs++
				n := reqs
				mu.Unlock()
				if n == 1 {
					time.Sleep(400 * time.Millisecond) // past the 100 ms timeout
				}
				fmt.Fprint(w, "ok\n")
			}))
			srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
				if st == http.StateNew {
					mu.Lock()
					opened++
					mu.Unlock()
				}
			}
			startTestServer(t, srv, false)
			c := noOffset(mustChecker(t, Spec{Kind: KindHTTP, Target: netip.MustParseAddrPort(srv.Listener.Addr().String()),
				Reuse: true, Timeout: 100 * time.Millisecond}))
			defer c.(idleCloser).closeIdle()
			if err := probe(t, c, 5*time.Second); !isTimeout(err) {
				t.Fatalf("probe 1: %v, want a timeout", err)
			}
			time.Sleep(tt.pause)
			for i := 2; i <= 3; i++ {
				if err := probe(t, c, 5*time.Second); err != nil {
					t.Fatalf("probe %d: %v", i, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if opened != tt.conns {
				t.Errorf("3 probes on %d connections, want %d", opened, tt.conns)
			}
		})
	}
}
