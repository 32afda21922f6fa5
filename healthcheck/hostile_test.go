package healthcheck

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hostile real servers (issue 16, item 6): a server that answers with an
// endless header, a body that never ends, a slowloris trickle or a 10 MB
// status line. Each check fails within its timeout (plus a margin), and
// what a probe allocates is bounded (the parser's limits: 64 KB of head,
// MaxRegexBody kept for a regex, a digest over at most MaxDigestBody
// bytes streamed, never kept), whatever the server sends. Over the
// poller (http on Linux) and over net/http (https).

// hostile is a server's behaviour: it writes to w until w fails or stop
// closes.
type hostile func(w func([]byte) bool)

// repeat writes head once, then chunk forever.
func repeat(head, chunk string) hostile {
	h, c := []byte(head), []byte(chunk)
	return func(w func([]byte) bool) {
		if !w(h) {
			return
		}
		for w(c) {
		}
	}
}

// trickle writes s one byte every gap, forever (s repeats).
func trickle(s string, gap time.Duration) hostile {
	return func(w func([]byte) bool) {
		for i := 0; ; i++ {
			if !w([]byte{s[i%len(s)]}) {
				return
			}
			time.Sleep(gap)
		}
	}
}

// hostileServer serves behave on a loopback listener (over TLS when cert
// is set) until the test ends; it returns the listener's address.
func hostileServer(t *testing.T, behave hostile, cert *tls.Certificate) net.Listener {
	t.Helper()
	ln := listen(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if cert != nil {
				c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
			}
			wg.Go(func() {
				defer c.Close()
				go func() { <-stop; c.Close() }()
				deadline := time.Now().Add(10 * time.Second) // bounded whatever happens
				c.SetDeadline(deadline)
				buf := make([]byte, 4096)
				c.Read(buf) // the request
				behave(func(b []byte) bool {
					select {
					case <-stop:
						return false
					default:
					}
					_, err := c.Write(b)
					return err == nil && time.Now().Before(deadline)
				})
			})
		}
	})
	return ln
}

func TestHostileServers(t *testing.T) {
	const timeout = 500 * time.Millisecond
	const margin = 400 * time.Millisecond
	// The most a probe may allocate: the head limit and the poller's
	// read buffer (copies as the head grows), the regex's share, slack.
	const maxAlloc = 2 << 20
	sha := sha256.Sum256([]byte("x"))
	digest := Digest{Algorithm: "sha256", Sum: sha[:]}
	kb := strings.Repeat("a", 1024)
	tests := []struct {
		name   string
		behave hostile
		spec   Spec
		want   string // a substring of the error
	}{
		{name: "endless header", behave: repeat("HTTP/1.1 200 OK\r\nX-Long: ", kb), want: "headers exceeded"},
		{name: "endless header lines", behave: repeat("HTTP/1.1 200 OK\r\n", "X-Pad: "+kb+"\r\n"), want: "headers exceeded"},
		{name: "10 MB status line", behave: repeat("HTTP/1.1 200 ", strings.Repeat(kb, 10*1024)), want: "headers exceeded"},
		{name: "endless body, digest", spec: Spec{Digest: digest},
			behave: repeat("HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\n", kb), want: "body longer than 1048576 bytes"},
		{name: "endless chunked body, digest", spec: Spec{Digest: digest},
			behave: repeat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "400\r\n"+kb+"\r\n"), want: "body longer than 1048576 bytes"},
		{name: "endless body to EOF, regex", spec: Spec{Regex: "healthy"},
			behave: repeat("HTTP/1.0 200 OK\r\n\r\n", kb), want: `regex "healthy" not found`},
		{name: "endless chunked trailer, regex", spec: Spec{Regex: "healthy"},
			behave: repeat("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nhealthy\r\n0\r\n", "X-T: "+kb+"\r\n"), want: "suspiciously long trailer"},
		{name: "slowloris head", behave: trickle("HTTP/1.1 200 OK\r\nX: y\r\n", 100*time.Millisecond), want: "deadline exceeded"},
		{name: "slowloris body, digest", spec: Spec{Digest: digest},
			behave: func(w func([]byte) bool) {
				if w([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")) {
					trickle("x", 100*time.Millisecond)(w)
				}
			}, want: "deadline exceeded"},
	}
	pki := newPKI(t)
	for _, kind := range []Kind{KindHTTP, KindHTTPS} {
		for _, tc := range tests {
			t.Run(string(kind)+"/"+tc.name, func(t *testing.T) {
				var cert *tls.Certificate
				if kind == KindHTTPS {
					cert = &pki.leaf
				}
				ln := hostileServer(t, tc.behave, cert)
				s := tc.spec
				s.Kind, s.Target, s.Path, s.Timeout, s.Interval = kind, addrOf(ln), "/", timeout, time.Second
				if kind == KindHTTPS {
					s.TLS = TLSConfig{CAFile: pki.caFile, ServerName: "backend.example"}
				}
				c, err := NewChecker(s)
				if err != nil {
					t.Fatal(err)
				}
				if ic, ok := c.(idleCloser); ok {
					defer ic.closeIdle()
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				start := time.Now()
				err = c.Check(ctx)
				took := time.Since(start)
				runtime.ReadMemStats(&after)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err %v, want one with %q", err, tc.want)
				}
				if took > timeout+margin {
					t.Errorf("took %v, want within the timeout %v (+%v)", took, timeout, margin)
				}
				alloc := after.TotalAlloc - before.TotalAlloc
				if alloc > maxAlloc {
					t.Errorf("the probe allocated %d bytes, want at most %d", alloc, maxAlloc)
				}
				t.Logf("%v after %v, %d bytes allocated", err, took.Round(time.Millisecond), alloc)
			})
		}
	}
}
