package scenarios

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// procCPU is a process's user+system CPU time, from /proc/PID/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	must(t, err)
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

// procRSS is a process's resident set, in KB.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	must(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

// TestBenchStatus measures, in the lab VM, from outside the processes,
// on a table of 1 000 services × 10 real servers (10 000 real servers):
//
//   - `tandem status` (and --json) against `ipvsadm -Ln` of the same
//     table, wall time, alternating, in one sitting;
//   - the CPU and RSS a Prometheus scrape every 5 s adds to `tandem run`:
//     60 s without scrapes, then 60 s with one every 5 s, CPU from
//     /proc/PID/stat, RSS from /proc/PID/status.
//
// Run with TANDEM_LAB_BENCH=1 (tandem-lab bench -run TestBenchStatus).
func TestBenchStatus(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const runs, nsvc, ndst = 7, 1000, 10
	window := 60 * time.Second
	if s := os.Getenv("TANDEM_BENCH_WINDOW"); s != "" {
		d, err := time.ParseDuration(s)
		must(t, err)
		window = d
	}
	dir := t.TempDir()
	hcl, _, _ := benchFiles(t, filepath.Join(dir, "t"), nsvc, ndst, false, 1)
	f, err := os.OpenFile(hcl, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString("metrics {\n  listen = \"127.0.0.1:9115\"\n}\n")
	must(t, err)
	f.Close()
	ns := newNS(t, "bst")
	p := startTandem(t, ns, "run", "-c", hcl, "--node", "d1", "--resync", "1h")
	waitDests(t, ns, benchVIP(nsvc-1), ndst, 2*time.Minute)
	p.waitLog(`ipvs reconciled.*writes=11000`, 0, time.Minute)

	var st, sj, ipv, ipvStats samples
	var lines [4]int
	for r := 0; r < runs; r++ {
		d, _, out := timed(t, ns, "", "/tandem", "status")
		st, lines[0] = append(st, d), strings.Count(out, "\n")
		d, _, out = timed(t, ns, "", "/tandem", "status", "--json")
		sj, lines[1] = append(sj, d), strings.Count(out, "\n")
		d, _, out = timed(t, ns, "", "/usr/sbin/ipvsadm", "-Ln")
		ipv, lines[2] = append(ipv, d), strings.Count(out, "\n")
		d, _, out = timed(t, ns, "", "/usr/sbin/ipvsadm", "-Ln", "--stats", "--exact")
		ipvStats, lines[3] = append(ipvStats, d), strings.Count(out, "\n")
	}
	fmt.Printf("BENCH status: %d services x %d real servers, %d runs each, alternating, in the lab VM, from outside the processes\n", nsvc, ndst, runs)
	fmt.Printf("BENCH status tandem status:        %v (%d lines)\n", st, lines[0])
	fmt.Printf("BENCH status tandem status --json: %v (%d lines)\n", sj, lines[1])
	fmt.Printf("BENCH status ipvsadm -Ln:          %v (%d lines)\n", ipv, lines[2])
	fmt.Printf("BENCH status ipvsadm -Ln --stats --exact (what a scrape reads): %v (%d lines)\n", ipvStats, lines[3])

	// Scrapes.
	pid := p.cmd.Process.Pid
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: ns.DialContext, DisableKeepAlives: true}}
	scrape := func() (int, time.Duration) {
		start := time.Now()
		resp, err := client.Get("http://127.0.0.1:9115/metrics")
		must(t, err)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return int(n), time.Since(start)
	}
	scrape() // warm
	time.Sleep(5 * time.Second)
	cpu0, rss0 := procCPU(t, pid), procRSS(t, pid)
	time.Sleep(window)
	cpu1, rss1 := procCPU(t, pid), procRSS(t, pid)
	var took samples
	var size int
	var rssMax int64
	tk := time.NewTicker(5 * time.Second)
	for i := 0; i < int(window/(5*time.Second)); i++ {
		<-tk.C
		n, d := scrape()
		size, took = n, append(took, d)
		rssMax = max(rssMax, procRSS(t, pid))
	}
	tk.Stop()
	cpu2, rss2 := procCPU(t, pid), procRSS(t, pid)
	idle := float64(cpu1-cpu0) / float64(window) * 100
	busy := float64(cpu2-cpu1) / float64(window) * 100
	fmt.Printf("BENCH scrape: every 5 s for %v at %d real servers: %d bytes a scrape, scrape wall time %v\n", window, nsvc*ndst, size, took)
	n := int(window / (5 * time.Second))
	fmt.Printf("BENCH scrape: CPU per scrape %.0f ms (the added CPU over %d scrapes)\n",
		float64((cpu2-cpu1)-(cpu1-cpu0))/float64(n)/1e6, n)
	fmt.Printf("BENCH scrape: tandem run CPU %.2f %% of a CPU without scrapes, %.2f %% with (+%.2f %%); RSS %d KB -> %d KB, %d KB at most while scraped (+%d KB)\n",
		idle, busy, busy-idle, rss0, rss2, rssMax, max(rssMax, rss2)-rss1)
}
