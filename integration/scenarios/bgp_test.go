package scenarios

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// BGP mode: every director runs tandem with the cluster's bgp block and
// announces the VIP to the router's bird, which spreads the client's
// flows over them with ECMP (bgp_lab_test.go has the lab).

// bgpOpts shape the cluster file of a BGP lab.
type bgpOpts struct {
	Directors int    // nodes in the file (d1..dN)
	Scheduler string // "mh" (default) or another
	Flags     string // scheduler_flags, default mh-port and mh-fallback with mh
	RS        []int  // the real servers in the file (1..4), default all
	NoSync    bool   // no conn_sync
	Graceful  bool   // graceful_restart
	CheckPort int    // the checks' port (0: the service's)
	Metrics   bool   // each node's metrics listener on its LAN address
	Weight1   int    // rs1's weight (0: 1)
	// RestartTime is restart_time in seconds (0: 4).
	RestartTime int
	Forward     string // "dr" (default) or "tun"
}

// bgpConfig is the cluster file for lab l.
func bgpConfig(l *bgpLab, o bgpOpts) string {
	if o.Scheduler == "" {
		o.Scheduler = "mh"
	}
	if o.Flags == "" && o.Scheduler == "mh" {
		o.Flags = `["mh-port", "mh-fallback"]`
	}
	if o.Flags == "" {
		o.Flags = "[]"
	}
	if o.RS == nil {
		o.RS = []int{1, 2, 3, 4}
	}
	var b strings.Builder
	b.WriteString("director {\n")
	if !o.NoSync {
		b.WriteString("  conn_sync {\n    interface = \"eth0\"\n  }\n")
	}
	b.WriteString("  timeouts {\n    tcp = \"1h\"\n  }\n}\n\n")
	for i := 1; i <= o.Directors; i++ {
		metrics := ""
		if o.Metrics {
			metrics = fmt.Sprintf("  metrics {\n    listen = \"%s:9115\"\n  }\n", l.DirAddr[i-1])
		}
		fmt.Fprintf(&b, "node \"d%d\" {\n  router_id = %q\n%s}\n\n", i, l.DirAddr[i-1], metrics)
	}
	fmt.Fprintf(&b, `bgp {
  local_as         = %d
  addresses        = [%q]
  hold_time        = "3s"
  drain_timeout    = "1s"
  graceful_restart = %t
  restart_time     = "%ds"

  peer "router" {
    address = %q
    as      = %d
  }
}

virtual_server "echo" {
  address         = "%s"
  scheduler       = %q
  scheduler_flags = %s
  forward         = %q

  check "tcp" {
    interval = "500ms"
    timeout  = "300ms"
    rise     = 1
    fall     = 2
    port     = %d
  }
`, l.DirAS, l.VIP, o.Graceful, cmp.Or(o.RestartTime, 4), l.RouterAddr, l.RouterAS, l.VIPAddr(), o.Scheduler, o.Flags, cmp.Or(o.Forward, "dr"), cmp.Or(o.CheckPort, l.Port))
	for _, n := range o.RS {
		w := 1
		if n == 1 && o.Weight1 > 0 {
			w = o.Weight1
		}
		fmt.Fprintf(&b, "\n  real_server \"rs%d\" {\n    address = %q\n    weight  = %d\n  }\n", n, l.RSAddr[n-1], w)
	}
	b.WriteString("}\n")
	return b.String()
}

// startBGPTandem starts tandem on director i (0-based) with cfg.
func startBGPTandem(t *testing.T, l *bgpLab, i int, cfg string) *tandemProc {
	t.Helper()
	return startTandem(t, l.Dirs[i], "run", "-c", cfg, "--node", fmt.Sprintf("d%d", i+1))
}

// vipPrefix is the VIP's route.
func (l *bgpLab) vipPrefix() string { return l.VIP + "/32" }

