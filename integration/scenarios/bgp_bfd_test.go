package scenarios

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A director host that dies without a word: no FIN, no NOTIFICATION, no
// withdrawal. Unlike SIGKILL (the kernel closes the BGP session's TCP
// connection and the router drops the route at once), the router learns
// it only from silence: its BGP hold timer (3 s in the lab), or BFD. The
// failure is simulated on d2 by freezing its tandem (SIGSTOP) and cutting
// its namespace off the LAN with an nftables table that drops every
// packet in and out (ARP aside: the inet family does not see it).
//
// Numbers are logged with the prefix "bgp-failover:". With
// TANDEM_LAB_BENCH=1 each test repeats the failure and heal
// bgpFailoverCycles times and logs min/median/max.

// hostDownRules drop every IPv4/IPv6 packet in (before IPVS, conntrack and
// routing) and out of a namespace.
const hostDownRules = `table inet hostdown {
  chain pre {
    type filter hook prerouting priority -500; policy drop;
  }
  chain out {
    type filter hook output priority -500; policy drop;
  }
}
`

// bfdRouterConf is the router's BFD protocol: 100 ms both ways and a
// multiplier of 3, as tandem's peer block in the BFD test (bird's default
// idle interval, 1 s, would only slow the session's start).
const bfdRouterConf = `protocol bfd {
  interface "*" {
    min rx interval 100 ms;
    min tx interval 100 ms;
    idle tx interval 300 ms;
    multiplier 3;
  };
}
`

// bgpFailoverCycles is how many failure/heal cycles a test runs: 1, or 5
// with TANDEM_LAB_BENCH=1.
func bgpFailoverCycles() int {
	if os.Getenv("TANDEM_LAB_BENCH") == "1" {
		return 5
	}
	return 1
}

// bgpBFDConfig is bgpConfig with BFD on the router peer (100 ms, × 3).
func bgpBFDConfig(t *testing.T, l *bgpLab, o bgpOpts) string {
	t.Helper()
	c := bgpConfig(l, o)
	as := fmt.Sprintf("    as      = %d\n", l.RouterAS)
	if !strings.Contains(c, as) {
		t.Fatalf("bgpConfig's peer block changed shape, no %q in:\n%s", as, c)
	}
	return strings.Replace(c, as, as+"    bfd            = true\n    bfd_interval   = \"100ms\"\n    bfd_multiplier = 3\n", 1)
}

// newBFDLab is newBGPLab with 2 directors (tandem adds the VIP) and the
// router's bird as bgpTopo starts it, plus, with bfd, a BFD protocol and
// `bfd on` in each director's session.
func newBFDLab(t *testing.T, bfd bool) *bgpLab {
	t.Helper()
	if !bfd {
		return newBGPLab(t, bgpLabOpts{Directors: 2, Router: true, NoDirectorVIP: true})
	}
	l := newBGPLab(t, bgpLabOpts{Directors: 2, NoDirectorVIP: true})
	c := birdConfig{RouterID: l.RouterAddr, LocalAS: l.RouterAS, Kernel: true, Extra: bfdRouterConf}
	for i, a := range l.DirAddr {
		c.Neighbors = append(c.Neighbors, bgpNeighbor{Name: fmt.Sprintf("d%d", i+1), Addr: a, AS: l.DirAS, Passive: true, Extra: "bfd on;"})
	}
	l.RouterBird = startBird(t, l.Router, c)
	return l
}

// bfdSessions returns the router's BFD sessions' states by peer address
// (`birdcl show bfd sessions`: Up, Down, Init, AdminDown).
func (b *birdProc) bfdSessions() (map[string]string, string, error) {
	out, err := b.birdcl("show", "bfd", "sessions")
	if err != nil {
		return nil, out, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		// IP address  Interface  State  Since  Interval  Timeout
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		if _, err := netip.ParseAddr(f[0]); err == nil {
			m[f[0]] = f[2]
		}
	}
	return m, out, nil
}

