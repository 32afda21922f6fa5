package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// startupGCPercent is tandem's GOGC from its start, when the environment
// sets none. Go's default of 100 lets the heap grow to twice
// what survived the last collection before the next: loading a cluster
// file, reading the kernel's table and starting thousands of checks leave
// much garbage behind a live heap that is mostly long-lived, so the
// resident set would peak at about twice what tandem keeps. 10 holds the
// heap within a tenth of it. Once running tandem allocates little (its
// probes reuse their state; a resync, a reload or a reader of the status
// makes the garbage), so collections are rare. In the lab VM at 10 000
// checks, two runs each against 20: RSS 2.0 MB lower for tcp checks and
// 4.6 MB for http, for 2–5 % more of one emulated CPU (BENCHMARKS.md,
// "Memory of 10 000 checks"). GOMEMLIMIT, when the operator sets it, is
// applied by the runtime as usual.
const startupGCPercent = 10

// tuneStartupMemory applies startupGCPercent unless GOGC is set, and
// turns the heap profiler's sampling off unless a heap profile is asked
// for (TANDEM_MEMPROFILE, or GODEBUG=memprofilerate=N): its records of
// the sampled allocations' stacks (a 1.4 MB hash table and a bucket per
// stack) are kept for the process's life, and nothing reads them.
func tuneStartupMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(startupGCPercent)
	}
	if os.Getenv("TANDEM_MEMPROFILE") == "" && !strings.Contains(os.Getenv("GODEBUG"), "memprofilerate=") {
		runtime.MemProfileRate = 0
	}
}
