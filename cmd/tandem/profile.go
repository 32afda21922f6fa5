package main

import (
	"fmt"
	"os"
	"runtime/pprof"
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
