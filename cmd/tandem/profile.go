package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

// startCPUProfile starts profiling the process's CPU into path (the
// TANDEM_CPUPROFILE variable of tandem run), after TANDEM_CPUPROFILE_DELAY
// (a duration; default none) so that the profile can leave out the start;
// the returned func ends it.
func startCPUProfile(path string) (stop func(), err error) {
	var delay time.Duration
	if v := os.Getenv("TANDEM_CPUPROFILE_DELAY"); v != "" {
		if delay, err = time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("TANDEM_CPUPROFILE_DELAY: %w", err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	var mu sync.Mutex
	started, stopped := false, false
	begin := func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped && pprof.StartCPUProfile(f) == nil {
			started = true
		}
	}
	if delay > 0 {
		time.AfterFunc(delay, begin)
	} else {
		begin()
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if started {
			pprof.StopCPUProfile()
		}
		f.Close()
	}, nil
}

// startMemProfile writes the heap profile into path (the TANDEM_MEMPROFILE
// variable of tandem run) after TANDEM_MEMPROFILE_DELAY (a duration;
// default 30s), right after a collection, and logs the runtime's memory
// statistics then; the returned func cancels it if it has not run.
func startMemProfile(path string, log *slog.Logger) (stop func(), err error) {
	delay := 30 * time.Second
	if v := os.Getenv("TANDEM_MEMPROFILE_DELAY"); v != "" {
		if delay, err = time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("TANDEM_MEMPROFILE_DELAY: %w", err)
		}
	}
	t := time.AfterFunc(delay, func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		log.Warn("memory before the profile's collection",
			"heap_inuse_mb", mb(ms.HeapInuse), "heap_idle_mb", mb(ms.HeapIdle), "heap_released_mb", mb(ms.HeapReleased),
			"stack_mb", mb(ms.StackInuse), "sys_mb", mb(ms.Sys), "next_gc_mb", mb(ms.NextGC), "gcs", ms.NumGC)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		log.Warn("memory after a collection", "heap_live_mb", mb(ms.HeapAlloc), "objects", ms.HeapObjects)
		log.Warn("memory by class after a collection", memClasses()...)
		f, err := os.Create(path)
		if err != nil {
			log.Warn("heap profile not written", "err", err)
			return
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			log.Warn("heap profile not written", "err", err)
		}
	})
	return func() { t.Stop() }, nil
}

// memClasses returns the runtime's /memory/classes/ metrics as log
// attributes, in MB: where the process's memory is, beyond the live heap.
func memClasses() []any {
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if strings.HasPrefix(d.Name, "/memory/classes/") && d.Kind == metrics.KindUint64 {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	var attrs []any
	for _, s := range samples {
		name := strings.TrimSuffix(strings.TrimPrefix(s.Name, "/memory/classes/"), ":bytes")
		attrs = append(attrs, name, mb(s.Value.Uint64()))
	}
	return attrs
}

func mb(n uint64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }
