package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
	"github.com/tandem-lb/tandem/ipvs"
)

// healthConfig is the seed's NAT service over three real servers, each
// checked over HTTP every 200 ms (fall 2, timeout 100 ms: a dead server
// is out within 500 ms), with a sorry server. extra goes into the
// virtual_server block.
func healthConfig(extra string) string {
	return `
director {
  static_vips = ["203.0.113.10"]
}

node "director" {
  interfaces = ["eth0", "br0"]
}

virtual_server "web" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
` + extra + `
  check "http" {
    interval = "200ms"
    timeout  = "100ms"
    rise     = 2
    fall     = 2
  }
  sorry_server { address = "192.168.100.99:80" }

  real_server "rs1" { address = "192.168.100.11:80" }
  real_server "rs2" { address = "192.168.100.12:80" }
  real_server "rs3" { address = "192.168.100.13:80" }
}
`
}

// The detection bound of healthConfig: fall × interval + timeout.
const healthBound = 2*200*time.Millisecond + 100*time.Millisecond

var webKey = ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort(vip+":80"))

// tableWatch reads the director's IPVS table through its own netlink
// socket: cheaper and more precise than running ipvsadm in a loop.
type tableWatch struct {
	t   *testing.T
	rec *ipvs.Reconciler
}

func watchTable(t *testing.T, ns *netlab.NS) *tableWatch {
	t.Helper()
	rec, err := ipvs.Open(ns.Path())
	must(t, err)
	t.Cleanup(func() { rec.Close() })
	return &tableWatch{t: t, rec: rec}
}

// dests returns the web service's destinations as "addr:port/weight",
// sorted, or "" when it has none.
func (w *tableWatch) dests(key ipvs.ServiceKey) string {
	w.t.Helper()
	tb, err := w.rec.Dump(context.Background())
	must(w.t, err)
	var out []string
	for _, d := range tb[key].Destinations {
		out = append(out, fmt.Sprintf("%s/%d", d.AddrPort(), d.Weight))
	}
	return strings.Join(out, " ")
}

// wait polls every 5 ms until the destinations of key are want, and
// returns when that happened.
func (w *tableWatch) wait(key ipvs.ServiceKey, want string, timeout time.Duration) time.Time {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := w.dests(key)
		if got == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("IPVS destinations of %s are %q after %v, want %q", key, got, timeout, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	rs1  = "192.168.100.11:80/1"
	rs2  = "192.168.100.12:80/1"
	rs3  = "192.168.100.13:80/1"
	all3 = rs1 + " " + rs2 + " " + rs3
)

// TestHealthRemove: a real server whose HTTP server stops leaves the
// table within fall × interval + timeout, after which the client never
// sees an error; started again, it comes back after rise successes.
func TestHealthRemove(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "hrm", 3)
	w := watchTable(t, l.director)
	p := startTandem(t, l.director, "run", "-c", writeConfig(t, healthConfig("")), "--node", "director")
	w.wait(webKey, all3, 5*time.Second)

	stopRS2(t, l, w)
	p.waitLog(`health check state changed.*192\.168\.100\.12:80.*to=down`, 0, time.Second)
	loop := startProbeLoop(httpClient(l.client), "http://"+vip+"/", 10*time.Millisecond, 100)
	time.Sleep(800 * time.Millisecond)
	loop.finish()
	if len(loop.errs) > 0 || loop.ok == 0 || loop.bodies["This is real server 2"] > 0 {
		t.Errorf("client after rs2 left: %d answers %v, errors %v", loop.ok, loop.bodies, loop.errs)
	}
	t.Logf("client after rs2 left: %d answers %v, 0 errors", loop.ok, loop.bodies)

	l.http[1].start()
	started := time.Now()
	back := w.wait(webKey, all3, 5*time.Second)
	t.Logf("rs2 started: back in the table after %v (rise 2 × 200 ms)", back.Sub(started).Round(time.Millisecond))
	c := httpClient(l.client)
	seen := map[string]bool{}
	for i := 0; i < 6; i++ {
		b, err := get(c, "http://"+vip+"/")
		must(t, err)
		seen[b] = true
	}
	if !seen["This is real server 2"] {
		t.Errorf("rs2 back in the table but never answers: %v", seen)
	}
	p.waitLog(`ipvs updated.*reason=health`, 0, time.Second)
	must(t, p.stop())
}

