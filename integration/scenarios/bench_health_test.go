package scenarios

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	srv, dirT, dirK *netlab.NS
}

func newBenchNet(t *testing.T, prefix string) *benchNet {
	t.Helper()
	sw := newNS(t, prefix+"-sw")
	must(t, sw.Bridge("br0"))
	b := &benchNet{srv: newNS(t, prefix+"-srv"), dirT: newNS(t, prefix+"-dirT"), dirK: newNS(t, prefix+"-dirK")}
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
	n := 0
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.Atoi(f[11])
		st, _ := strconv.Atoi(f[12])
		n += u + st
	}
	return n
}

// rssKB returns the summed VmRSS of the processes.
func rssKB(pids []int) int {
	n := 0
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmRSS:") {
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
// IPVS tables, with keepalived's `delay_loop 1, retry 1,
// delay_before_retry 1` and tandem's equivalent (interval 1s, timeout 1s,
// fall 1, rise 1): bound fall×interval+timeout = 2 s. Run with
// TANDEM_LAB_BENCH=1 (tandem-lab bench).
func TestBenchHealthDetect(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const runs = 7
	b := newBenchNet(t, "bhd")
	alive, err := b.srv.Listen("tcp", "10.200.0.1:8080")
	must(t, err)
	defer alive.Close()
	go acceptAndClose(alive, nil)
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
      retry 1
      delay_before_retry 1
    }
  }
  real_server 10.200.0.2 8081 {
    weight 1
    TCP_CHECK {
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }
  }
}
`
	var ln net.Listener
	listen := func() {
		ln, err = b.srv.Listen("tcp", victim)
		must(t, err)
		go acceptAndClose(ln, nil)
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
	p.mu.Lock()
	for _, l := range p.log {
		if m := rx.FindStringSubmatch(l); m != nil {
			if d, err := time.ParseDuration(m[1]); err == nil {
				v2n = append(v2n, d)
			}
		}
	}
	p.mu.Unlock()
	fmt.Printf("BENCH health detection: listener closed at a random phase of a 1 s check timer, %d runs, in the lab VM\n", runs)
	fmt.Printf("BENCH   bound fall×interval+timeout = 2000 ms (tandem: interval 1s, timeout 1s, fall 1; keepalived: delay_loop 1, retry 1, delay_before_retry 1)\n")
	fmt.Printf("BENCH   tandem     death -> out of the table: %v\n", tandemT)
	fmt.Printf("BENCH   keepalived death -> out of the table: %v\n", keepT)
	if len(v2n) > 0 {
		fmt.Printf("BENCH   tandem verdict -> netlink done (%d updates): %v\n", len(v2n), v2n)
	}
}

// acceptAndClose accepts connections and closes them at once, counting
// each in buckets (if not nil) by the time it arrived.
func acceptAndClose(ln net.Listener, b *buckets) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if b != nil {
			b.add(time.Now())
		}
		c.Close()
	}
}

// buckets counts events per 100 ms between start and start+n×100 ms.
type buckets struct {
	mu    sync.Mutex
	start time.Time
	n     []int64
	total atomic.Int64
}

func (b *buckets) add(at time.Time) {
	b.total.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n == nil {
		return
	}
	i := int(at.Sub(b.start) / (100 * time.Millisecond))
	if i >= 0 && i < len(b.n) {
		b.n[i]++
	}
}

func (b *buckets) reset(start time.Time, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start, b.n = start, make([]int64, n)
}

func (b *buckets) summary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := slices.Clone(b.n)
	slices.Sort(c)
	var sum int64
	for _, v := range c {
		sum += v
	}
	return fmt.Sprintf("checks per 100 ms: min %d / median %d / max %d (mean %d)", c[0], c[len(c)/2], c[len(c)-1], sum/int64(len(c)))
}

// TestBenchHealthScale runs 1 000 virtual services × 10 real servers =
// 10 000 TCP checks at a 1 s interval against one server answering on all
// their addresses: tandem, then keepalived -C with the same table. It
// reports each checker's CPU and RSS over 20 s and how evenly the checks
// arrive at the server. Run with TANDEM_LAB_BENCH=1 (tandem-lab bench).
func TestBenchHealthScale(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const (
		nsvc, ndst = 1000, 10
		window     = 20 * time.Second
		settle     = 8 * time.Second
	)
	b := newBenchNet(t, "bhs")
	ln, err := b.srv.Listen("tcp", "0.0.0.0:9000")
	must(t, err)
	defer ln.Close()
	var bk buckets
	go acceptAndClose(ln, &bk)

	rsAddr := func(i, j int) netip.Addr {
		n := uint32(i*ndst + j + 1)
		return netip.AddrFrom4([4]byte{10, 200, byte(n >> 8), byte(n)})
	}
	var hcl, kcfg strings.Builder
	hcl.WriteString("node \"director\" {}\n")
	for i := 0; i < nsvc; i++ {
		v := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)})
		fmt.Fprintf(&hcl, "virtual_server \"s%d\" {\n  address = \"%s:80\"\n  scheduler = \"wrr\"\n  check \"tcp\" {\n    interval = \"1s\"\n    timeout = \"1s\"\n    rise = 1\n    fall = 1\n  }\n", i, v)
		fmt.Fprintf(&kcfg, "virtual_server %s 80 {\n  delay_loop 1\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n", v)
		for j := 0; j < ndst; j++ {
			fmt.Fprintf(&hcl, "  real_server \"r%d\" { address = \"%s:9000\" }\n", j, rsAddr(i, j))
			fmt.Fprintf(&kcfg, "  real_server %s 9000 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }\n  }\n", rsAddr(i, j))
		}
		hcl.WriteString("}\n")
		kcfg.WriteString("}\n")
	}
	hclText := strings.Replace(hcl.String(), "node \"director\" {}\n", "director { static_vips = [\n"+vips(nsvc)+"] }\nnode \"director\" {}\n", 1)

	measure := func(name string, pids func() []int) (cpu float64, rss int, spread string) {
		time.Sleep(settle)
		ps := pids()
		before := cpuTicks(ps)
		bk.reset(time.Now(), int(window/(100*time.Millisecond)))
		total0 := bk.total.Load()
		time.Sleep(window)
		ps = pids()
		cpu = float64(cpuTicks(ps)-before) / 100 / window.Seconds() * 100
		rss = rssKB(ps)
		checks := bk.total.Load() - total0
		spread = fmt.Sprintf("%s; %d checks in %v", bk.summary(), checks, window)
		fmt.Printf("BENCH   %-10s CPU %.1f %% of one CPU, RSS %.1f MB, %s\n", name, cpu, float64(rss)/1024, spread)
		return
	}
	fmt.Printf("BENCH health scale: %d services x %d real servers = %d TCP checks every 1 s, one server on all addresses, %v window after %v settling\n", nsvc, ndst, nsvc*ndst, window, settle)

	p := startTandem(t, b.dirT, "run", "-c", writeConfig(t, hclText), "--node", "director", "--log-level", "warn")
	measure("tandem", func() []int { return []int{p.cmd.Process.Pid} })
	wT := watchTable(t, b.dirT)
	tb, err := wT.rec.Dump(context.Background())
	must(t, err)
	n := 0
	for _, s := range tb {
		n += len(s.Destinations)
	}
	fmt.Printf("BENCH   tandem table: %d services, %d destinations\n", len(tb), n)
	stopAt := time.Now()
	if err := p.stop(); err != nil {
		fmt.Printf("BENCH   tandem stop: %v\n", err)
	}
	fmt.Printf("BENCH   tandem stopped in %v\n", time.Since(stopAt).Round(time.Millisecond))

	k := startKeepalived(t, b.dirK, kcfg.String())
	measure("keepalived", func() []int { return procTree(k.Process.Pid) })
}

// vips lists the bench services' VIPs for static_vips.
func vips(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  \"%s\",\n", netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)}))
	}
	return b.String()
}
