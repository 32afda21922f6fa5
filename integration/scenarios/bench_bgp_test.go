package scenarios

import (
	"context"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestBenchBGPFlows measures, over TANDEM_BENCH_BGP_RUNS runs (default 5) in
// one sitting, the share of long-lived flows that break when a director
// joins, leaves by drain-node or crashes (SIGKILL), for tandem's BGP mode
// (mh with mh-port and mh-fallback, sloppy_tcp, conn_sync), mh without
// conn_sync, and wrr without conn_sync (what plain ECMP rehashing does to
// a scheduler without consistent placement); the router's convergence;
// the spread of flows over directors and real servers; and what adding
// a real server moves. Run with TANDEM_LAB_BENCH=1 (tandem-lab bench
// -run TestBenchBGPFlows).
func TestBenchBGPFlows(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: tandem-lab bench -run TestBenchBGPFlows")
	}
	runs := 5
	if n, err := strconv.Atoi(os.Getenv("TANDEM_BENCH_BGP_RUNS")); err == nil && n > 0 {
		runs = n
	}
	const nflows = 60
	variants := []struct {
		name string
		o    bgpOpts
	}{
		{"mh+sync", bgpOpts{Directors: 3}},
		{"mh, no sync", bgpOpts{Directors: 3, NoSync: true}},
		{"wrr, no sync", bgpOpts{Directors: 3, Scheduler: "wrr", NoSync: true}},
	}
	type step struct{ broken, fib []float64 }
	res := map[string]map[string]*step{}
	for _, v := range variants {
		res[v.name] = map[string]*step{"join": {}, "drain": {}, "crash": {}}
		for r := range runs {
			t.Run(fmt.Sprintf("%s/%d", v.name, r), func(t *testing.T) {
				l := newBGPLab(t, bgpLabOpts{Directors: 3, Router: true, NoDirectorVIP: true})
				cfg := writeConfig(t, bgpConfig(l, v.o))
				p1 := startBGPTandem(t, l, 0, cfg)
				p2 := startBGPTandem(t, l, 1, cfg)
				_ = p1
				l.waitFIB(t, []int{0, 1}, 30*time.Second)
				fs := openFlows(t, l, nflows)
				if b := fs.settle(10 * time.Second); len(b) > 0 {
					t.Fatalf("flows broken before any change: %v", b)
				}
				if v.o.NoSync && r == 0 {
					bgpSpread(t, l, v.name, 2)
				}
				note := func(name string, before int, fib time.Duration) {
					b := len(fs.settle(10 * time.Second))
					s := res[v.name][name]
					s.broken = append(s.broken, float64(b-before)*100/nflows)
					s.fib = append(s.fib, float64(fib.Microseconds())/1000)
					t.Logf("bgp-bench: %s run %d %s: %d of %d flows broken, router converged in %s", v.name, r, name, b-before, nflows, fib.Round(time.Millisecond))
				}
				// Join: d3 starts; from its start to its nexthop in the FIB.
				t0 := time.Now()
				startBGPTandem(t, l, 2, cfg)
				l.waitFIB(t, []int{0, 1, 2}, 30*time.Second)
				note("join", 0, time.Since(t0))
				if v.o.NoSync && r == 0 {
					bgpSpread(t, l, v.name, 3)
				}
				before := len(fs.settle(time.Second))
				// Drain d1: from drain-node's start to d1 out of the FIB.
				t0 = time.Now()
				cmd := l.Dirs[0].Command(context.Background(), "/tandem", "drain-node")
				must(t, cmd.Start())
				l.waitFIB(t, []int{1, 2}, 10*time.Second)
				fib := time.Since(t0)
				must(t, cmd.Wait())
				note("drain", before, fib)
				if r == 0 {
					// No packet reaches d1 once it is out of the FIB. The
					// kernel sums its counters every 2 s: read them 2.5 s
					// apart, from 2.5 s after.
					time.Sleep(2500*time.Millisecond - time.Since(t0) + fib)
					_, in0, _ := ipvsStats(t, l.Dirs[0], l.VIPAddr())
					time.Sleep(2500 * time.Millisecond)
					if _, in1, _ := ipvsStats(t, l.Dirs[0], l.VIPAddr()); in1 != in0 {
						t.Errorf("d1 still receives packets after the drain: %d -> %d", in0, in1)
					} else {
						t.Logf("bgp-bench: %s: d1 received no packet from 2.5 s to 5 s after leaving the FIB", v.name)
					}
				}
				before = len(fs.settle(time.Second))
				// Crash d2.
				t0 = time.Now()
				p2.cmd.Process.Signal(syscall.SIGKILL)
				l.waitFIB(t, []int{2}, 10*time.Second)
				note("crash", before, time.Since(t0))
			})
		}
	}
	for _, v := range variants {
		for _, name := range []string{"join", "drain", "crash"} {
			s := res[v.name][name]
			t.Logf("bgp-bench: %-13s %-5s flows broken %% min/median/max %s; router converged ms %s (%d runs)",
				v.name, name, mmm(s.broken), mmm(s.fib), len(s.broken))
		}
	}
	rsAdded(t)
	rsFailing(t)
}