// stopRS2 stops rs2's HTTP server and checks that it leaves the table
// within fall × interval + timeout.
func stopRS2(t *testing.T, l *natLab, w *tableWatch) {
	t.Helper()
	l.http[1].stop()
	stopped := time.Now()
	gone := w.wait(webKey, rs1+" "+rs3, 5*time.Second)
	took := gone.Sub(stopped)
	t.Logf("rs2 stopped: out of the table after %v (bound fall×interval+timeout = %v)", took.Round(time.Millisecond), healthBound)
	if took > healthBound+300*time.Millisecond {
		t.Errorf("rs2 left after %v, want within %v (+300 ms slack)", took, healthBound)
	}
}

// refusedAndBack stops rs2 and checks that it leaves the table within the
// bound, refused, that the client never meets it after, and that it comes
// back once started.
func refusedAndBack(t *testing.T, l *natLab, w *tableWatch, p *tandemProc) {
	t.Helper()
	stopRS2(t, l, w)
	p.waitLog(`health check state changed.*192\.168\.100\.12:80.*connection refused`, 0, time.Second)
	loop := startProbeLoop(httpClient(l.client), "http://"+vip+"/", 10*time.Millisecond, 50)
	time.Sleep(400 * time.Millisecond)
	loop.finish()
	if len(loop.errs) > 0 || loop.ok == 0 || loop.bodies["This is real server 2"] > 0 {
		t.Errorf("client after rs2 left: %d answers %v, errors %v", loop.ok, loop.bodies, loop.errs)
	}

	l.http[1].start()
	started := time.Now()
	back := w.wait(webKey, all3, 5*time.Second)
	t.Logf("rs2 started: back in the table after %v (rise 2 × 200 ms)", back.Sub(started).Round(time.Millisecond))
}

// TestHealthSorry: with every real server down the sorry server answers;
// the first real server back replaces it.
func TestHealthSorry(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "hsorry", 3)
	sorry := l.addHost(t, "hsorry-sorry", 99)
	serveHTTP(t, sorry, "192.168.100.99:80", "Sorry, come back later")
	w := watchTable(t, l.director)
	p := startTandem(t, l.director, "run", "-c", writeConfig(t, healthConfig("")), "--node", "director")
	w.wait(webKey, all3, 5*time.Second)
	for _, s := range l.http {
		s.stop()
	}
	stopped := time.Now()
	in := w.wait(webKey, "192.168.100.99:80/1", 5*time.Second)
	t.Logf("all real servers stopped: sorry server alone after %v", in.Sub(stopped).Round(time.Millisecond))
	c := httpClient(l.client)
	for i := 0; i < 3; i++ {
		b, err := get(c, "http://"+vip+"/")
		if err != nil || b != "Sorry, come back later" {
			t.Errorf("GET with every real server down: %q, %v; want the sorry server", b, err)
		}
	}
	p.waitLog(`virtual server down: quorum lost`, 0, time.Second)
	p.waitLog(`sorry server in`, 0, time.Second)

	l.http[0].start()
	w.wait(webKey, rs1, 5*time.Second)
	for i := 0; i < 3; i++ {
		b, err := get(c, "http://"+vip+"/")
		if err != nil || b != "This is real server 1" {
			t.Errorf("GET with rs1 back: %q, %v; want rs1", b, err)
		}
	}
	p.waitLog(`sorry server out`, 0, time.Second)
	p.waitLog(`virtual server up: quorum reached`, 0, time.Second)
	must(t, p.stop())
}

// echoServer answers each line on a TCP connection with "name: line".
func echoServer(t *testing.T, ns *netlab.NS, addr, name string) {
	t.Helper()
	ln, err := ns.Listen("tcp", addr)
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					fmt.Fprintf(c, "%s: %s\n", name, sc.Text())
				}
			}()
		}
	}()
}

// echo sends line on c and returns the answer.
func echo(c net.Conn, r *bufio.Reader, line string) (string, error) {
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintln(c, line); err != nil {
		return "", err
	}
	s, err := r.ReadString('\n')
	return strings.TrimSpace(s), err
}

