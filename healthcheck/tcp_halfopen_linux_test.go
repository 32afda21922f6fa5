//go:build linux

package healthcheck

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func needRaw(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("half-open probes need CAP_NET_RAW: run as root")
	}
}

func halfOpenSpec(target netip.AddrPort, timeout time.Duration) Spec {
	return Spec{Kind: KindTCP, HalfOpen: true, Target: target, Timeout: timeout, Interval: timeout}
}

// TestHalfOpen: up on a listening port without the server accepting a
// connection, refused on a closed one, over IPv4 and IPv6, with and
// without a source address.
func TestHalfOpen(t *testing.T) {
	needRaw(t)
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			host := "127.0.0.1"
			if network == "tcp6" {
				host = "[::1]"
			}
			ln, err := net.Listen(network, host+":0")
			if err != nil {
				t.Skipf("no %s loopback: %v", network, err)
			}
			defer ln.Close()
			target := addrOf(ln)

			c := mustChecker(t, halfOpenSpec(target, time.Second))
			if err := probe(t, c, 2*time.Second); err != nil {
				t.Fatalf("listening port: %v", err)
			}
			src := mustChecker(t, Spec{Kind: KindTCP, HalfOpen: true, Target: target, Source: target.Addr(), Timeout: time.Second})
			if err := probe(t, src, 2*time.Second); err != nil {
				t.Errorf("listening port, source %v: %v", target.Addr(), err)
			}
			// The real server's application saw nothing: the handshake
			// never completed.
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
			if conn, err := ln.Accept(); err == nil {
				conn.Close()
				t.Errorf("the listener accepted a connection from %v: a half-open probe must not make one", conn.RemoteAddr())
			} else if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("accept: %v", err)
			}

			ln2, err := net.Listen(network, host+":0")
			if err != nil {
				t.Fatal(err)
			}
			closed := addrOf(ln2)
			ln2.Close()
			start := time.Now()
			err = probe(t, mustChecker(t, halfOpenSpec(closed, time.Second)), 2*time.Second)
			if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), closed.String()) {
				t.Errorf("closed port: %v, want dial tcp %v: connect: connection refused", err, closed)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("closed port answered after %v: the reset should end the probe, not its 1s timeout", d)
			}
		})
	}
}

// fullListener returns a listening socket on 127.0.0.1 whose accept queue
// is full (backlog 0, one connection waiting), so that it drops SYNs, and
// a function that accepts the waiting connection, making room again.
func fullListener(t *testing.T) (netip.AddrPort, func()) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	target := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
	filler, err := net.DialTimeout("tcp", target.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { filler.Close() })
	var once sync.Once
	return target, func() {
		once.Do(func() {
			if nfd, _, err := unix.Accept(fd); err == nil {
				unix.Close(nfd)
			}
		})
	}
}