// rsFailing: two directors in BGP mode; rs2's health port closes, so its
// check fails and both directors drain it (weight 0, mh-fallback). It
// logs where 400 new flows (fixed source ports) go before and after, and
// the long-lived flows broken (rs2 itself still serves its own).
func rsFailing(t *testing.T) {
	t.Run("rs-failing", func(t *testing.T) {
		l := newBGPLab(t, bgpLabOpts{Directors: 2, Router: true, NoDirectorVIP: true})
		health := make([]net.Listener, len(l.RS))
		for i, rs := range l.RS {
			health[i] = healthPort(t, rs)
		}
		cfg := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2, CheckPort: 9001}))
		fs, ports, m1 := pairWithFlows(t, l, cfg, 40000)
		health[1].Close()
		for i := range 2 {
			deadline := time.Now().Add(10 * time.Second)
			for !regexp.MustCompile(regexp.QuoteMeta(l.rsAddr(2)) + `\s+Route\s+0\s`).MatchString(ipvsadm(t, l.Dirs[i], "-Ln")) {
				if time.Now().After(deadline) {
					t.Fatalf("rs2 not drained on d%d:\n%s", i+1, ipvsadm(t, l.Dirs[i], "-Ln"))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		m2, errs2 := dialFlows(l.Client, l.ClientAddr, l.VIPAddr(), ports)
		moved, fromFailed, toFailed := 0, 0, 0
		for p, a := range m1 {
			b, ok := m2[p]
			if !ok || b == a {
				continue
			}
			moved++
			if a == "rs2" {
				fromFailed++
			}
			if b == "rs2" {
				toFailed++
			}
		}
		broken := fs.settle(10 * time.Second)
		t.Logf("bgp-bench: rs2 failing (drained, mh-fallback): %d of %d new flows moved (%.1f %%), %d of them rs2's, %d to rs2; %d dials failed; %d of 60 long-lived flows broken",
			moved, len(m1), float64(moved)*100/float64(len(m1)), fromFailed, toFailed, len(errs2), len(broken))
	})
}

// mmm formats min/median/max.
func mmm(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return fmt.Sprintf("%.1f / %.1f / %.1f", s[0], s[len(s)/2], s[len(s)-1])
}

// bgpSpread opens 300 short flows from fixed source ports and logs how many
// each of the first n directors and each real server got (labs without
// conn_sync: a director's entries are its own flows).
func bgpSpread(t *testing.T, l *bgpLab, variant string, n int) {
	t.Helper()
	base := 20000 + 1000*n
	ports := make([]int, 300)
	for i := range ports {
		ports[i] = base + i
	}
	before := l.onDirectors(t, n)
	got, errs := dialFlows(l.Client, l.ClientAddr, l.VIPAddr(), ports)
	after := l.onDirectors(t, n)
	per := make([]int, n)
	for i := range per {
		per[i] = after[i] - before[i]
	}
	rs := map[string]int{}
	for _, name := range got {
		rs[name]++
	}
	t.Logf("bgp-bench: spread %s, %d directors: flows per director %v (max/min %.2f); per real server %v; %d failed",
		variant, n, per, float64(slices.Max(per))/float64(max(1, slices.Min(per))), rs, len(errs))
}