// waitBFDUp waits until the router's BFD sessions with addrs are Up and
// returns how long that took; it fails t with bird's view and the
// directors' logs otherwise.
func waitBFDUp(t *testing.T, l *bgpLab, timeout time.Duration, addrs ...string) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		m, out, err := l.RouterBird.bfdSessions()
		up := err == nil
		for _, a := range addrs {
			up = up && m[a] == "Up"
		}
		if up {
			return time.Since(t0)
		}
		if time.Since(t0) > timeout {
			all, _ := l.RouterBird.birdcl("show", "protocols", "all")
			t.Fatalf("router's BFD sessions with %v not Up within %v (%v):\n%s\n%s", addrs, timeout, err, out, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitRouterFIB polls the router's FIB for the VIP until its nexthops are
// want (sorted) or timeout.
func waitRouterFIB(t *testing.T, l *bgpLab, want []string, timeout time.Duration) bool {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(timeout)
	for {
		if slices.Equal(l.routerNexthops(t, l.vipPrefix()), want) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// healMode is how d2 comes back after its host failure.
type healMode int

const (
	// healResume: the network back and the frozen tandem resumed
	// (SIGCONT), as a host that hung and recovers.
	healResume healMode = iota
	// healReboot: the frozen tandem killed, the network back and a new
	// tandem started, as a host that reboots.
	healReboot
)

// failoverCycle is what one failure and heal of d2 measured.
type failoverCycle struct {
	out     time.Duration // failure → the router's FIB without d2
	back    time.Duration // heal → d2 back in the FIB
	broken  int           // long-lived flows broken by the cycle
	stalled int           // flows that stalled (no answer for half of out, at least 250 ms): d2's
	maxGap  time.Duration // the longest stall: traffic back on d1 for d2's flows
	peer    string        // the router's d2 session just after the failure
}

// hostDown runs the whole test: 2 directors in BGP mode (with BFD or
// not), 24 long-lived flows, then bgpFailoverCycles times: d2's host
// fails (frozen and cut off), the router's FIB loses d2 within bound, the
// flows settle, d2 heals and comes back into the FIB.
func hostDown(t *testing.T, bfd bool, bound time.Duration, heal healMode) {
	vmOnly(t)
	name := "hold timer"
	if bfd {
		name = "BFD"
	}
	how := "nft table deleted, SIGCONT"
	if heal == healReboot {
		how = "frozen tandem killed, nft table deleted, new tandem started"
		name += ", reboot"
	}
	l := newBFDLab(t, bfd)
	var cfg string
	if bfd {
		cfg = writeConfig(t, bgpBFDConfig(t, l, bgpOpts{Directors: 2}))
	} else {
		cfg = writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2}))
	}
	rules := filepath.Join(t.TempDir(), "hostdown.nft")
	must(t, os.WriteFile(rules, []byte(hostDownRules), 0o644))
	d2 := l.Dirs[1]
	startBGPTandem(t, l, 0, cfg)
	p2 := startTandem(t, d2, "run", "-c", cfg, "--node", "d2", "--log-level", "debug")
	// Runs before tandem's own cleanup (SIGTERM): a frozen tandem would
	// not answer it.
	cut := false
	t.Cleanup(func() {
		if cut {
			nftIn(d2, "delete", "table", "inet", "hostdown")
		}
		p2.cmd.Process.Signal(syscall.SIGCONT)
	})
	l.waitFIB(t, []int{0, 1}, 20*time.Second)
	if bfd {
		took := waitBFDUp(t, l, 15*time.Second, l.DirAddr...)
		m, _, _ := l.RouterBird.bfdSessions()
		t.Logf("bgp-failover: BFD: router's sessions %v (Up %v after both directors were in the FIB)", m, took.Round(time.Millisecond))
	}
	fs := openFlows(t, l, 24)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Fatalf("flows broken before any failure: %v", b)
	}
	broken := 0
	var cycles []failoverCycle
	for c := range bgpFailoverCycles() {
		var r failoverCycle
		for _, s := range fs {
			s.mu.Lock()
			s.gap = 0
			s.mu.Unlock()
		}
		birdFrom := l.RouterBird.tail.Len()
		// The host fails: its tandem freezes and its network goes silent.
		t0 := time.Now()
		p2.cmd.Process.Signal(syscall.SIGSTOP)
		must(t, nftIn(d2, "-f", rules))
		cut = true
		l.waitFIB(t, []int{0}, bound)
		r.out = time.Since(t0)
		r.peer = l.routerPeers(t)["d2"]
		b := fs.settle(15 * time.Second)
		r.broken, broken = len(b)-broken, len(b)
		// A flow through d2 waits at least until the router moves it;
		// 250 ms (2.5 periods) is above the scheduling noise.
		stall := max(250*time.Millisecond, r.out/2)
		for _, s := range fs {
			s.mu.Lock()
			if len(s.errs) == 0 && s.gap > stall {
				r.stalled++
				r.maxGap = max(r.maxGap, s.gap)
			}
			s.mu.Unlock()
		}
		if r.broken > 0 {
			t.Logf("bgp-failover: %s cycle %d: broken flows: %v", name, c+1, b[len(b)-r.broken:])
		}
		t.Logf("bgp-failover: %s cycle %d: d2 host down (SIGSTOP + nft drop): router FIB without d2 after %v (router's d2 session then: %q); %d of %d flows stalled (longest %v), %d broken",
			name, c+1, r.out.Round(time.Millisecond), r.peer, r.stalled, len(fs), r.maxGap.Round(time.Millisecond), r.broken)
		// It heals: network back, tandem resumed or restarted.
		t1 := time.Now()
		if heal == healReboot {
			p2.cmd.Process.Signal(syscall.SIGKILL)
			<-p2.done
		}
		must(t, nftIn(d2, "delete", "table", "inet", "hostdown"))
		cut = false
		if heal == healReboot {
			t1 = time.Now()
			p2 = startTandem(t, d2, "run", "-c", cfg, "--node", "d2", "--log-level", "debug")
		} else {
			p2.cmd.Process.Signal(syscall.SIGCONT)
		}
		if !waitRouterFIB(t, l, []string{l.DirAddr[0], l.DirAddr[1]}, 20*time.Second) {
			// GoBGP 4.8's BFD can leave a hard reset queued for a session
			// that is already down; the next session carries it out the
			// moment it is established (osrg/gobgp#3561).
			stale := strings.Contains(l.RouterBird.tail.Since(birdFrom), `Administrative reset: "BFD is down"`)
			all, _ := l.RouterBird.birdcl("show", "protocols", "all", "d2")
			bs, _, _ := l.RouterBird.bfdSessions()
			t.Fatalf("bgp-failover: %s cycle %d: d2 not back in the router's FIB within 20s of the heal (FIB %v); d2 reset its fresh sessions with \"BFD is down\": %t (GoBGP 4.8 stale reset, osrg/gobgp#3561); router's BFD sessions %v\n%s",
				name, c+1, l.routerNexthops(t, l.vipPrefix()), stale, bs, all)
		}
		r.back = time.Since(t1)
		if bfd {
			waitBFDUp(t, l, 15*time.Second, l.DirAddr...)
		}
		b = fs.settle(10 * time.Second)
		r.broken += len(b) - broken
		broken = len(b)
		t.Logf("bgp-failover: %s cycle %d: healed (%s): d2 back in the router's FIB after %v; %d flows broken in the whole cycle",
			name, c+1, how, r.back.Round(time.Millisecond), r.broken)
		cycles = append(cycles, r)
		if r.broken > 0 {
			t.Errorf("bgp-failover: %s cycle %d: %d flows broken, want 0 (mh, sloppy_tcp and conn_sync carry d2's flows on d1)", name, c+1, r.broken)
		}
	}
	if len(cycles) > 1 {
		var out, back, gap, br, st []float64
		for _, r := range cycles {
			out = append(out, float64(r.out.Microseconds())/1000)
			back = append(back, float64(r.back.Microseconds())/1000)
			gap = append(gap, float64(r.maxGap.Microseconds())/1000)
			br = append(br, float64(r.broken))
			st = append(st, float64(r.stalled))
		}
		t.Logf("bgp-failover: %s, %d cycles, min/median/max: FIB without d2 ms %s; d2 back in FIB ms %s; longest stall ms %s; flows stalled (of %d) %s; flows broken %s",
			name, len(cycles), failoverMMM(out), failoverMMM(back), failoverMMM(gap), len(fs), failoverMMM(st), failoverMMM(br))
	}
}

