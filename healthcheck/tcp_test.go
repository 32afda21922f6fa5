package healthcheck

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// listen returns a TCP listener on 127.0.0.1, closed at the end of the test.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// acceptAndClose serves ln by closing every connection it accepts.
func acceptAndClose(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

// hang serves ln by accepting connections and never answering them, until
// the end of the test.
func hang(t *testing.T, ln net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

func addrOf(ln net.Listener) netip.AddrPort {
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// closedPort returns a 127.0.0.1 port nobody listens on.
func closedPort(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := addrOf(ln)
	ln.Close()
	return ap
}

func mustChecker(t *testing.T, s Spec) Checker {
	t.Helper()
	c, err := NewChecker(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func probe(t *testing.T, c Checker, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c.Check(ctx)
}

func TestTCP(t *testing.T) {
	ln := listen(t)
	acceptAndClose(ln)
	t.Run("up", func(t *testing.T) {
		c := mustChecker(t, Spec{Kind: KindTCP, Target: addrOf(ln)})
		if err := probe(t, c, 2*time.Second); err != nil {
			t.Errorf("listening port: %v", err)
		}
		if got, want := c.String(), "tcp "+addrOf(ln).String(); got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	})
	t.Run("source", func(t *testing.T) {
		c := mustChecker(t, Spec{Kind: KindTCP, Target: addrOf(ln), Source: netip.MustParseAddr("127.0.0.1")})
		if err := probe(t, c, 2*time.Second); err != nil {
			t.Errorf("with source 127.0.0.1: %v", err)
		}
	})
	t.Run("bad source", func(t *testing.T) {
		// 192.0.2.1 is not on this host: binding it fails.
		c := mustChecker(t, Spec{Kind: KindTCP, Target: addrOf(ln), Source: netip.MustParseAddr("192.0.2.1")})
		if err := probe(t, c, 2*time.Second); err == nil {
			t.Errorf("source 192.0.2.1 (not local): no error")
		}
	})
	t.Run("closed port", func(t *testing.T) {
		c := mustChecker(t, Spec{Kind: KindTCP, Target: closedPort(t)})
		err := probe(t, c, 2*time.Second)
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("closed port: %v, want connection refused", err)
		}
	})
}