// TestHealthDrain: with on_failure = "drain", a real server whose health
// endpoint fails stays with weight 0: an established connection to it
// (a long-lived session on port 7, an echo service) goes on exchanging
// messages, while new connections go to the other real servers.
func TestHealthDrain(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "hdrain", 3)
	for i, rs := range l.rs {
		echoServer(t, rs, fmt.Sprintf("192.168.100.%d:7", 11+i), fmt.Sprintf("rs%d", i+1))
	}
	cfg := strings.Replace(healthConfig(`  on_failure = "drain"`), `"203.0.113.10:80"`, `"203.0.113.10:7"`, 1)
	cfg = strings.ReplaceAll(cfg, `:80" }`, `:7" }`)
	cfg = strings.Replace(cfg, `timeout  = "100ms"`, "timeout  = \"100ms\"\n    port     = 80", 1)
	key := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort(vip+":7"))
	w := watchTable(t, l.director)
	p := startTandem(t, l.director, "run", "-c", writeConfig(t, cfg), "--node", "director")
	w.wait(key, "192.168.100.11:7/1 192.168.100.12:7/1 192.168.100.13:7/1", 5*time.Second)

	ctx := context.Background()
	conn, err := l.client.DialContext(ctx, "tcp", vip+":7")
	must(t, err)
	defer conn.Close()
	r := bufio.NewReader(conn)
	first, err := echo(conn, r, "hello")
	must(t, err)
	name, _, _ := strings.Cut(first, ":")
	var n int
	fmt.Sscanf(name, "rs%d", &n)
	if n < 1 || n > 3 {
		t.Fatalf("echo answered %q", first)
	}
	t.Logf("long-lived connection is on %s; stopping its HTTP server (the health endpoint)", name)
	l.http[n-1].stop()
	var want []string
	for i := 1; i <= 3; i++ {
		wt := 1
		if i == n {
			wt = 0
		}
		want = append(want, fmt.Sprintf("192.168.100.%d:7/%d", 10+i, wt))
	}
	w.wait(key, strings.Join(want, " "), 5*time.Second)
	t.Logf("%s drained: %s", name, strings.Join(want, " "))
	for i := 0; i < 10; i++ {
		got, err := echo(conn, r, fmt.Sprintf("msg %d", i))
		if err != nil || got != fmt.Sprintf("%s: msg %d", name, i) {
			t.Fatalf("established connection while drained: %q, %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 6; i++ {
		c2, err := l.client.DialContext(ctx, "tcp", vip+":7")
		must(t, err)
		got, err := echo(c2, bufio.NewReader(c2), "new")
		c2.Close()
		if err != nil || strings.HasPrefix(got, name+":") {
			t.Errorf("new connection %d while %s drained: %q, %v", i, name, got, err)
		}
	}
	out := squash(ipvsadm(t, l.director, "-Ln"))
	if !strings.Contains(out, fmt.Sprintf("192.168.100.%d:7 Masq 0 1", 10+n)) {
		t.Errorf("ipvsadm does not show %s at weight 0 with its active connection:\n%s", name, out)
	}
	must(t, p.stop())
}

// TestHealthStart: tandem restarted over a table holding a real server
// whose check now fails keeps it until the check's first verdict, then
// removes it; the start itself writes nothing.
func TestHealthStart(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "hstart", 3)
	w := watchTable(t, l.director)
	cfg := writeConfig(t, strings.Replace(healthConfig(""), `interval = "200ms"`, `interval = "1s"`, 1))
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	w.wait(webKey, all3, 5*time.Second)
	must(t, p.stop())
	l.http[2].stop()

	p2 := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	start := time.Now()
	if wr, _ := p2.reconciled(0); wr != 0 {
		t.Errorf("start over the table wrote %d, want 0 (every real server adopted)", wr)
	}
	if got := w.dests(webKey); got != all3 {
		t.Errorf("right after the start: %q, want all three kept until their first verdict", got)
	}
	gone := w.wait(webKey, rs1+" "+rs2, 5*time.Second)
	t.Logf("rs3 kept until its first verdict, removed %v after the start (first probe at a random phase of the 1 s interval)", gone.Sub(start).Round(time.Millisecond))
	p2.waitLog(`health check state changed.*192\.168\.100\.13:80.*from=unknown to=down`, 0, time.Second)
	must(t, p2.stop())
}

// TestHealthHalfOpen: half-open tcp checks on the real kernel. While only
// the checks run, the real servers' kernels answer every SYN and their
// applications never see a connection (no passive open completes; each
// probe ends as a reset half-open connection); a real server whose
// listener closes answers the SYN with a reset and leaves the table within
// fall × interval + timeout; started again, it comes back.
func TestHealthHalfOpen(t *testing.T) {
	vmOnly(t)
	l, w, p := startCheckLab(t, "hho", halfOpenCheck)

	before := nsCounters(t, l.rs[0])
	time.Sleep(time.Second)
	after := nsCounters(t, l.rs[0])
	opens, fails := after["Tcp.PassiveOpens"]-before["Tcp.PassiveOpens"], after["Tcp.AttemptFails"]-before["Tcp.AttemptFails"]
	t.Logf("rs1 over 1 s of checks every 200 ms: %d connections accepted, %d half-open connections reset", opens, fails)
	if opens != 0 || fails < 3 || fails > 7 {
		t.Errorf("rs1 over 1 s: %d passive opens, %d reset half-open; want 0 and about 5 (one per 200 ms probe)", opens, fails)
	}

	refusedAndBack(t, l, w, p)
	must(t, p.stop())
}

