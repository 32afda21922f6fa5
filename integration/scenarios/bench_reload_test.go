package scenarios

import (
	"context"
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

// benchFiles writes the bench's 1 000 services × 10 real servers three
// ways: tandem's cluster file, the equivalent keepalived.conf, and
// ipvsadm -R rules. With checks, every real server has a TCP check
// (keepalived: TCP_CHECK) at the same settings; weight is rs 3 of service
// 7's weight (the reload's one change).
func benchFiles(t *testing.T, dir string, nsvc, ndst int, checks bool, weight int) (hclPath, kaPath, rulesPath string) {
	var h, k, r strings.Builder
	h.WriteString("director {\n  static_vips = [\n")
	for i := 0; i < nsvc; i++ {
		fmt.Fprintf(&h, "    %q,\n", benchVIP(i).String())
	}
	h.WriteString("  ]\n}\nnode \"d1\" {}\n")
	k.WriteString("global_defs {\n  router_id bench\n}\n")
	for i := 0; i < nsvc; i++ {
		vip := benchVIP(i)
		fmt.Fprintf(&h, "virtual_server \"vs%d\" {\n  address   = \"%s:80\"\n  scheduler = \"wrr\"\n", i, vip)
		if checks {
			h.WriteString("  check \"tcp\" {\n    interval = \"6s\"\n    timeout  = \"3s\"\n  }\n")
		}
		fmt.Fprintf(&k, "virtual_server %s 80 {\n  delay_loop 6\n  lb_algo wrr\n  lb_kind NAT\n  protocol TCP\n", vip)
		fmt.Fprintf(&r, "-A -t %s:80 -s wrr\n", vip)
		for j := 0; j < ndst; j++ {
			rs := netip.AddrFrom4([4]byte{192, 168, byte(i % 200), byte(j + 1)})
			w := 1
			if i == 7 && j == 3 {
				w = weight
			}
			fmt.Fprintf(&h, "  real_server \"rs%d\" {\n    address = \"%s:8080\"\n    weight  = %d\n  }\n", j, rs, w)
			fmt.Fprintf(&k, "  real_server %s 8080 {\n    weight %d\n", rs, w)
			if checks {
				k.WriteString("    TCP_CHECK {\n      connect_timeout 3\n    }\n")
			}
			k.WriteString("  }\n")
			fmt.Fprintf(&r, "-a -t %s:80 -r %s:8080 -m -w %d\n", vip, rs, w)
		}
		h.WriteString("}\n")
		k.WriteString("}\n")
	}
	must(t, os.MkdirAll(dir, 0o755))
	hclPath, kaPath, rulesPath = filepath.Join(dir, "cluster.hcl"), filepath.Join(dir, "keepalived.conf"), filepath.Join(dir, "rules")
	must(t, os.WriteFile(hclPath, []byte(h.String()), 0o644))
	must(t, os.WriteFile(kaPath, []byte(k.String()), 0o644))
	must(t, os.WriteFile(rulesPath, []byte(r.String()), 0o644))
	return
}

func benchVIP(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)})
}

// timed runs argv in ns and returns its wall time and peak RSS (KB). The
// peak is the process's VmHWM, read every few milliseconds once it runs
// argv[0] (the rusage of the wait would count the namespace-entering
// re-exec that precedes it).
func timed(t *testing.T, ns *netlab.NS, stdin string, argv ...string) (time.Duration, int64, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := ns.Command(ctx, argv...)
	if stdin != "" {
		f, err := os.Open(stdin)
		must(t, err)
		defer f.Close()
		cmd.Stdin = f
	}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm int64
	pid := cmd.Process.Pid
	for {
		select {
		case err := <-done:
			took := time.Since(start)
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
			}
			return took, hwm, out.String()
		case <-time.After(2 * time.Millisecond):
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err != nil || exe != argv[0] {
			continue
		}
		if v := vmHWM(pid); v > hwm {
			hwm = v
		}
	}
}