// waitFIB waits until the router's FIB has exactly the nexthops of the
// directors want (0-based) and returns how long that took.
func (l *bgpLab) waitFIB(t *testing.T, want []int, timeout time.Duration) time.Duration {
	t.Helper()
	var addrs []string
	for _, i := range want {
		addrs = append(addrs, l.DirAddr[i])
	}
	slices.Sort(addrs)
	t0 := time.Now()
	deadline := t0.Add(timeout)
	for {
		got := l.routerNexthops(t, l.vipPrefix())
		if slices.Equal(got, addrs) {
			return time.Since(t0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("router FIB for %s: %v after %s, want %v", l.vipPrefix(), got, timeout, addrs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flows is a set of long-lived client connections through the VIP.
type flows []*session

func openFlows(t *testing.T, l *bgpLab, n int) flows {
	t.Helper()
	var fs flows
	for range n {
		fs = append(fs, startSession(t, l.Client, l.VIPAddr(), 100*time.Millisecond))
	}
	return fs
}

// settle waits until every unbroken flow has answered twice more, and
// returns the broken ones' errors.
func (fs flows) settle(timeout time.Duration) (broken []string) {
	from := make([]int, len(fs))
	for i, s := range fs {
		from[i], _ = s.answers()
	}
	for i, s := range fs {
		s.waitAnswers(from[i], 2, timeout)
	}
	for i, s := range fs {
		s.mu.Lock()
		if len(s.errs) > 0 {
			broken = append(broken, fmt.Sprintf("flow %d (%s): %s", i, s.server, s.errs[0]))
		}
		s.mu.Unlock()
	}
	return broken
}

// onDirectors counts the client's connection entries on each director.
func (l *bgpLab) onDirectors(t *testing.T, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range n {
		out[i] = l.ipvsConns(t, i)
	}
	return out
}

// TestBGPECMP: three directors in BGP mode behind a bird router with
// ECMP. Each announces the VIP once its table is programmed and its real
// servers are up; long-lived flows survive a director joining, one
// leaving by drain-node, and one crashing (SIGKILL).
func TestBGPECMP(t *testing.T) {
	vmOnly(t)
	l := newBGPLab(t, bgpLabOpts{Directors: 3, Router: true, NoDirectorVIP: true})
	health := make([]net.Listener, len(l.RS))
	for i, rs := range l.RS {
		health[i] = healthPort(t, rs)
	}
	cfg := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 3, CheckPort: 9001}))
	t0 := time.Now()
	p1 := startBGPTandem(t, l, 0, cfg)
	p2 := startBGPTandem(t, l, 1, cfg)
	p1.waitLog(`msg="bgp announce"`, 0, 20*time.Second)
	took := l.waitFIB(t, []int{0, 1}, 20*time.Second)
	say(t, "bgp: 2 directors in the router's FIB %s after start (%s after the first FIB poll)", time.Since(t0).Round(time.Millisecond), took.Round(time.Millisecond))

	st, err := l.Dirs[0].Command(context.Background(), "/tandem", "status").CombinedOutput()
	must(t, err)
	for _, want := range []string{"BGP AS 65000", "established", "192.0.2.100/32", "yes", "ready"} {
		if !strings.Contains(string(st), want) {
			t.Errorf("tandem status lacks %q:\n%s", want, st)
		}
	}
	// Both directors carry flows, and their sync daemons run both roles.
	fs := openFlows(t, l, 24)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Fatalf("flows broken before any change: %v", b)
	}
	per := l.onDirectors(t, 2)
	say(t, "bgp: 24 flows over 2 directors: %v", per)
	if per[0] == 0 || per[1] == 0 {
		t.Errorf("flows per director %v: ECMP did not spread them", per)
	}
	if d := ipvsadm(t, l.Dirs[0], "-L", "--daemon"); !strings.Contains(d, "master") || !strings.Contains(d, "backup") {
		t.Errorf("sync daemons on d1: %q, want master and backup", d)
	}

	// Join.
	p3 := startBGPTandem(t, l, 2, cfg)
	p3.waitLog(`msg="bgp announce"`, 0, 20*time.Second)
	took = l.waitFIB(t, []int{0, 1, 2}, 20*time.Second)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Errorf("flows broken by a director joining: %v", b)
	}
	say(t, "bgp: d3 joined (FIB in %s); flows per director %v", took.Round(time.Millisecond), l.onDirectors(t, 3))

	// Drain d1.
	t1 := time.Now()
	out, err := l.Dirs[0].Command(context.Background(), "/tandem", "drain-node").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "withdrew 1 routes (192.0.2.100)") {
		t.Fatalf("drain-node: %v: %s", err, out)
	}
	say(t, "bgp: %s", strings.TrimSpace(string(out)))
	select {
	case <-p1.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tandem on d1 did not stop after drain-node")
	}
	if !p1.cmd.ProcessState.Success() {
		t.Errorf("tandem on d1 exited %v after drain-node, want 0", p1.cmd.ProcessState)
	}
	took = l.waitFIB(t, []int{1, 2}, 5*time.Second)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Errorf("flows broken by drain-node: %v", b)
	}
	say(t, "bgp: d1 drained (out of the FIB %s after drain-node started, drain-node took %s)", took.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
	// The table and the address stay on d1.
	if !strings.Contains(ipvsadm(t, l.Dirs[0], "-Ln"), l.VIPAddr()) {
		t.Error("d1's IPVS table is gone after drain-node")
	}

	// Crash d2.
	t2 := time.Now()
	p2.cmd.Process.Signal(syscall.SIGKILL)
	<-p2.done
	took = l.waitFIB(t, []int{2}, 10*time.Second)
	broken := fs.settle(10 * time.Second)
	say(t, "bgp: d2 killed: out of the FIB after %s (%s after the kill); %d of %d flows broken", took.Round(time.Millisecond), time.Since(t2).Round(time.Millisecond), len(broken), len(fs))
	if len(broken) > 0 {
		t.Errorf("flows broken by a crash: %v", broken)
	}
	for _, f := range fs {
		f.finish()
	}

	// Every real server's health port refuses connections: d3 withdraws
	// (no announcing a dead backend), and announces again once they are
	// back. (A link down would make every probe time out at once: a mass
	// timeout, held as not-a-failure, and the route would stay.)
	refuse := func(on bool) {
		for i, rs := range l.RS {
			if on {
				health[i].Close()
				continue
			}
			health[i] = healthPort(t, rs)
		}
	}
	refuse(true)
	_, at := p3.waitLog(`msg="bgp withdraw".*below quorum`, 0, 15*time.Second)
	l.waitFIB(t, nil, 5*time.Second)
	refuse(false)
	p3.waitLog(`msg="bgp announce"`, at, 15*time.Second)
	l.waitFIB(t, []int{2}, 15*time.Second)
	say(t, "bgp: real servers down: d3 withdrew; back up: announced again")

	// SIGTERM: withdrawn before the exit (graceful_restart is off).
	t3 := time.Now()
	if err := p3.stop(); err != nil {
		t.Error(err)
	}
	p3.waitLog(`msg="bgp routes withdrawn"`, 0, time.Second)
	l.waitFIB(t, nil, time.Second)
	say(t, "bgp: SIGTERM on d3: routes withdrawn and tandem stopped in %s", time.Since(t3).Round(time.Millisecond))
}

