package scenarios

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// scaleFiles writes the scale bench's cluster file and the equivalent
// keepalived.conf: nsvc services × ndst real servers, every real server
// with a TCP check every interval seconds (tandem: half-open; keepalived
// has none, its TCP_CHECK connects), on the bench network's server
// addresses (10.200.0.0/16, port 9000). weight is real server 3 of
// service 7's weight (the reload's one change).
func scaleFiles(t *testing.T, dir string, nsvc, ndst, interval, weight int) (hclPath, kaPath string) {
	t.Helper()
	var h, k strings.Builder
	h.WriteString("director { static_vips = [\n" + vips(nsvc) + "] }\nnode \"director\" {}\n")
	for i := 0; i < nsvc; i++ {
		v := benchVIP(i)
		fmt.Fprintf(&h, "virtual_server \"s%d\" {\n  address = \"%s:80\"\n  scheduler = \"wrr\"\n", i, v)
		fmt.Fprintf(&h, "  check \"tcp\" {\n    half_open = true\n    interval = \"%ds\"\n    timeout = \"1s\"\n    rise = 1\n    fall = 1\n  }\n", interval)
		fmt.Fprintf(&k, "virtual_server %s 80 {\n  delay_loop %d\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n", v, interval)
		for j := 0; j < ndst; j++ {
			w := 1
			if i == 7 && j == 3 {
				w = weight
			}
			rs := scaleRS(i, j, ndst)
			fmt.Fprintf(&h, "  real_server \"r%d\" {\n    address = \"%s:9000\"\n    weight = %d\n  }\n", j, rs, w)
			fmt.Fprintf(&k, "  real_server %s 9000 {\n    weight %d\n    TCP_CHECK {\n      connect_timeout 1\n      retry 1\n      delay_before_retry 1\n    }\n  }\n", rs, w)
		}
		h.WriteString("}\n")
		k.WriteString("}\n")
	}
	must(t, os.MkdirAll(dir, 0o755))
	hclPath, kaPath = filepath.Join(dir, "cluster.hcl"), filepath.Join(dir, "keepalived.conf")
	must(t, os.WriteFile(hclPath, []byte(h.String()), 0o644))
	must(t, os.WriteFile(kaPath, []byte(k.String()), 0o644))
	return
}

// scaleRS is real server j of service i: 10.200.0.0/16, which the bench
// server's namespace answers on every address of.
func scaleRS(i, j, ndst int) netip.Addr {
	n := uint32(i*ndst + j + 1)
	return netip.AddrFrom4([4]byte{10, 200, byte(n >> 8), byte(n)})
}

// tableCount is the number of services and destinations in the kernel's
// table of the watched namespace.
func tableCount(t *testing.T, w *tableWatch) (svcs, dests int) {
	t.Helper()
	tb, err := w.rec.Dump(context.Background())
	if err != nil {
		return -1, -1
	}
	for _, s := range tb {
		dests += len(s.Destinations)
	}
	return len(tb), dests
}