// The check blocks of healthConfig's web service that startCheckLab swaps
// in for its http check.
const (
	halfOpenCheck = "check \"tcp\" {\n    half_open = true"
	reuseCheck    = "check \"http\" {\n    reuse_connection = true"
)

// startCheckLab starts tandem on a NAT lab (newNATLab, three real
// servers) whose web service's check opens with check (see
// halfOpenCheck), and waits for the three real servers in the table.
func startCheckLab(t *testing.T, prefix, check string) (*natLab, *tableWatch, *tandemProc) {
	t.Helper()
	l := newNATLab(t, prefix, 3)
	w := watchTable(t, l.director)
	cfg := strings.Replace(healthConfig(""), `check "http" {`, check, 1)
	p := startTandem(t, l.director, "run", "-c", writeConfig(t, cfg), "--node", "director")
	w.wait(webKey, all3, 5*time.Second)
	return l, w, p
}

// nsCounters reads the TCP counters (see netCounters) of namespace ns.
func nsCounters(t *testing.T, ns *netlab.NS) map[string]int64 {
	t.Helper()
	var out map[string]int64
	must(t, ns.Do(func() error {
		out = netCountersAt("/proc/thread-self/net")
		return nil
	}))
	return out
}

// TestHealthReuse: http checks that keep their connection (reuse_connection)
// open one connection per ten probes on a real server instead of one per
// probe, and still take a stopped real server out within the bound (its
// kept connection closes with it; the fresh one the probe opens at once is
// refused).
func TestHealthReuse(t *testing.T) {
	vmOnly(t)
	l, w, p := startCheckLab(t, "hru", reuseCheck)

	before := nsCounters(t, l.rs[0])
	time.Sleep(2 * time.Second)
	after := nsCounters(t, l.rs[0])
	opens := after["Tcp.PassiveOpens"] - before["Tcp.PassiveOpens"]
	t.Logf("rs1 over 2 s of checks every 200 ms (10 probes): %d connections accepted", opens)
	if opens > 2 {
		t.Errorf("rs1 accepted %d connections for 10 probes, want at most 2 (one per 10 probes)", opens)
	}

	refusedAndBack(t, l, w, p)
	must(t, p.stop())
}

// TestHealthHalfOpenSourceChange: half-open probes build their own IPv4
// header, so tandem keeps the source address the kernel would choose and
// must learn a new one when routes or addresses change. The director's
// real-server side moves from 192.168.100.1 to 192.168.100.50 (a /32
// address and a second route to the subnet with the new source, then the
// old address removed): probes from the old source would be answered to an
// address the director no longer has, and the real servers would go down.
// They stay up.
func TestHealthHalfOpenSourceChange(t *testing.T) {
	vmOnly(t)
	l, w, p := startCheckLab(t, "hhs", halfOpenCheck)

	nl := l.director.Netlink()
	br, err := nl.LinkByName("br0")
	must(t, err)
	newSrc := net.IPv4(192, 168, 100, 50).To4()
	must(t, nl.AddrAdd(br, &netlink.Addr{IPNet: &net.IPNet{IP: newSrc, Mask: net.CIDRMask(32, 32)}}))
	must(t, nl.RouteAdd(&netlink.Route{
		LinkIndex: br.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4(192, 168, 100, 0).To4(), Mask: net.CIDRMask(24, 32)},
		Src:       newSrc,
		Priority:  100,
		Scope:     netlink.SCOPE_LINK,
	}))
	old, err := netlink.ParseAddr("192.168.100.1/24")
	must(t, err)
	must(t, nl.AddrDel(br, old))
	changed := time.Now()

	// fall 2 × 200 ms: a stale source takes every real server out
	// within 500 ms. Watch for 1.5 s.
	for time.Since(changed) < 1500*time.Millisecond {
		if got := w.dests(webKey); got != all3 {
			t.Fatalf("%v after the source moved to 192.168.100.50: table %q, want all three real servers (probes from a stale source?)\n%s",
				time.Since(changed).Round(time.Millisecond), got, p.tail)
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := nsCounters(t, l.rs[0])
	time.Sleep(time.Second)
	after := nsCounters(t, l.rs[0])
	if fails := after["Tcp.AttemptFails"] - before["Tcp.AttemptFails"]; fails < 3 {
		t.Errorf("rs1 saw %d half-open probes in 1 s after the move, want about 5", fails)
	}
	must(t, p.stop())
}