// healthPort listens on :9001 in ns, accepting and closing connections:
// the real server's health port, which the test closes to fail it.
func healthPort(t *testing.T, ns *netlab.NS) net.Listener {
	t.Helper()
	ln, err := ns.Listen("tcp", ":9001")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// TestBGPGracefulRestart: with graceful_restart, SIGTERM closes the
// session as a graceful restart: the router keeps the director's route
// (stale) while the kernel's table goes on forwarding, a restart within
// restart_time takes it over without the route ever leaving the FIB, and
// a director that does not come back is out after restart_time.
func TestBGPGracefulRestart(t *testing.T) {
	vmOnly(t)
	l := newBGPLab(t, bgpLabOpts{Directors: 2, Router: true, NoDirectorVIP: true})
	// restart_time (the default, 15 s) covers the restart: tandem's start,
	// GoBGP's first connection attempt (~2 s) and the session; on the CI
	// machine, loaded, that took up to 10 s.
	cfg := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2, Graceful: true, RestartTime: 15}))
	p1 := startBGPTandem(t, l, 0, cfg)
	startBGPTandem(t, l, 1, cfg)
	l.waitFIB(t, []int{0, 1}, 30*time.Second)
	fs := openFlows(t, l, 24)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Fatalf("flows broken before any change: %v", b)
	}
	// Watch the FIB all along: d1 must never leave it.
	stop := make(chan struct{})
	lost := make(chan time.Duration, 1)
	go func() {
		var out time.Duration
		last := time.Now()
		for {
			select {
			case <-stop:
				lost <- out
				return
			case <-time.After(10 * time.Millisecond):
			}
			now := time.Now()
			if !slices.Contains(fibNexthops(t, l.Router, l.vipPrefix()), l.DirAddr[0]) {
				out += now.Sub(last)
			}
			last = now
		}
	}()
	if err := p1.stop(); err != nil {
		t.Fatal(err)
	}
	p1.waitLog(`msg="bgp graceful restart: routes kept on the router"`, 0, time.Second)
	time.Sleep(time.Second) // stale on the router, forwarded by d1's kernel
	p1 = startBGPTandem(t, l, 0, cfg)
	p1.waitLog(`msg="bgp speaker started".*restarting=true`, 0, 10*time.Second)
	p1.waitLog(`msg="bgp peer state".*state=established`, 0, 15*time.Second)
	time.Sleep(time.Second)
	close(stop)
	out := <-lost
	broken := fs.settle(10 * time.Second)
	say(t, "bgp: graceful restart of d1: out of the FIB for %s in all; %d of %d flows broken", out, len(broken), len(fs))
	if out > 0 {
		t.Errorf("d1 left the router's FIB for %s during a graceful restart", out)
	}
	if len(broken) > 0 {
		t.Errorf("flows broken by a graceful restart: %v", broken)
	}
	// Stopped for good: out after restart_time (15 s).
	t0 := time.Now()
	if err := p1.stop(); err != nil {
		t.Fatal(err)
	}
	took := l.waitFIB(t, []int{1}, 25*time.Second)
	say(t, "bgp: d1 stopped for good: out of the FIB %s after SIGTERM (restart_time 15s)", time.Since(t0).Round(time.Millisecond))
	if took < 12*time.Second {
		t.Errorf("d1 left the FIB %s after a graceful stop, before its restart time", took)
	}
}

