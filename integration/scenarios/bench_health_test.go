package scenarios

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
	"github.com/tandem-lb/tandem/ipvs"
)

// benchNet is the health benchmark's network: one real-server namespace
// that owns 10.200.0.0/16 (a local route: a wildcard listener answers on
// every address of it), and two directors on a switch, one for tandem and
// one for keepalived, each routing 10.200.0.0/16 to the server.
//
//	srv 10.9.0.2 ── sw(br0) ── dirT 10.9.0.3 (tandem)
//	                        └─ dirK 10.9.0.4 (keepalived -C)
type benchNet struct {
	srv, dirT, dirK, sw *netlab.NS
}

func newBenchNet(t *testing.T, prefix string) *benchNet {
	t.Helper()
	sw := newNS(t, prefix+"-sw")
	must(t, sw.Bridge("br0"))
	b := &benchNet{srv: newNS(t, prefix+"-srv"), dirT: newNS(t, prefix+"-dirT"), dirK: newNS(t, prefix+"-dirK"), sw: sw}
	for i, ns := range []*netlab.NS{b.srv, b.dirT, b.dirK} {
		port := fmt.Sprintf("p%d", i)
		must(t, netlab.Veth(ns, "eth0", sw, port))
		must(t, sw.Enslave(port, "br0"))
		must(t, ns.Addr("eth0", fmt.Sprintf("10.9.0.%d/24", i+2)))
	}
	must(t, b.dirT.DefaultRoute("10.9.0.2"))
	must(t, b.dirK.DefaultRoute("10.9.0.2"))
	lo, err := b.srv.Netlink().LinkByName("lo")
	must(t, err)
	must(t, b.srv.Netlink().RouteAdd(&netlink.Route{
		LinkIndex: lo.Attrs().Index,
		Dst:       &net.IPNet{IP: net.IPv4(10, 200, 0, 0).To4(), Mask: net.CIDRMask(16, 32)},
		Type:      unix.RTN_LOCAL,
		Table:     unix.RT_TABLE_LOCAL,
		Scope:     netlink.SCOPE_HOST,
	}))
	return b
}

// splitCPUs makes the VM's two vCPUs model two machines: the director's
// namespace receives on CPU 0, where the checker runs (see pin), while the
// switch and the real server namespace receive on CPU 1, where the server
// runs. Over veth a packet is otherwise processed inline by its sender
// (RPS steers it to the other CPU's backlog instead), so the checker would
// pay for the switch's and the real server's kernel work as well.
func (b *benchNet) splitCPUs(t *testing.T) {
	t.Helper()
	must(t, b.srv.WriteSysfs("class/net/eth0/queues/rx-0/rps_cpus", "2"))
	for i := range 3 {
		must(t, b.sw.WriteSysfs(fmt.Sprintf("class/net/p%d/queues/rx-0/rps_cpus", i), "2"))
	}
	must(t, b.dirT.WriteSysfs("class/net/eth0/queues/rx-0/rps_cpus", "1"))
	must(t, b.dirK.WriteSysfs("class/net/eth0/queues/rx-0/rps_cpus", "1"))
}

// pin binds every thread of the processes to cpu (threads they create
// later inherit it).
func pin(pids []int, cpu int) {
	var set unix.CPUSet
	set.Set(cpu)
	for _, p := range pids {
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, e := range tasks {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				_ = unix.SchedSetaffinity(tid, &set)
			}
		}
	}
}

// onCPU runs start (which starts a process) on a thread bound to cpu, so
// that the process starts bound to it: a Go program then sizes GOMAXPROCS
// to the one CPU, as on a one-CPU machine.
func onCPU(cpu int, start func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var old, set unix.CPUSet
	_ = unix.SchedGetaffinity(0, &old)
	set.Set(cpu)
	_ = unix.SchedSetaffinity(0, &set)
	defer unix.SchedSetaffinity(0, &old)
	start()
}

// cpuBusy returns the busy clock ticks (all but idle and iowait) of each
// CPU from /proc/stat.
func cpuBusy() []int64 {
	b, _ := os.ReadFile("/proc/stat")
	var out []int64
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var n int64
		for i, x := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			v, _ := strconv.ParseInt(x, 10, 64)
			n += v
		}
		out = append(out, n)
	}
	return out
}

