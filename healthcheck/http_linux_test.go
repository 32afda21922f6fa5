//go:build linux

package healthcheck

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// rawServer answers every connection with resp, written in pieces (each
// after a short pause, so that the prober reads them apart), then closes.
func rawServer(t *testing.T, pieces ...string) Spec {
	t.Helper()
	ln := listen(t)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				for _, p := range pieces {
					c.Write([]byte(p))
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
	}()
	return Spec{Kind: KindHTTP, Target: addrOf(ln)}
}

// TestHTTPPolledResponses checks the poller's parsing of answers that
// net/http accepts or refuses.
func TestHTTPPolledResponses(t *testing.T) {
	body := "hello, healthy world\n"
	sha := sha256.Sum256([]byte(body))
	digest := Digest{"sha256", sha[:]}
	tests := []struct {
		name   string
		pieces []string
		spec   Spec
		want   string // substring of the error; "" = up
	}{
		{name: "split head", pieces: []string{"HTTP/1.1 200 OK\r\nContent-", "Length: 0\r\n", "\r\n"}},
		{name: "bare LF", pieces: []string{"HTTP/1.0 200 OK\nContent-Length: 0\n\n"}},
		{name: "continue first", pieces: []string{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n"}, want: "status 503 not in 200-299"},
		{name: "chunked digest", spec: Spec{Digest: digest}, pieces: []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello,", "\r\n", "f; ext=1\r\n healthy world\n\r\n0\r\n", "X-Trailer: 1\r\n\r\n"}},
		{name: "chunked regex", spec: Spec{Regex: "healthy"}, pieces: []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n15\r\n" + body + "\r\n0\r\n\r\n"}},
		{name: "chunked malformed", spec: Spec{Regex: "x"}, pieces: []string{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"}, want: "body: malformed chunked encoding"},
		{name: "length digest", spec: Spec{Digest: digest}, pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\nhello, ", "healthy world\n"}},
		{name: "to EOF digest", spec: Spec{Digest: digest}, pieces: []string{"HTTP/1.0 200 OK\r\n\r\nhello, ", "healthy world\n"}},
		{name: "short body", spec: Spec{Digest: digest}, pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nhello"}, want: "body: unexpected EOF"},
		{name: "no answer", pieces: nil, want: "EOF"},
		{name: "cut head", pieces: []string{"HTTP/1.1 200 OK\r\n"}, want: "unexpected EOF"},
		{name: "garbage", pieces: []string{"SSH-2.0-OpenSSH\r\n\r\n"}, want: "malformed HTTP"},
		{name: "bad length", pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"}, want: "bad Content-Length"},
		{name: "body ignored", pieces: []string{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rawServer(t, tt.pieces...)
			s.Digest, s.Regex = tt.spec.Digest, tt.spec.Regex
			c := mustChecker(t, s)
			if _, ok := c.(*httpRawChecker); !ok {
				t.Fatalf("checker %T, want the poller's", c)
			}
			err := probe(t, c, 5*time.Second)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestHTTPPolledRequest checks the request the poller sends.
func TestHTTPPolledRequest(t *testing.T) {
	ln := listen(t)
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		got <- string(buf[:n])
		c.Write([]byte("HTTP/1.1 204 No Content\r\n\r\n"))
	}()
	c := mustChecker(t, Spec{Kind: KindHTTP, Target: addrOf(ln), Path: "/a b?x=1", Host: "h.example"})
	if err := probe(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := "GET /a%20b?x=1 HTTP/1.1\r\nHost: h.example\r\nUser-Agent: tandem-healthcheck\r\nConnection: close\r\n\r\n"
	if r := <-got; r != want {
		t.Errorf("request %q, want %q", r, want)
	}
}

// noOffset implements noOffset (http_reuse_test.go) for the poller's
// checker.
func (c *httpRawChecker) noOffset() {
	c.idleMu.Lock()
	c.offset = 0
	c.idleMu.Unlock()
}

// TestHTTPReuseReconnect checks that a reusing check renews its
// connection on the same socket (connect again, see
// connectPoller.reconnect): the server sees a new connection, the check
// keeps its socket; and that a failed probe gives the socket up.
func TestHTTPReuseReconnect(t *testing.T) {
	srv := newKeepServer(t, false, 0, "")
	c := noOffset(mustChecker(t, Spec{Kind: KindHTTP, Target: srv.addr(), Reuse: true, KeepaliveRequests: 2})).(*httpRawChecker)
	idle := func() (fd, uses int, ino uint64) {
		c.idleMu.Lock()
		fd, uses = c.idle, c.idleUses
		c.idleMu.Unlock()
		if fd < 0 {
			return fd, uses, 0
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		return fd, uses, st.Ino
	}
	var socket uint64
	for i := range 6 {
		if err := probe(t, c, 5*time.Second); err != nil {
			t.Fatalf("probe %d: %v", i+1, err)
		}
		fd, uses, ino := idle()
		wantUses := map[bool]int{true: 1, false: spent}[i%2 == 0]
		if fd < 0 || uses != wantUses {
			t.Fatalf("after probe %d: idle socket %d with %d uses, want one with %d", i+1, fd, uses, wantUses)
		}
		if i == 0 {
			socket = ino
		} else if ino != socket {
			t.Errorf("after probe %d: socket inode %d, want the first's %d (reconnected, not replaced)", i+1, ino, socket)
		}
	}
	if opened, _, reqs, asked := srv.counts(); opened != 3 || reqs != 6 || fmt.Sprint(asked) != "[2 4 6]" {
		t.Errorf("6 probes: %d requests on %d connections, %v asked to close; want 6 on 3, [2 4 6]", reqs, opened, asked)
	}

	// The server gone: the reconnect is refused, and the socket closed.
	srv.Close()
	if err := probe(t, c, 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("probe of a closed server: %v, want connection refused", err)
	}
	if fd, _, _ := idle(); fd >= 0 {
		t.Errorf("after a failed probe the check keeps socket %d, want none", fd)
	}
}

// TestPollerFamilies checks the poller's connects (raw, from the target's
// own socket address, rawsys_linux.go) over IPv4 and IPv6: a tcp probe
// and an http probe are up against a listener, and a closed port is
// refused.
func TestPollerFamilies(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			host := map[string]string{"tcp4": "127.0.0.1", "tcp6": "[::1]"}[network]
			ln, err := net.Listen(network, host+":0")
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			target := addrOf(ln)
			for _, kind := range []Kind{KindTCP, KindHTTP} {
				c := mustChecker(t, Spec{Kind: kind, Target: target})
				if tc, ok := c.(*tcpChecker); ok && !tc.polled {
					t.Fatalf("%v: the tcp checker is not on the poller", target)
				} else if _, ok := c.(*httpRawChecker); !ok && kind == KindHTTP {
					t.Fatalf("%v: checker %T, want the poller's", target, c)
				}
				if err := probe(t, c, 5*time.Second); err != nil {
					t.Errorf("%v probe of %v: %v", kind, target, err)
				}
			}
			ln2, err := net.Listen(network, host+":0")
			if err != nil {
				t.Fatal(err)
			}
			closed := addrOf(ln2)
			ln2.Close()
			c := mustChecker(t, Spec{Kind: KindTCP, Target: closed})
			if err := probe(t, c, 5*time.Second); err == nil || !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("probe of closed %v: %v, want connection refused", closed, err)
			}
		})
	}
}
