//go:build unix

package healthcheck

import (
	"context"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkManager runs many checks at a 1s interval for a few seconds and
// reports what a probe costs the whole process (prober and, for tcp, the
// in-process server it probes): CPU time and allocations per probe, and
// memory per check. Run it alone, with -benchtime=1x:
//
//	go test -run '^$' -bench Manager -benchtime=1x ./healthcheck/
//
// tcp-10000 runs only with HEALTHCHECK_BENCH_BIG=1. http-reuse-2000 runs
// only with HEALTHCHECK_BENCH_HTTP set to the address of an HTTP/1.1
// keep-alive server in another process (the lab's bench server in mode
// http-keep), so that its CPU is the prober's alone;
// HEALTHCHECK_BENCH_KEEPALIVE_REQUESTS sets its probes per connection.
func BenchmarkManager(b *testing.B) {
	b.Run("tcp-2000", func(b *testing.B) { benchManager(b, 2000, "tcp") })
	b.Run("nop-10000", func(b *testing.B) { benchManager(b, 10000, "nop") })
	b.Run("tcp-10000", func(b *testing.B) {
		if os.Getenv("HEALTHCHECK_BENCH_BIG") == "" {
			b.Skip("set HEALTHCHECK_BENCH_BIG=1")
		}
		benchManager(b, 10000, "tcp")
	})
	for _, kind := range []string{"http", "http-reuse"} {
		b.Run(kind+"-2000", func(b *testing.B) {
			if os.Getenv("HEALTHCHECK_BENCH_HTTP") == "" {
				b.Skip("set HEALTHCHECK_BENCH_HTTP to a keep-alive server's address")
			}
			benchManager(b, 2000, kind)
		})
	}
}

type nopChecker struct{}

func (nopChecker) Check(context.Context) error { return nil }
func (nopChecker) String() string              { return "nop" }

func benchManager(b *testing.B, n int, kind string) {
	const (
		interval = time.Second
		window   = 3 * time.Second
	)
	ln := listen(b)
	acceptAndClose(ln)

	target := addrOf(ln)
	opts := Options{}
	switch kind {
	case "nop":
		opts.NewChecker = func(Spec) (Checker, error) { return nopChecker{}, nil }
	case "http", "http-reuse":
		target = netip.MustParseAddrPort(os.Getenv("HEALTHCHECK_BENCH_HTTP"))
	}
	runtime.GC()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	rss0 := rssBytes()

	m := NewManager(opts)
	defer m.Close()
	specs := make([]Spec, n)
	for i := range specs {
		// One target, n distinct checks (Rise only tells them apart).
		specs[i] = Spec{Kind: KindTCP, Target: target, Interval: interval, Timeout: interval / 2, Rise: i + 1, Fall: 1}
		if kind != "tcp" && kind != "nop" {
			specs[i].Kind, specs[i].Reuse = KindHTTP, kind == "http-reuse"
			specs[i].KeepaliveRequests, _ = strconv.Atoi(os.Getenv("HEALTHCHECK_BENCH_KEEPALIVE_REQUESTS"))
		}
	}
	m.Set(specs)
	time.Sleep(interval + 100*time.Millisecond) // every check has started

	b.ResetTimer()
	for range b.N {
		p0, _ := probes(m)
		ru0 := cpuTime()
		var a0 runtime.MemStats
		runtime.ReadMemStats(&a0)
		time.Sleep(window)
		var a1 runtime.MemStats
		runtime.ReadMemStats(&a1)
		ru1 := cpuTime()
		p1, failing := probes(m)
		np := float64(p1 - p0)
		b.ReportMetric(np/window.Seconds(), "probes/s")
		b.ReportMetric(float64(ru1-ru0)/float64(time.Microsecond)/np, "cpu-µs/probe")
		b.ReportMetric(float64(ru1-ru0)/float64(window)*100, "cpu-%")
		b.ReportMetric(float64(a1.Mallocs-a0.Mallocs)/np, "allocs/probe")
		b.ReportMetric(float64(a1.TotalAlloc-a0.TotalAlloc)/np, "B/probe")
		b.ReportMetric(float64(failing), "failing-checks")
	}
	b.StopTimer()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	b.ReportMetric(float64(int64(ms1.HeapInuse+ms1.StackInuse)-int64(ms0.HeapInuse+ms0.StackInuse))/float64(n), "heap+stack-B/check")
	b.ReportMetric(float64(rssBytes()-rss0)/float64(n), "RSS-B/check")
	b.ReportMetric(float64(rssBytes())/(1<<20), "RSS-MiB")
}

func probes(m *Manager) (probes, failing int) {
	for _, st := range m.Status() {
		probes += st.Probes
		if st.LastResult != nil {
			failing++
		}
	}
	return probes, failing
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes reads VmRSS from /proc/self/status; 0 where there is none.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