// startKeepalived runs keepalived's checker alone (-C) in ns with config
// cfg, logs discarded, and stops it at the end of the test.
func startKeepalived(t *testing.T, ns *netlab.NS, cfg string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "keepalived.conf")
	must(t, os.WriteFile(f, []byte(cfg), 0o644))
	cmd := ns.Command(context.Background(), "/usr/sbin/keepalived", "-C", "-n", "-f", f,
		"-p", filepath.Join(dir, "k.pid"), "-c", filepath.Join(dir, "kc.pid"))
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(unix.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd
}

// procTree returns pid and its descendants (keepalived -C is a parent and
// its checker child).
func procTree(pid int) []int {
	out := []int{pid}
	ents, _ := os.ReadDir("/proc")
	parents := map[int]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		pp, _ := strconv.Atoi(f[1])
		parents[p] = pp
	}
	for changed := true; changed; {
		changed = false
		for p, pp := range parents {
			if slices.Contains(out, pp) && !slices.Contains(out, p) {
				out = append(out, p)
				changed = true
			}
		}
	}
	return out
}

// cpuTicks returns the user+system clock ticks of the processes.
func cpuTicks(pids []int) int {
	u, s := cpuSplit(pids)
	return u + s
}

// cpuSplit returns the summed utime and stime of the processes, in clock
// ticks.
func cpuSplit(pids []int) (user, sys int) {
	for _, p := range pids {
		if _, u, st, ok := statTimes(fmt.Sprintf("/proc/%d/stat", p)); ok {
			user += u
			sys += st
		}
	}
	return user, sys
}

// statTimes reads a process's or thread's stat file: its name, utime and
// stime in clock ticks.
func statTimes(path string) (name string, user, sys int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	user, _ = strconv.Atoi(f[11])
	sys, _ = strconv.Atoi(f[12])
	return s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')], user, sys, true
}

// threadStat is one thread's CPU (utime + stime, in clock ticks) and its
// context switches (voluntary + not).
type threadStat struct {
	name       string
	user, sys  int
	volCS, inv int
}

// threadStats reads every thread of the processes, by thread ID.
func threadStats(pids []int) map[int]threadStat {
	out := map[int]threadStat{}
	for _, p := range pids {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			var st threadStat
			var ok bool
			if st.name, st.user, st.sys, ok = statTimes(fmt.Sprintf("/proc/%d/task/%d/stat", p, tid)); !ok {
				continue
			}
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", p, tid)); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(l, "voluntary_ctxt_switches:"); ok {
						st.volCS, _ = strconv.Atoi(strings.TrimSpace(v))
					} else if v, ok := strings.CutPrefix(l, "nonvoluntary_ctxt_switches:"); ok {
						st.inv, _ = strconv.Atoi(strings.TrimSpace(v))
					}
				}
			}
			out[tid] = st
		}
	}
	return out
}

// threadReport prints, for the threads that ran in the window, their
// share of a CPU (user + sys) and context switches a second, busiest
// first.
func threadReport(name string, before, after map[int]threadStat, secs float64) {
	type row struct {
		tid int
		d   threadStat
	}
	var rows []row
	for tid, a := range after {
		b := before[tid]
		d := threadStat{name: a.name, user: a.user - b.user, sys: a.sys - b.sys, volCS: a.volCS - b.volCS, inv: a.inv - b.inv}
		if d.user+d.sys+d.volCS+d.inv > 0 {
			rows = append(rows, row{tid, d})
		}
	}
	slices.SortFunc(rows, func(x, y row) int { return (y.d.user + y.d.sys) - (x.d.user + x.d.sys) })
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, " [%d: %.1f+%.1f %%, %.0f+%.0f cs/s]", r.tid, float64(r.d.user)/secs, float64(r.d.sys)/secs, float64(r.d.volCS)/secs, float64(r.d.inv)/secs)
	}
	fmt.Printf("BENCH   (%s threads, user+sys %% and voluntary+involuntary switches a second:%s)\n", name, b.String())
}