// TestHalfOpenTimeoutAndRetransmit: a SYN that nobody answers fails the
// probe at its deadline; within a longer timeout the SYN goes again after
// 1 s, as a connect's does, and the second one's answer counts.
func TestHalfOpenTimeoutAndRetransmit(t *testing.T) {
	needRaw(t)
	target, makeRoom := fullListener(t)

	start := time.Now()
	err := probe(t, mustChecker(t, halfOpenSpec(target, 300*time.Millisecond)), 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("full accept queue: %v, want an i/o timeout", err)
	}
	if d := time.Since(start); d < 290*time.Millisecond || d > time.Second {
		t.Errorf("timed out after %v, want its 300ms timeout", d)
	}

	start = time.Now()
	time.AfterFunc(300*time.Millisecond, makeRoom)
	if err := probe(t, mustChecker(t, halfOpenSpec(target, 3*time.Second)), 4*time.Second); err != nil {
		t.Fatalf("room made after 300ms, 3s timeout: %v, want up on the retransmitted SYN", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 2*time.Second {
		t.Errorf("up after %v, want about 1s (the retransmission)", d)
	}
}

// TestHalfOpenMany: the probes of many checks in flight at once are told
// apart by their answers' sequence numbers and peers.
func TestHalfOpenMany(t *testing.T) {
	needRaw(t)
	const nup, nclosed = 400, 100
	ln := listen(t)
	up := addrOf(ln)
	closed := closedPort(t)
	results := make(chan error, nup+nclosed)
	var specs []*tcpChecker
	for i := range nup + nclosed {
		target := up
		if i >= nup {
			target = closed
		}
		specs = append(specs, mustChecker(t, halfOpenSpec(target, 2*time.Second)).(*tcpChecker))
	}
	p, err := startPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	deadline := time.Now().Add(2 * time.Second)
	for _, c := range specs {
		c.start(p, deadline, func(err error) { results <- err })
	}
	var nok, nrefused int
	for range nup + nclosed {
		select {
		case err := <-results:
			switch {
			case err == nil:
				nok++
			case strings.Contains(err.Error(), "connection refused"):
				nrefused++
			default:
				t.Errorf("probe: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("results after 5s: %d up, %d refused", nok, nrefused)
		}
	}
	if nok != nup || nrefused != nclosed {
		t.Errorf("%d up, %d refused; want %d and %d", nok, nrefused, nup, nclosed)
	}
	p.mu.Lock()
	left := len(p.syns)
	p.mu.Unlock()
	if left != 0 {
		t.Errorf("%d half-open probes still in flight after all ended", left)
	}
}

// TestHalfOpenManager runs half-open checks through the Manager: verdicts
// up for a listener, down for a closed port.
func TestHalfOpenManager(t *testing.T) {
	needRaw(t)
	ln := listen(t)
	m := NewManager(Options{})
	defer m.Close()
	good := Spec{Kind: KindTCP, HalfOpen: true, Target: addrOf(ln), Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}
	bad := Spec{Kind: KindTCP, HalfOpen: true, Target: closedPort(t), Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}
	if good.ID() == (Spec{Kind: KindTCP, Target: addrOf(ln), Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}).ID() {
		t.Errorf("a half-open check shares its ID with the connect check of the same target")
	}
	m.Set([]Spec{good, bad})
	got := map[ID]bool{}
	timeout := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case v := <-m.Verdicts():
			got[v.ID] = v.Up
		case <-timeout:
			t.Fatalf("verdicts after 5s: %v", got)
		}
	}
	if !got[good.ID()] || got[bad.ID()] {
		t.Errorf("verdicts %v: want %s up, %s down", got, good.ID(), bad.ID())
	}
}

// TestTCPChecksum4 checks the checksum against a SYN of Linux's own
// connect, captured with tcpdump from a veth whose checksum offload was off
// (so the kernel filled in the whole sum: 0x12fa), and that a SYN of ours
// verifies (RFC 1071: the sum with the checksum in place is zero).
func TestTCPChecksum4(t *testing.T) {
	// 10.77.0.1.43814 > 10.77.0.2.9000: Flags [S], seq 1663501375, win
	// 64240, options [mss 1460,sackOK,TS val 152430251 ecr 0,nop,wscale 10]
	linux := []byte{
		0xab, 0x26, 0x23, 0x28, 0x63, 0x27, 0x04, 0x3f, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
		0xfa, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
		0x09, 0x15, 0xe6, 0xab, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0a,
	}
	if got := tcpChecksum4([4]byte{10, 77, 0, 1}, [4]byte{10, 77, 0, 2}, linux); got != 0x12fa {
		t.Errorf("checksum of Linux's SYN = %#04x, Linux put 0x12fa", got)
	}

	seg := make([]byte, synHeaderLen)
	synPacket(seg, 40000, 80, 0x01020304)
	src, dst := [4]byte{192, 0, 2, 1}, [4]byte{198, 51, 100, 7}
	sum := tcpChecksum4(src, dst, seg)
	seg[16], seg[17] = byte(sum>>8), byte(sum)
	if v := tcpChecksum4(src, dst, seg); v != 0 {
		t.Errorf("checksum %#04x does not verify: the sum with it is %#04x, want 0", sum, v)
	}
}

// TestForgetSourceWatched: a failed probe makes the next one look its
// source up again only when no route watch keeps the source current.
func TestForgetSourceWatched(t *testing.T) {
	at := time.Now()
	for _, watched := range []bool{true, false} {
		r := &rawTarget{half: &halfOpenState{at: at, watched: watched}}
		r.forgetSource()
		if kept := !r.half.at.IsZero(); kept != watched {
			t.Errorf("learned under a route watch: %v; source kept after a failure: %v", watched, kept)
		}
	}
}
