package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// lan is a set of L2 segments for the DR, TUN and sync scenarios: each
// bridge lives in a switch namespace of its own, and hosts (namespaces)
// are plugged into a bridge with a veth whose switch end is named after
// the host.
type lan struct {
	t      *testing.T
	prefix string
	sw     *netlab.NS
	ports  int
}

func newLAN(t *testing.T, prefix string, bridges ...string) *lan {
	t.Helper()
	l := &lan{t: t, prefix: prefix, sw: newNS(t, prefix+"-sw")}
	for _, br := range bridges {
		must(t, l.sw.Bridge(br))
	}
	return l
}

// host creates the namespace prefix-role.
func (l *lan) host(role string) *netlab.NS {
	l.t.Helper()
	return newNS(l.t, l.prefix+"-"+role)
}

// plug links ns (interface ifname, with address cidr) to bridge br.
func (l *lan) plug(ns *netlab.NS, ifname, br, cidr string) {
	l.t.Helper()
	l.ports++
	port := fmt.Sprintf("p%d", l.ports)
	must(l.t, netlab.Veth(ns, ifname, l.sw, port))
	must(l.t, l.sw.Enslave(port, br))
	if cidr != "" {
		must(l.t, ns.Addr(ifname, cidr))
	}
}

// serveEcho answers each line of each TCP connection accepted on addr in
// ns with "<name> <line>", until the test ends.
func serveEcho(t *testing.T, ns *netlab.NS, addr, name string) {
	t.Helper()
	ln, err := ns.Listen("tcp", addr)
	must(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := fmt.Fprintf(c, "%s %s\n", name, sc.Text()); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// session is one long-lived TCP connection from the client to a VIP that
// exchanges a numbered message every interval and checks each answer.
type session struct {
	mu     sync.Mutex
	server string   // who answered the first message
	ok     int      // answers received
	errs   []string // what broke the connection (it stops at the first)
	last   time.Time
	gap    time.Duration // the longest time between two answers
	stop   chan struct{}
	done   chan struct{}
}

// startSession dials addr from ns and starts exchanging messages.
func startSession(t *testing.T, ns *netlab.NS, addr string, interval time.Duration) *session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	must(t, err)
	s := &session{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { s.finish(); c.Close() })
	go func() {
		defer close(s.done)
		r := bufio.NewReader(c)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for i := 1; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			// A takeover takes a few TCP retransmissions to heal: a
			// generous deadline, so that only a broken connection fails.
			c.SetDeadline(time.Now().Add(8 * time.Second))
			if _, err := fmt.Fprintf(c, "msg %d\n", i); err != nil {
				s.fail(fmt.Sprintf("write %d: %v", i, err))
				return
			}
			line, err := r.ReadString('\n')
			if err != nil {
				s.fail(fmt.Sprintf("read %d: %v", i, err))
				return
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[2] != strconv.Itoa(i) {
				s.fail(fmt.Sprintf("answer %d: %q", i, line))
				return
			}
			s.mu.Lock()
			if s.server == "" {
				s.server = f[0]
			} else if f[0] != s.server {
				s.errs = append(s.errs, fmt.Sprintf("answer %d from %s, the connection started on %s", i, f[0], s.server))
			}
			s.ok++
			if now := time.Now(); !s.last.IsZero() && now.Sub(s.last) > s.gap {
				s.gap = now.Sub(s.last)
			}
			s.last = time.Now()
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *session) fail(e string) {
	s.mu.Lock()
	s.errs = append(s.errs, time.Now().Format("15:04:05.000 ")+e)
	s.mu.Unlock()
}

// answers returns the answers so far and whether the session broke.
func (s *session) answers() (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok, len(s.errs) > 0
}

// waitAnswers waits until n more answers than from arrived, or the session
// broke, or timeout.
func (s *session) waitAnswers(from, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		ok, broken := s.answers()
		if broken {
			return false
		}
		if ok >= from+n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (s *session) finish() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// waitIPVS polls `ipvsadm args` in ns until its output (squashed) matches
// re, and returns it.
func waitIPVS(t *testing.T, ns *netlab.NS, re string, timeout time.Duration, args ...string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(timeout)
	for {
		out := ipvsadm(t, ns, args...)
		if rx.MatchString(squash(out)) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("ipvsadm %s never matched %q within %v:\n%s", strings.Join(args, " "), re, timeout, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runIn runs argv inside ns and returns its combined output.
func runIn(t *testing.T, ns *netlab.NS, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s in %s: %v\n%s", strings.Join(argv, " "), ns.Name, err, out)
	}
	return string(out)
}

// statsRe reads one service line of `ipvsadm -Ln --stats`: protocol, VIP,
// connections, inbound packets, outbound packets.
var statsRe = regexp.MustCompile(`(?m)^(TCP|UDP)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)`)

// ipvsStats returns the connections, inbound and outbound packets of the
// service vip (ip:port). The kernel updates these every 2 seconds.
func ipvsStats(t *testing.T, ns *netlab.NS, vip string) (conns, in, out int) {
	t.Helper()
	for _, m := range statsRe.FindAllStringSubmatch(ipvsadm(t, ns, "-Ln", "--stats"), -1) {
		if m[2] == vip {
			conns, _ = strconv.Atoi(m[3])
			in, _ = strconv.Atoi(m[4])
			out, _ = strconv.Atoi(m[5])
			return
		}
	}
	t.Fatalf("no service %s in ipvsadm -Ln --stats", vip)
	return
}