// rssKB returns the summed VmRSS of the processes.
func rssKB(pids []int) int { return statusKB(pids, "VmRSS:") }

// hwmKB returns the summed VmHWM of the processes: each one's peak RSS
// since it started (start-up included).
func hwmKB(pids []int) int { return statusKB(pids, "VmHWM:") }

// statusKB returns the sum of a /proc/PID/status field in kB.
func statusKB(pids []int, field string) int {
	n := 0
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, field) {
				v, _ := strconv.Atoi(strings.Fields(l)[1])
				n += v
			}
		}
	}
	return n
}

// TestBenchHealthDetect measures, side by side on the same real servers,
// how long after a real server dies (its listener closed at a random
// phase of the 1 s check timer) tandem and keepalived remove it from their
// IPVS tables, at equal settings: keepalived's `delay_loop 1, retry 0`
// (one failed check removes the server) and tandem's interval 1s, timeout
// 1s, fall 1, rise 1: bound fall×interval+timeout = 2 s. Before
// 2026-12-03 keepalived ran with `retry 1, delay_before_retry 1`, which
// needs two failed checks a second apart: not the same setting as fall 1.
// Run with TANDEM_LAB_BENCH=1 (tandem-lab bench).
func TestBenchHealthDetect(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const runs = 8
	b := newBenchNet(t, "bhd")
	alive, err := b.srv.Listen("tcp", "10.200.0.1:8080")
	must(t, err)
	defer alive.Close()
	go acceptAndClose(alive)
	victim := "10.200.0.2:8081"
	cfg := `
director { static_vips = ["203.0.113.10"] }
node "director" {}
virtual_server "b" {
  address   = "203.0.113.10:80"
  scheduler = "rr"
  check "tcp" {
    interval = "1s"
    timeout  = "1s"
    rise     = 1
    fall     = 1
  }
  real_server "a" { address = "10.200.0.1:8080" }
  real_server "b" { address = "10.200.0.2:8081" }
}
`
	kcfg := `
virtual_server 203.0.113.10 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.200.0.1 8080 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
  real_server 10.200.0.2 8081 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
`
	var ln net.Listener
	listen := func() {
		ln, err = b.srv.Listen("tcp", victim)
		must(t, err)
		go acceptAndClose(ln)
	}
	listen()
	p := startTandem(t, b.dirT, "run", "-c", writeConfig(t, cfg), "--node", "director")
	startKeepalived(t, b.dirK, kcfg)
	wT, wK := watchTable(t, b.dirT), watchTable(t, b.dirK)
	key := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	has := func(w *tableWatch) bool { return strings.Contains(w.dests(key), victim) }
	var tandemT, keepT samples
	rng := rand.New(rand.NewPCG(1, 2))
	for r := 0; r < runs; r++ {
		deadline := time.Now().Add(10 * time.Second)
		for !has(wT) || !has(wK) {
			if time.Now().After(deadline) {
				t.Fatalf("run %d: the victim is not in both tables: tandem %q, keepalived %q", r, wT.dests(key), wK.dests(key))
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
		ln.Close()
		killed := time.Now()
		var dT, dK time.Duration
		for dT == 0 || dK == 0 {
			if time.Since(killed) > 10*time.Second {
				t.Fatalf("run %d: not removed within 10 s (tandem %v, keepalived %v)", r, dT, dK)
			}
			if dT == 0 && !has(wT) {
				dT = time.Since(killed)
			}
			if dK == 0 && !has(wK) {
				dK = time.Since(killed)
			}
			time.Sleep(2 * time.Millisecond)
		}
		tandemT, keepT = append(tandemT, dT), append(keepT, dK)
		listen()
	}
	ln.Close()
	var v2n samples
	rx := regexp.MustCompile(`msg="ipvs updated" reason=health .*since_verdict=([0-9.]+[µm]?s)`)
	for _, l := range p.tail.Lines() {
		if m := rx.FindStringSubmatch(l); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				v2n = append(v2n, d)
			}
		}
	}
	fmt.Printf("BENCH health detection: listener closed at a random phase of a 1 s check timer, %d runs, in the lab VM\n", runs)
	fmt.Printf("BENCH   bound fall×interval+timeout = 2000 ms (tandem: interval 1s, timeout 1s, fall 1; keepalived: delay_loop 1, retry 0)\n")
	fmt.Printf("BENCH   tandem     death -> out of the table: %v\n", tandemT)
	fmt.Printf("BENCH   keepalived death -> out of the table: %v\n", keepT)
	if len(v2n) > 0 {
		fmt.Printf("BENCH   tandem verdict -> netlink done (%d updates): %v\n", len(v2n), v2n)
	}
}