// vmHWM is a process's peak resident set, in KB (0 when unreadable).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// waitWeight polls `ipvsadm -Ln -t VIP:80` (one service, not the whole
// table) until real server rs shows weight w, and returns when it did.
func waitWeight(t *testing.T, ns *netlab.NS, vip netip.Addr, rs string, w int, timeout time.Duration) time.Time {
	t.Helper()
	rx := regexp.MustCompile(regexp.QuoteMeta(rs) + `:8080 Masq ` + fmt.Sprint(w) + ` `)
	deadline := time.Now().Add(timeout)
	for {
		out := squash(ipvsadm(t, ns, "-Ln", "-t", vip.String()+":80"))
		if rx.MatchString(out) {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never had weight %d within %v: %s", rs, w, timeout, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBenchReload measures, in the lab VM, side by side with keepalived
// in one sitting and from outside the processes, what the reload issue
// targets for 1 000 services × 10 real servers:
//
//   - load: `tandem check` against `keepalived -t` on the equivalent
//     keepalived.conf (with a TCP check on every real server), wall time
//     and max RSS;
//   - cold apply from process start: `tandem run` started in a fresh
//     namespace until the last service is complete in the kernel, against
//     `ipvsadm -R` of the same 11 000 rules;
//   - reload of one changed weight: `tandem reload` until the kernel shows
//     it (and tandem's own load/plan/apply split), against keepalived's
//     SIGHUP of the same change until the kernel shows it.
//
// Run with TANDEM_LAB_BENCH=1 (tandem-lab bench -run TestBenchReload).
func TestBenchReload(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const runs, nsvc, ndst = 5, 1000, 10
	dir := t.TempDir()
	chkHCL, chkKA, _ := benchFiles(t, filepath.Join(dir, "check"), nsvc, ndst, true, 1)
	last := benchVIP(nsvc - 1)
	changedVIP, changedRS := benchVIP(7), "192.168.7.4"
	var loadT, loadK, coldT, coldR, relT, relK, relApply, relLoad, relPlan samples
	var rssT, rssK []int64
	var relWrites []string
	for r := 0; r < runs; r++ {
		ns := newNS(t, fmt.Sprintf("brl-%d", r))
		// Load.
		d, rss, _ := timed(t, ns, "", "/tandem", "check", "-c", chkHCL)
		loadT, rssT = append(loadT, d), append(rssT, rss)
		d, rss, _ = timed(t, ns, "", "/usr/sbin/keepalived", "-t", "-f", chkKA)
		loadK, rssK = append(loadK, d), append(rssK, rss)

		// Cold apply: ipvsadm -R, then tandem run in another namespace.
		sub := filepath.Join(dir, fmt.Sprint(r))
		hcl, ka, rules := benchFiles(t, sub, nsvc, ndst, false, 1)
		d, _, _ = timed(t, ns, rules, "/usr/sbin/ipvsadm", "-R")
		coldR = append(coldR, d)
		ns.Close()

		nsT := newNS(t, fmt.Sprintf("brt-%d", r))
		start := time.Now()
		p := startTandem(t, nsT, "run", "-c", hcl, "--node", "d1", "--resync", "1h")
		done := waitDests(t, nsT, last, ndst, 2*time.Minute)
		coldT = append(coldT, done.Sub(start))
		p.waitLog(`ipvs reconciled.*writes=11000`, 0, time.Minute)

		// Reload one weight: tandem.
		_, _, _ = benchFiles(t, sub, nsvc, ndst, false, 5)
		start = time.Now()
		out, code := tandemCmd(t, nsT, "reload")
		if code != 0 {
			t.Fatalf("tandem reload: exit %d\n%s", code, out)
		}
		done = waitWeight(t, nsT, changedVIP, changedRS, 5, time.Minute)
		relT = append(relT, done.Sub(start))
		if m := regexp.MustCompile(`took: load (\S+), plan (\S+), apply (\S+)`).FindStringSubmatch(out); m != nil {
			for i, s := range []*samples{&relLoad, &relPlan, &relApply} {
				v, err := time.ParseDuration(m[i+1])
				must(t, err)
				*s = append(*s, v)
			}
		}
		if m := regexp.MustCompile(`(\d+) ipvs write`).FindStringSubmatch(out); m != nil {
			relWrites = append(relWrites, m[1])
		}
		must(t, p.stop())
		nsT.Close()

		// Reload one weight: keepalived's checker, which programs IPVS.
		_, _, _ = benchFiles(t, sub, nsvc, ndst, false, 1)
		nsK := newNS(t, fmt.Sprintf("brk-%d", r))
		kcmd := startKeepaliveFile(t, nsK, ka)
		waitDests(t, nsK, last, ndst, 3*time.Minute)
		_, _, _ = benchFiles(t, sub, nsvc, ndst, false, 5)
		start = time.Now()
		must(t, kcmd.Process.Signal(unix.SIGHUP))
		done = waitWeight(t, nsK, changedVIP, changedRS, 5, time.Minute)
		relK = append(relK, done.Sub(start))
		stopKeepalived(kcmd)
		nsK.Close()
	}
	fmt.Printf("BENCH reload issue: %d services x %d real servers, %d runs, in the lab VM, from outside the processes\n", nsvc, ndst, runs)
	fmt.Printf("BENCH load  tandem check:       %v  peak RSS %v KB\n", loadT, rssT)
	fmt.Printf("BENCH load  keepalived -t:      %v  peak RSS %v KB\n", loadK, rssK)
	fmt.Printf("BENCH cold  tandem run start -> table complete: %v\n", coldT)
	fmt.Printf("BENCH cold  ipvsadm -R:         %v\n", coldR)
	fmt.Printf("BENCH reload tandem reload -> kernel shows it: %v  writes %v\n", relT, relWrites)
	fmt.Printf("BENCH reload tandem's split: load %v; plan %v; apply %v\n", relLoad, relPlan, relApply)
	fmt.Printf("BENCH reload keepalived SIGHUP -> kernel shows it: %v\n", relK)
}

// waitDests polls one service until it has n destinations.
func waitDests(t *testing.T, ns *netlab.NS, vip netip.Addr, n int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := ns.Command(context.Background(), "/usr/sbin/ipvsadm", "-Ln", "-t", vip.String()+":80").CombinedOutput()
		if err == nil && strings.Count(string(out), "->") == n+1 {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never had %d destinations within %v: %s", vip, n, timeout, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startKeepaliveFile runs keepalived's checker (-C) on the file at path.
func startKeepaliveFile(t *testing.T, ns *netlab.NS, path string) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	cmd := ns.Command(context.Background(), "/usr/sbin/keepalived", "-C", "-n", "-f", path,
		"-p", filepath.Join(dir, "k.pid"), "-c", filepath.Join(dir, "kc.pid"))
	must(t, cmd.Start())
	t.Cleanup(func() { stopKeepalived(cmd) })
	return cmd
}

func stopKeepalived(cmd *exec.Cmd) {
	if cmd.ProcessState != nil {
		return
	}
	cmd.Process.Signal(unix.SIGTERM)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
