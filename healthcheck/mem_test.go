//go:build linux

package healthcheck

import (
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// BenchmarkCheckMemory reports the live heap a running check holds
// (after a collection, with no probe run yet: an hour's interval), built
// as tandem's director builds them: one Spec per real server, each its
// own target. Run it with a heap profile to see where it goes:
//
//	HEALTHCHECK_MEMPROFILE=/tmp/mem go test -run '^$' -bench CheckMemory -benchtime=1x -memprofilerate 1 ./healthcheck/
//	go tool pprof -sample_index=inuse_space -top /tmp/mem.http-reuse
func BenchmarkCheckMemory(b *testing.B) {
	for _, kind := range []string{"http-reuse", "http", "tcp", "tcp-half"} {
		b.Run(kind, func(b *testing.B) { benchCheckMemory(b, kind, 10000) })
	}
}

func memSpecs(kind string, n int) []Spec {
	specs := make([]Spec, n)
	for i := range specs {
		// 127.1.0.0/16: distinct loopback targets; no probe runs.
		a := netip.AddrFrom4([4]byte{127, 1, byte(i >> 8), byte(i)})
		s := Spec{Kind: KindTCP, Target: netip.AddrPortFrom(a, 80), Interval: time.Hour, Timeout: 2 * time.Second, Rise: 2, Fall: 3}
		switch kind {
		case "http", "http-reuse":
			s.Kind, s.Path, s.Reuse = KindHTTP, "/health", kind == "http-reuse"
			s.Status = []StatusRange{{Min: 200, Max: 200}}
		case "tcp-half":
			s.HalfOpen = true
		}
		specs[i] = s
	}
	return specs
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func benchCheckMemory(b *testing.B, kind string, n int) {
	for range b.N {
		specs := memSpecs(kind, n)
		m := NewManager(Options{})
		m.mu.Lock()
		m.ensurePoller() // its own buffers are not the checks'
		m.mu.Unlock()
		h0 := liveHeap()
		m.Set(specs)
		h1 := liveHeap()
		if f := os.Getenv("HEALTHCHECK_MEMPROFILE"); f != "" {
			writeHeapProfile(b, f+"."+kind)
		}
		runtime.KeepAlive(specs)
		b.ReportMetric(float64(h1-h0)/float64(n), "live-B/check")
		m.Close()
	}
}

// writeHeapProfile writes the heap profile of the moment to file.
func writeHeapProfile(b *testing.B, file string) {
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}