// rsAdded: two directors in BGP mode with rs1..rs3; rs4 is added by a
// reload on both. It logs the share of 400 new flows (fixed source ports)
// that land on another real server than before, where they went, and the
// long-lived flows broken.
func rsAdded(t *testing.T) {
	t.Run("rs-added", func(t *testing.T) {
		l := newBGPLab(t, bgpLabOpts{Directors: 2, Router: true, NoDirectorVIP: true})
		cfg := writeConfig(t, bgpConfig(l, bgpOpts{Directors: 2, RS: []int{1, 2, 3}}))
		fs, ports, m1 := pairWithFlows(t, l, cfg, 30000)
		must(t, os.WriteFile(cfg, []byte(bgpConfig(l, bgpOpts{Directors: 2})), 0o644))
		for i := range 2 {
			out, err := l.Dirs[i].Command(context.Background(), "/tandem", "reload").CombinedOutput()
			if err != nil {
				t.Fatalf("reload d%d: %v: %s", i+1, err, out)
			}
		}
		// rs4 is in at weight 0 until its first check (rise 1) says up.
		for i := range 2 {
			deadline := time.Now().Add(10 * time.Second)
			for !regexp.MustCompile(regexp.QuoteMeta(l.rsAddr(4)) + `\s+Route\s+1\s`).MatchString(ipvsadm(t, l.Dirs[i], "-Ln")) {
				if time.Now().After(deadline) {
					t.Fatalf("rs4 not in d%d's table at weight 1:\n%s", i+1, ipvsadm(t, l.Dirs[i], "-Ln"))
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		time.Sleep(time.Second)
		m2, errs := dialFlows(l.Client, l.ClientAddr, l.VIPAddr(), ports)
		moved, toNew := 0, 0
		for p, a := range m1 {
			if b, ok := m2[p]; ok && b != a {
				moved++
				if b == "rs4" {
					toNew++
				}
			}
		}
		broken := fs.settle(10 * time.Second)
		t.Logf("bgp-bench: rs4 added to rs1..rs3 by a reload: %d of %d new flows moved (%.1f %%, ideal 25 %%), %d of them to rs4; %d of 60 long-lived flows broken; %d dials failed",
			moved, len(m1), float64(moved)*100/float64(len(m1)), toNew, len(broken), len(errs))
		t.Logf("bgp-bench: ipvsadm on d1 after the reload:\n%s", strings.TrimSpace(ipvsadm(t, l.Dirs[0], "-Ln")))
	})
}

// pairWithFlows starts tandem with cfg on l's two directors, opens 60
// long-lived flows, and dials 400 short ones from source ports base...;
// it returns the long-lived flows, the ports and where each port's flow
// went.
func pairWithFlows(t *testing.T, l *bgpLab, cfg string, base int) (flows, []int, map[int]string) {
	t.Helper()
	startBGPTandem(t, l, 0, cfg)
	startBGPTandem(t, l, 1, cfg)
	l.waitFIB(t, []int{0, 1}, 30*time.Second)
	fs := openFlows(t, l, 60)
	if b := fs.settle(10 * time.Second); len(b) > 0 {
		t.Fatalf("flows broken before any change: %v", b)
	}
	ports := make([]int, 400)
	for i := range ports {
		ports[i] = base + i
	}
	m, errs := dialFlows(l.Client, l.ClientAddr, l.VIPAddr(), ports)
	if len(errs) > 0 {
		t.Fatalf("flows failed before: %v", errs[:min(3, len(errs))])
	}
	return fs, ports, m
}