// acceptAndClose accepts connections and closes them at once.
func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// TestBenchHealthScale runs 1 000 virtual services × 10 real servers =
// 10 000 checks (tcp, tcp half-open, http, then http reusing its
// connection) at a 10 s and a 1 s interval against one server answering on
// all their addresses: tandem, then keepalived -C with the same table
// (keepalived has no half-open check, and no keep-alive: its http-reuse
// run is its HTTP_GET, a connection per probe, against the keep-alive
// server). It reports each checker's CPU (user and system) and RSS over
// 30 s once every real server is in the table (the checker's processes
// only, from /proc), how evenly the checks arrive at the server, and how
// many real servers each checker has in its table (all of them when the
// server keeps up). Run with TANDEM_LAB_BENCH=1 (tandem-lab bench).
//
// TANDEM_BENCH_KINDS (comma-separated, of tcp, tcp-half, http and
// http-reuse; default all four) and TANDEM_BENCH_INTERVALS
// (comma-separated seconds; default 10,1) select a subset, run in the
// order given; each run is also a subtest named <kind>-<interval>s.
// TANDEM_BENCH_TANDEM_ONLY=1 skips keepalived (to compare tandem builds);
// TANDEM_BENCH_TOGETHER=1 runs tandem and keepalived at once, measured
// over the same window (see benchTogether; not for tcp-half).
// TANDEM_BENCH_AB=1 runs, the same way, this build beside another
// (/tandem-alt, which tandem-lab bench puts in the VM from the host path
// in TANDEM_BENCH_ALT) instead of keepalived: a comparison of two builds
// that the VM's drift between runs does not blur; with
// TANDEM_BENCH_ALT_NOTABLE=1 the other program is not a checker and its
// IPVS table is not waited for (integration/cmd/benchfloor).
// TANDEM_BENCH_TANDEM_ENV="K=V ..." sets variables for this build's
// tandem only (say GODEBUG=...).
// TANDEM_BENCH_KEEPALIVE_REQUESTS=<n> sets keepalive_requests in the
// http-reuse checks (default 10). TANDEM_BENCH_CPUPROFILE=<delay> prints tandem's CPU profile of each run
// from that long after its start (22s: about the measured window), and
// TANDEM_BENCH_MEMPROFILE=<delay> its heap profile and memory statistics
// at that point.
func TestBenchHealthScale(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	kinds := envList("TANDEM_BENCH_KINDS", "tcp,tcp-half,http,http-reuse")
	for _, k := range kinds {
		if _, ok := benchKinds[k]; !ok {
			t.Fatalf("TANDEM_BENCH_KINDS: unknown kind %q (want tcp, tcp-half, http or http-reuse)", k)
		}
	}
	var intervals []int
	for _, s := range envList("TANDEM_BENCH_INTERVALS", "10,1") {
		iv, err := strconv.Atoi(s)
		if err != nil || iv <= 0 {
			t.Fatalf("TANDEM_BENCH_INTERVALS: %q is not a whole number of seconds", s)
		}
		intervals = append(intervals, iv)
	}
	if len(kinds) == 0 || len(intervals) == 0 {
		t.Fatal("TANDEM_BENCH_KINDS or TANDEM_BENCH_INTERVALS selects nothing")
	}
	for _, iv := range intervals {
		for _, kind := range kinds {
			t.Run(fmt.Sprintf("%s-%ds", kind, iv), func(t *testing.T) { benchHealthScale(t, kind, iv) })
		}
	}
}

// benchKinds are the scale benchmark's kinds of check: the prefix of
// their namespaces, the bench server's mode, and what the server counts.
var benchKinds = map[string]struct{ prefix, mode, counts string }{
	"tcp":        {"t", "tcp", "connections"},
	"tcp-half":   {"h", "tcp-half", "probes"},
	"http":       {"w", "http", "connections"},
	"http-reuse": {"k", "http-keep", "requests"},
}

// envList splits the comma-separated value of the environment variable
// name, or def when it is unset or empty.
func envList(name, def string) []string {
	v := os.Getenv(name)
	if strings.TrimSpace(v) == "" {
		v = def
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// benchHealthScale runs the scale benchmark with kind checks every
// interval seconds. Under qemu TCG the lab VM's two vCPUs carry about
// 2 000 connections a second (checker, kernel and server together), so the
// 1 s runs overload it; the 10 s runs (1 000 probes a second) do not.
// tandem's http-reuse probes are requests on kept connections (10 000 of
// them, idle between probes), not new connections.
func benchHealthScale(t *testing.T, kind string, interval int) {
	const (
		nsvc, ndst = 1000, 10
		// One resync period of tandem's: its periodic work at its average.
		window = 30 * time.Second
		// From when the table is complete (every real server entered on
		// its first success) until the verdicts have all been applied.
		settle = 3 * time.Second
	)
	bk := benchKinds[kind]
	b := newBenchNet(t, "bhs"+bk.prefix)
	mode := bk.mode
	if kind == "http" && os.Getenv("TANDEM_BENCH_TOGETHER") == "1" {
		// Two checkers' new connections a second overwhelm the
		// blocking server's threads; the epoll one keeps up.
		mode = "http-keep"
	}
	srv := startBenchServer(t, b.srv, "0.0.0.0:9000", mode)
	b.splitCPUs(t)
	pin(procTree(os.Getpid()), 1) // the harness, off the director's CPU
	pin([]int{srv.pid}, 1)
	for _, ns := range []*netlab.NS{b.dirT, b.dirK} {
		must(t, ns.Sysctl("net/ipv4/ip_local_port_range", "1024 65535"))
	}

	rsAddr := func(i, j int) netip.Addr {
		n := uint32(i*ndst + j + 1)
		return netip.AddrFrom4([4]byte{10, 200, byte(n >> 8), byte(n)})
	}
	tcheck := "  check \"tcp\" {\n    interval = \"" + strconv.Itoa(interval) + "s\"\n    timeout = \"1s\"\n    rise = 1\n    fall = 1\n  }\n"
	kcheck := "    TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }\n"
	if kind == "tcp-half" {
		// keepalived has no half-open check: it runs its TCP_CHECK.
		tcheck = "  check \"tcp\" {\n    half_open = true\n    interval = \"" + strconv.Itoa(interval) + "s\"\n    timeout = \"1s\"\n    rise = 1\n    fall = 1\n  }\n"
	}
	if kind == "http" || kind == "http-reuse" {
		reuse := ""
		if kind == "http-reuse" {
			// keepalived has no keep-alive: it runs its HTTP_GET, whose
			// HTTP/1.0 requests the http-keep server answers and closes.
			reuse = "    reuse_connection = true\n"
			if n := os.Getenv("TANDEM_BENCH_KEEPALIVE_REQUESTS"); n != "" {
				reuse += "    keepalive_requests = " + n + "\n"
				fmt.Printf("BENCH   (tandem: keepalive_requests = %s)\n", n)
			}
		}
		tcheck = "  check \"http\" {\n    path = \"/\"\n" + reuse + "    interval = \"" + strconv.Itoa(interval) + "s\"\n    timeout = \"1s\"\n    rise = 1\n    fall = 1\n  }\n"
		kcheck = "    HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }\n"
	}
	var hcl, kcfg strings.Builder
	hcl.WriteString("director { static_vips = [\n" + vips(nsvc) + "] }\nnode \"director\" {}\n")
	for i := 0; i < nsvc; i++ {
		v := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)})
		fmt.Fprintf(&hcl, "virtual_server \"s%d\" {\n  address = \"%s:80\"\n  scheduler = \"wrr\"\n%s", i, v, tcheck)
		fmt.Fprintf(&kcfg, "virtual_server %s 80 {\n  delay_loop %d\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n", v, interval)
		for j := 0; j < ndst; j++ {
			fmt.Fprintf(&hcl, "  real_server \"r%d\" { address = \"%s:9000\" }\n", j, rsAddr(i, j))
			fmt.Fprintf(&kcfg, "  real_server %s 9000 {\n    weight 1\n%s  }\n", rsAddr(i, j), kcheck)
		}
		hcl.WriteString("}\n")
		kcfg.WriteString("}\n")
	}

	measure := func(name string, ns *netlab.NS, pids func() []int) {
		pin(pids(), 0)
		// Settled: every real server is in the table (each entered on
		// its first success), and then some.
		w := watchTable(t, ns)
		settleAt := time.Now()
		for time.Since(settleAt) < 2*time.Minute {
			time.Sleep(time.Second)
			tb, err := w.rec.Dump(context.Background())
			must(t, err)
			n := 0
			for _, s := range tb {
				n += len(s.Destinations)
			}
			if n == nsvc*ndst {
				break
			}
		}
		fmt.Printf("BENCH   (%s: all real servers in the table after %v)\n", name, time.Since(settleAt).Round(time.Second))
		time.Sleep(settle)
		ps := pids()
		pin(ps, 0)
		busy0 := cpuBusy()
		u0, s0 := cpuSplit(ps)
		before := u0 + s0
		srvPids := procTree(srv.pid)
		srvBefore := cpuTicks(srvPids)
		vm0, nc0, ns0 := vmCPU(), netCounters(ps[0]), netCounters(srv.pid)
		start := time.Now()
		// RSS once a second over the window: one reading falls anywhere
		// between two collections of a garbage-collected heap.
		var rssW []int // kB
		for time.Since(start) < window {
			time.Sleep(time.Second)
			rssW = append(rssW, rssKB(ps))
		}
		ps = pids()
		u1, s1 := cpuSplit(ps)
		cpu := float64(u1+s1-before) / 100 / window.Seconds() * 100
		fmt.Printf("BENCH   (%s: user %.1f %%, sys %.1f %% of one CPU)\n", name,
			float64(u1-u0)/window.Seconds(), float64(s1-s0)/window.Seconds())
		srvCPU := float64(cpuTicks(srvPids)-srvBefore) / 100 / window.Seconds() * 100
		busy1 := cpuBusy()
		fmt.Printf("BENCH   (%s: the director's CPU 0 busy %.1f %%, the server's and switch's CPU 1 busy %.1f %%)\n", name,
			float64(busy1[0]-busy0[0])/window.Seconds(), float64(busy1[1]-busy0[1])/window.Seconds())
		fmt.Printf("BENCH   (%s: VM %s; server CPU %.1f %%; checker ns: %s; server ns: %s)\n", name,
			vmCPUDiff(vm0, vmCPU(), window.Seconds()), srvCPU, diffCounters(nc0, netCounters(ps[0])), diffCounters(ns0, netCounters(srv.pid)))
		rss, hwm := rssKB(ps), hwmKB(ps)
		anon, file := statusKB(ps, "RssAnon:"), statusKB(ps, "RssFile:")
		time.Sleep(300 * time.Millisecond) // the server reports each 100 ms once it is over
		sum, total := spread(srv.window(start, window))
		tb, err := watchTable(t, ns).rec.Dump(context.Background())
		must(t, err)
		n := 0
		for _, s := range tb {
			n += len(s.Destinations)
		}
		fmt.Printf("BENCH   %-10s CPU %.1f %% of one CPU, RSS %.1f MB; server: %d %s in %v (%.0f %% of %d), %s; table: %d services, %d/%d real servers\n",
			name, cpu, float64(rss)/1024, total, bk.counts, window, float64(total)*100/float64(nsvc*ndst*int(window/time.Second)/interval), nsvc*ndst*int(window/time.Second)/interval, sum,
			len(tb), n, nsvc*ndst)
		fmt.Printf("BENCH   %-10s RSS peak since its start (VmHWM, summed over its processes) %.1f MB; RSS now %.1f MB (anonymous %.1f, file-backed: the binary and libraries %.1f)\n",
			name, float64(hwm)/1024, float64(rss)/1024, float64(anon)/1024, float64(file)/1024)
		if len(rssW) > 0 {
			sum := 0
			for _, v := range rssW {
				sum += v
			}
			fmt.Printf("BENCH   %-10s RSS over the window, %d readings a second apart: min %.1f / mean %.1f / max %.1f MB\n",
				name, len(rssW), float64(slices.Min(rssW))/1024, float64(sum)/float64(len(rssW))/1024, float64(slices.Max(rssW))/1024)
		}
	}
	fmt.Printf("BENCH health scale (%s, %d s): %d services x %d real servers = %d %s checks every %d s, one server on all addresses, %v window from %v after the table is complete\n",
		kind, interval, nsvc, ndst, nsvc*ndst, kind, interval, window, settle)

	cfg := writeConfig(t, hcl.String())
	if os.Getenv("TANDEM_BENCH_AB") == "1" {
		benchTogether(t, b, srv, cfg, "", nsvc*ndst, interval, window, settle)
		return
	}
	if os.Getenv("TANDEM_BENCH_TOGETHER") == "1" && kind != "tcp-half" {
		benchTogether(t, b, srv, cfg, kcfg.String(), nsvc*ndst, interval, window, settle)
		return
	}
	prof := ""
	if v := os.Getenv("TANDEM_BENCH_CPUPROFILE"); v != "" {
		// tandem's CPU profile, from v (a delay: 0s for the whole run)
		// until it stops, printed base64 after: decode the lines
		// between the markers, go tool pprof.
		prof = filepath.Join(t.TempDir(), "tandem.prof")
		t.Setenv("TANDEM_CPUPROFILE", prof)
		t.Setenv("TANDEM_CPUPROFILE_DELAY", v)
	}
	mprof := ""
	if v := os.Getenv("TANDEM_BENCH_MEMPROFILE"); v != "" {
		// Its heap profile and memory statistics, v after its start.
		mprof = filepath.Join(t.TempDir(), "tandem.mprof")
		t.Setenv("TANDEM_MEMPROFILE", mprof)
		t.Setenv("TANDEM_MEMPROFILE_DELAY", v)
	}
	var p *tandemProc
	onCPU(0, func() { p = startTandem(t, b.dirT, "run", "-c", cfg, "--node", "director", "--log-level", "warn") })
	measure("tandem", b.dirT, func() []int { return []int{p.cmd.Process.Pid} })
	stopAt := time.Now()
	if err := p.stop(); err != nil {
		fmt.Printf("BENCH   tandem stop: %v\n", err)
	}
	fmt.Printf("BENCH   tandem stopped in %v\n", time.Since(stopAt).Round(time.Millisecond))
	if prof != "" {
		b, err := os.ReadFile(prof)
		must(t, err)
		fmt.Printf("PROFILE-BEGIN %s-%ds\n%s\nPROFILE-END\n", kind, interval, base64.StdEncoding.EncodeToString(b))
	}
	if mprof != "" {
		for _, l := range p.tail.Lines() {
			if strings.Contains(l, "memory") {
				fmt.Println("BENCH   (tandem:", l+")")
			}
		}
		if b, err := os.ReadFile(mprof); err == nil {
			fmt.Printf("MEMPROFILE-BEGIN %s-%ds\n%s\nMEMPROFILE-END\n", kind, interval, base64.StdEncoding.EncodeToString(b))
		}
	}

	if kind == "tcp-half" {
		return // keepalived has no half-open check: its TCP_CHECK is the tcp run's
	}
	if os.Getenv("TANDEM_BENCH_TANDEM_ONLY") == "1" {
		return // tandem alone, to compare its own builds
	}
	var k *exec.Cmd
	onCPU(0, func() { k = startKeepalived(t, b.dirK, kcfg.String()) })
	measure("keepalived", b.dirK, func() []int { return procTree(k.Process.Pid) })
}

