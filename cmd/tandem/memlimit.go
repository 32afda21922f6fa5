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
// resident set would peak at about twice what tandem keeps. 20 holds the
// heap within a fifth of it; tandem allocates little once running (a few
// hundred bytes a probe), so the extra collections cost little CPU.
// GOMEMLIMIT, when the operator sets it, is applied by the runtime as
// usual.
const startupGCPercent = 20

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