// failoverMMM formats min / median / max.
func failoverMMM(xs []float64) string {
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("%.1f / %.1f / %.1f", s[0], s[len(s)/2], s[len(s)-1])
}

// TestBGPHostDown: a director host fails silently (tandem frozen, its
// network cut): the router's hold timer (3 s) takes it out of the ECMP
// route within the hold time and a margin, its flows move to d1 (mh,
// sloppy_tcp and the sync daemons keep them), and once healed (network
// back, tandem resumed) it comes back into the FIB.
func TestBGPHostDown(t *testing.T) {
	hostDown(t, false, 3*time.Second+3*time.Second, healResume)
}

// TestBGPBFD: the same failure with BFD on both sides (tandem's peer with
// bfd = true, 100 ms × 3; bird's protocol bfd and `bfd on`): the router
// takes d2 out of the FIB after BFD's detection time (~300 ms), well
// before the hold timer would. d2 heals by a reboot (a new tandem): see
// TestBGPBFDResume for a resume.
func TestBGPBFD(t *testing.T) {
	hostDown(t, true, 2*time.Second, healReboot)
}

// TestBGPBFDResume: with BFD, a director that hung (frozen, cut off) and
// then resumes must come back into the FIB. With GoBGP 4.8 it does not:
// on resume its BFD session expires and GoBGP queues a hard reset
// ("BFD is down") for a BGP session that is already gone; the next
// session is reset the moment it is established, bird drops and recreates
// its BFD session, GoBGP's BFD (still Up with bird's old discriminator)
// expires again while BGP is idle and queues the next reset: a loop
// (osrg/gobgp#3561, fixed in GoBGP 4.9.0).
func TestBGPBFDResume(t *testing.T) {
	hostDown(t, true, 2*time.Second, healResume)
}