// vips lists the bench services' VIPs for static_vips.
func vips(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  \"%s\",\n", netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}))
	}
	return b.String()
}

// benchTogether runs tandem and keepalived at the same time, both bound
// to CPU 0 with their namespaces receiving there, and measures both over
// the same window: the lab VM's speed drifts between runs (the same
// build's CPU moves by a third), and a ratio taken in one window is
// immune to it. Each checker's CPU is its processes' utime and stime; the
// server answers both (twice the probes). With kcfg "", the second
// checker is /tandem-alt on the same cluster file (TANDEM_BENCH_AB).
func benchTogether(t *testing.T, b *benchNet, srv *benchServerProc, cfg, kcfg string, checks, interval int, window, settle time.Duration) {
	var p, alt *tandemProc
	var k *exec.Cmd
	second := "keepalived"
	onCPU(0, func() { p = startTandem(t, b.dirT, "run", "-c", cfg, "--node", "director", "--log-level", "warn") })
	kpids := func() []int { return procTree(k.Process.Pid) }
	if kcfg == "" {
		second = "tandem-alt"
		onCPU(0, func() {
			alt = startTandemBin(t, b.dirK, "/tandem-alt", "run", "-c", cfg, "--node", "director", "--log-level", "warn")
		})
		kpids = func() []int { return []int{alt.cmd.Process.Pid} }
	} else {
		onCPU(0, func() { k = startKeepalived(t, b.dirK, kcfg) })
	}
	tpids := func() []int { return []int{p.cmd.Process.Pid} }
	wT, wK := watchTable(t, b.dirT), watchTable(t, b.dirK)
	count := func(w *tableWatch) int {
		tb, err := w.rec.Dump(context.Background())
		must(t, err)
		n := 0
		for _, s := range tb {
			n += len(s.Destinations)
		}
		return n
	}
	start := time.Now()
	noTable := os.Getenv("TANDEM_BENCH_ALT_NOTABLE") == "1"
	for time.Since(start) < 2*time.Minute && (count(wT) < checks || (!noTable && count(wK) < checks)) {
		pin(append(tpids(), kpids()...), 0)
		time.Sleep(time.Second)
	}
	fmt.Printf("BENCH   (together: both tables complete after %v)\n", time.Since(start).Round(time.Second))
	time.Sleep(settle)
	pin(append(tpids(), kpids()...), 0)
	tu0, ts0 := cpuSplit(tpids())
	ku0, ks0 := cpuSplit(kpids())
	tth0, kth0 := threadStats(tpids()), threadStats(kpids())
	busy0 := cpuBusy()
	wstart := time.Now()
	time.Sleep(window)
	tu1, ts1 := cpuSplit(tpids())
	ku1, ks1 := cpuSplit(kpids())
	threadReport("tandem", tth0, threadStats(tpids()), window.Seconds())
	threadReport(second, kth0, threadStats(kpids()), window.Seconds())
	busy1 := cpuBusy()
	secs := window.Seconds()
	tc := float64(tu1+ts1-tu0-ts0) / secs
	kc := float64(ku1+ks1-ku0-ks0) / secs
	trss, krss := rssKB(tpids()), rssKB(kpids())
	time.Sleep(300 * time.Millisecond)
	_, total := spread(srv.window(wstart, window))
	fmt.Printf("BENCH   together   CPU 0 busy %.1f %%, CPU 1 busy %.1f %%; server: %d probes in %v (%.0f %% of both checkers' %d)\n",
		float64(busy1[0]-busy0[0])/secs, float64(busy1[1]-busy0[1])/secs, total, window,
		float64(total)*100/float64(2*checks*int(window/time.Second)/interval), 2*checks*int(window/time.Second)/interval)
	fmt.Printf("BENCH   tandem     CPU %.1f %% of one CPU (user %.1f, sys %.1f), RSS %.1f MB; table %d/%d\n",
		tc, float64(tu1-tu0)/secs, float64(ts1-ts0)/secs, float64(trss)/1024, count(wT), checks)
	fmt.Printf("BENCH   %-10s CPU %.1f %% of one CPU (user %.1f, sys %.1f), RSS %.1f MB; table %d/%d\n",
		second, kc, float64(ku1-ku0)/secs, float64(ks1-ks0)/secs, float64(krss)/1024, count(wK), checks)
	fmt.Printf("BENCH   tandem / %s: CPU %.2f×, RSS %.2f× (same window)\n", second, tc/kc, float64(trss)/float64(krss))
	must(t, p.stop())
	if alt != nil {
		must(t, alt.stop())
	}
}