// waitRSWeight polls `ipvsadm -Ln -t VIP:80` until rs:9000 shows weight w.
func waitRSWeight(t *testing.T, ns *netlab.NS, vip netip.Addr, rs netip.Addr, w int, timeout time.Duration) (time.Time, error) {
	t.Helper()
	rx := regexp.MustCompile(regexp.QuoteMeta(rs.String()) + `:9000 Masq ` + strconv.Itoa(w) + ` `)
	deadline := time.Now().Add(timeout)
	for {
		out, _ := ns.Command(context.Background(), "/usr/sbin/ipvsadm", "-Ln", "-t", vip.String()+":80").CombinedOutput()
		if rx.MatchString(squash(string(out))) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s never had weight %d within %v: %s", rs, w, timeout, squash(string(out)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBenchScale runs 5 000 virtual services × 10 real servers = 50 000
// half-open TCP checks every 10 s (5 000 probes a second) in the lab VM,
// tandem and then keepalived's checker (-C, TCP_CHECK: it has no
// half-open check) on the equivalent keepalived.conf, one after the
// other in one sitting, measured from outside the processes:
//
//   - load: `tandem check` against `keepalived -t`, wall time and peak RSS
//     (VmHWM);
//   - start to a complete table: every service, then every real server
//     (each enters on its first successful check) in the kernel;
//   - steady state: CPU (utime + stime) and RSS over a 30 s window, and
//     the real servers in the table;
//   - a reload with one changed weight: SIGHUP until the kernel shows it,
//     and tandem's writes (its "ipvs updated" line) and load/plan/apply;
//   - the processes' peak RSS over the whole run.
//
// Run with TANDEM_LAB_BENCH=1 (tandem-lab bench -run TestBenchScale).
// TANDEM_BENCH_SCALE_SERVICES sets the number of services (default
// 5 000), TANDEM_BENCH_SCALE_LOADS the runs of the load (default 3),
// TANDEM_BENCH_CPUPROFILE=<delay> prints tandem's CPU profile from that
// long after its start; TANDEM_BENCH_SCALE_INTERVAL the checks' interval in seconds (default
// 10), TANDEM_BENCH_SCALE_KEEPALIVED=0 skips keepalived.
func TestBenchScale(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	nsvc, ndst, interval := 5000, 10, 10
	if v := os.Getenv("TANDEM_BENCH_SCALE_SERVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 8 || n > 6000 {
			t.Fatalf("TANDEM_BENCH_SCALE_SERVICES=%q: want 8..6000", v)
		}
		nsvc = n
	}
	if v := os.Getenv("TANDEM_BENCH_SCALE_INTERVAL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3600 {
			t.Fatalf("TANDEM_BENCH_SCALE_INTERVAL=%q: want seconds, 1..3600", v)
		}
		interval = n
	}
	const (
		window = 30 * time.Second
		settle = 5 * time.Second
	)
	checks := nsvc * ndst
	dir := t.TempDir()
	hcl, ka := scaleFiles(t, dir, nsvc, ndst, interval, 1)
	st, _ := os.Stat(hcl)
	fmt.Printf("BENCH scale: %d services x %d real servers = %d half-open TCP checks every %d s (%d probes/s); cluster file %.1f MB\n",
		nsvc, ndst, checks, interval, checks/interval, float64(st.Size())/(1<<20))

	b := newBenchNet(t, "bsc")
	srv := startBenchServer(t, b.srv, "0.0.0.0:9000", "tcp-half")
	b.splitCPUs(t)
	pin(procTree(os.Getpid()), 1)
	pin([]int{srv.pid}, 1)
	for _, ns := range []*netlab.NS{b.dirT, b.dirK} {
		must(t, ns.Sysctl("net/ipv4/ip_local_port_range", "1024 65535"))
	}

	// Load, TANDEM_BENCH_SCALE_LOADS times each (default 3).
	loads := 3
	if v, err := strconv.Atoi(os.Getenv("TANDEM_BENCH_SCALE_LOADS")); err == nil && v > 0 {
		loads = v
	}
	var loadT, loadK samples
	var hwmT, hwmK []int64
	for range loads {
		d, rss, _ := timed(t, b.dirT, "", "/tandem", "check", "-c", hcl)
		loadT, hwmT = append(loadT, d), append(hwmT, rss)
		d, rss, _ = timed(t, b.dirK, "", "/usr/sbin/keepalived", "-t", "-f", ka)
		loadK, hwmK = append(loadK, d), append(hwmK, rss)
	}
	fmt.Printf("BENCH   load   tandem check:  %v; peak RSS %v KB\n", loadT, hwmT)
	fmt.Printf("BENCH   load   keepalived -t: %v; peak RSS %v KB\n", loadK, hwmK)

	changedVIP, changedRS := benchVIP(7), scaleRS(7, 3, ndst)
	run := func(name string, ns *netlab.NS, start func() (pids func() []int, stop func()), reload func() time.Time) {
		w := watchTable(t, ns)
		began := time.Now()
		pids, stop := start()
		var allSvcs, allDests time.Duration
		lastS, lastD := 0, 0
		for time.Since(began) < 5*time.Minute {
			pin(pids(), 0)
			s, d := tableCount(t, w)
			lastS, lastD = s, d
			if allSvcs == 0 && s == nsvc {
				allSvcs = time.Since(began)
			}
			if d == checks {
				allDests = time.Since(began)
				break
			}
			if len(pids()) == 0 {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if allDests == 0 {
			fmt.Printf("BENCH   %-10s table NOT complete after %v: %d/%d services, %d/%d real servers; RSS %.1f MB, peak %.1f MB\n",
				name, time.Since(began).Round(time.Second), lastS, nsvc, lastD, checks, float64(rssKB(pids()))/1024, float64(hwmOf(pids()))/1024)
		} else {
			fmt.Printf("BENCH   %-10s start -> all %d services in the kernel %v, all %d real servers %v (polled: a dump every 0.5 s + its own time)\n",
				name, nsvc, allSvcs.Round(100*time.Millisecond), checks, allDests.Round(100*time.Millisecond))
		}
		time.Sleep(settle)
		ps := pids()
		pin(ps, 0)
		u0, s0 := cpuSplit(ps)
		busy0 := cpuBusy()
		wstart := time.Now()
		time.Sleep(window)
		ps = pids()
		u1, s1 := cpuSplit(ps)
		busy1 := cpuBusy()
		secs := window.Seconds()
		rss := rssKB(ps)
		time.Sleep(300 * time.Millisecond)
		sum, total := spread(srv.window(wstart, window))
		s, d := tableCount(t, w)
		want := checks * int(window/time.Second) / interval
		fmt.Printf("BENCH   %-10s steady: CPU %.1f %% of one CPU (user %.1f, sys %.1f), RSS %.1f MB; CPU 0 busy %.1f %%, CPU 1 %.1f %%; server: %d probes in %v (%.0f %% of %d), %s; table %d services, %d/%d real servers\n",
			name, float64(u1+s1-u0-s0)/secs, float64(u1-u0)/secs, float64(s1-s0)/secs, float64(rss)/1024,
			float64(busy1[0]-busy0[0])/secs, float64(busy1[1]-busy0[1])/secs, total, window, float64(total)*100/float64(want), want, sum, s, d, checks)
		if reload != nil {
			t0 := time.Now()
			done := reload()
			if !done.IsZero() {
				fmt.Printf("BENCH   %-10s reload (SIGHUP, one changed weight) -> the kernel shows it: %v\n", name, done.Sub(t0).Round(time.Millisecond))
			}
		}
		fmt.Printf("BENCH   %-10s peak RSS over the run %.1f MB\n", name, float64(hwmOf(pids()))/1024)
		stopAt := time.Now()
		stop()
		fmt.Printf("BENCH   %-10s stopped in %v\n", name, time.Since(stopAt).Round(time.Millisecond))
	}

	// tandem. TANDEM_BENCH_CPUPROFILE=<delay>: its CPU profile from that
	// long after its start until it stops, printed base64 between
	// PROFILE-BEGIN and PROFILE-END (go tool pprof).
	prof := ""
	if v := os.Getenv("TANDEM_BENCH_CPUPROFILE"); v != "" {
		prof = filepath.Join(t.TempDir(), "tandem.prof")
		t.Setenv("TANDEM_CPUPROFILE", prof)
		t.Setenv("TANDEM_CPUPROFILE_DELAY", v)
	}
	defer func() {
		if prof == "" {
			return
		}
		if b, err := os.ReadFile(prof); err == nil {
			fmt.Printf("PROFILE-BEGIN scale\n%s\nPROFILE-END\n", base64.StdEncoding.EncodeToString(b))
		}
	}()
	var p *tandemProc
	run("tandem", b.dirT, func() (func() []int, func()) {
		onCPU(0, func() { p = startTandem(t, b.dirT, "run", "-c", hcl, "--node", "director") })
		return func() []int {
				select {
				case <-p.done:
					return nil
				default:
					return []int{p.cmd.Process.Pid}
				}
			}, func() {
				if err := p.stop(); err != nil {
					fmt.Printf("BENCH   tandem stop: %v\n", err)
				}
			}
	}, func() time.Time {
		from := p.tail.Len()
		scaleFiles(t, dir, nsvc, ndst, interval, 5)
		must(t, p.cmd.Process.Signal(unix.SIGHUP))
		done, err := waitRSWeight(t, b.dirT, changedVIP, changedRS, 5, 3*time.Minute)
		if err != nil {
			fmt.Printf("BENCH   tandem reload: %v\n", err)
			return time.Time{}
		}
		if line, _, err := p.tail.Wait(`msg="ipvs updated" reason=reload`, from, time.Minute); err == nil {
			fmt.Printf("BENCH   tandem     reload: %s\n", line[strings.Index(line, "msg="):])
		}
		if line, _, err := p.tail.Wait(`msg=reloaded`, from, time.Minute); err == nil {
			fmt.Printf("BENCH   tandem     reload: %s\n", line[strings.Index(line, "changes="):])
		}
		return done
	})
	if os.Getenv("TANDEM_BENCH_SCALE_KEEPALIVED") == "0" {
		return
	}
	scaleFiles(t, dir, nsvc, ndst, interval, 1)
	// keepalived's checker.
	var k *exec.Cmd
	run("keepalived", b.dirK, func() (func() []int, func()) {
		onCPU(0, func() { k = startKeepaliveFile(t, b.dirK, ka) })
		return func() []int {
			if k.ProcessState != nil {
				return nil
			}
			return procTree(k.Process.Pid)
		}, func() { stopKeepalived(k) }
	}, func() time.Time {
		scaleFiles(t, dir, nsvc, ndst, interval, 5)
		must(t, k.Process.Signal(unix.SIGHUP))
		done, err := waitRSWeight(t, b.dirK, changedVIP, changedRS, 5, 3*time.Minute)
		if err != nil {
			fmt.Printf("BENCH   keepalived reload: %v\n", err)
			return time.Time{}
		}
		return done
	})
}

// hwmOf is the summed peak RSS (VmHWM, KB) of the processes.
func hwmOf(pids []int) int64 {
	var n int64
	for _, p := range pids {
		n += vmHWM(p)
	}
	return n
}