// TestBGPPlacement: each director reads the others' placement hash from
// their metrics listeners; two directors whose files differ in a weight
// (the same flow would go to different real servers) report it in status
// and metrics, and agree again once the file is the same.
func TestBGPPlacement(t *testing.T) {
	vmOnly(t)
	l := newBGPLab(t, bgpLabOpts{Directors: 2, Router: true, NoDirectorVIP: true})
	cfg1 := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2, Metrics: true}))
	cfg2 := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2, Metrics: true, Weight1: 2}))
	startTandem(t, l.Dirs[0], "run", "-c", cfg1, "--node", "d1")
	p2 := startTandem(t, l.Dirs[1], "run", "-c", cfg2, "--node", "d2")
	l.waitFIB(t, []int{0, 1}, 30*time.Second)
	status := func(i int) string {
		out, err := l.Dirs[i].Command(context.Background(), "/tandem", "status").CombinedOutput()
		must(t, err)
		return string(out)
	}
	waitStatus := func(i int, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(status(i), want) {
			if time.Now().After(deadline) {
				t.Fatalf("d%d's status lacks %q after 15 s:\n%s", i+1, want, status(i))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitStatus(0, "placement of d2: DIFFERENT")
	waitStatus(1, "placement of d1: DIFFERENT")
	p2.waitLog(`msg="placement differs from another director's`, 0, time.Second)
	say(t, "bgp: placement mismatch reported on both directors")
	// The same file on d2: they agree again at the next read.
	must(t, os.WriteFile(cfg2, []byte(bgpConfig(l, bgpOpts{Directors: 2, Metrics: true})), 0o644))
	if out, err := l.Dirs[1].Command(context.Background(), "/tandem", "reload").CombinedOutput(); err != nil {
		t.Fatalf("reload: %v: %s", err, out)
	}
	waitStatus(0, "placement of d2: same")
	waitStatus(1, "placement of d1: same")
}

// TestBGPTUN: BGP mode with tunnelling real servers (`tandem realserver`
// sets up their tunl0): flows survive a drain and a crash as with DR.
func TestBGPTUN(t *testing.T) {
	vmOnly(t)
	l := newBGPLab(t, bgpLabOpts{Directors: 2, Router: true, NoDirectorVIP: true})
	cfg := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2, Forward: "tun"}))
	for i, rs := range l.RS {
		runIn(t, rs, "/tandem", "realserver", "-c", cfg, "--address", l.RSAddr[i], "--state", filepath.Join(t.TempDir(), "rs.state"))
	}
	startBGPTandem(t, l, 0, cfg)
	p2 := startBGPTandem(t, l, 1, cfg)
	l.waitFIB(t, []int{0, 1}, 30*time.Second)
	fs := openFlows(t, l, 24)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Fatalf("flows broken before any change: %v", b)
	}
	if out := ipvsadm(t, l.Dirs[0], "-Ln"); !strings.Contains(out, "Tunnel") {
		t.Fatalf("d1's table has no tunnel destination:\n%s", out)
	}
	if out, err := l.Dirs[0].Command(context.Background(), "/tandem", "drain-node").CombinedOutput(); err != nil {
		t.Fatalf("drain-node: %v: %s", err, out)
	}
	l.waitFIB(t, []int{1}, 5*time.Second)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Errorf("flows broken by drain-node (tun): %v", b)
	}
	// d1 back, then d2 crashes.
	startBGPTandem(t, l, 0, cfg)
	l.waitFIB(t, []int{0, 1}, 30*time.Second)
	p2.cmd.Process.Signal(syscall.SIGKILL)
	l.waitFIB(t, []int{0}, 10*time.Second)
	broken := fs.settle(10 * time.Second)
	say(t, "bgp tun: drain, rejoin and crash: %d of %d flows broken", len(broken), len(fs))
	if len(broken) > 0 {
		t.Errorf("flows broken (tun): %v", broken)
	}
}
