// Package memtrim hands the memory of a big answer back to the system
// once it is sent.
//
// A status document, a scrape or the status page of a large table is
// built for one reader and dropped (about 10 MB at 10 000 real servers).
// The runtime keeps the pages that held it until its next collection and
// scavenges them slowly after; with the checker making almost no garbage
// between reads, that next collection can be a resync away, so every
// reader's peak becomes the director's resident size. After a request
// that allocated more than Threshold, Handler collects and returns the
// free pages to the system, off the request's path.
package memtrim

import (
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Threshold is how much a request must allocate for Handler to trim
// after it: a table of about 4 000 real servers, well above what a
// small cluster's answers cost (a collection of a small heap is cheap
// anyway, but there is nothing to return).
const Threshold = 4 << 20

var (
	trimming atomic.Bool // a trim runs: the next request's is not needed
	trim     = debug.FreeOSMemory
)

// Handler returns h, trimming after each request that allocated more than
// Threshold (counted process-wide while it ran), one trim at a time, unless
// a trim was forced meanwhile (a reload trims after itself).
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := read()
		h.ServeHTTP(w, r)
		after := read()
		if after.allocs-before.allocs > Threshold && after.forced == before.forced && trimming.CompareAndSwap(false, true) {
			go func() {
				defer trimming.Store(false)
				trim()
			}()
		}
	})
}

// counts are the process's heap allocations so far, in bytes, and the
// collections forced so far (debug.FreeOSMemory, runtime.GC).
type counts struct{ allocs, forced uint64 }

func read() counts {
	s := [2]metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s[:])
	var c counts
	if s[0].Value.Kind() == metrics.KindUint64 {
		c.allocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		c.forced = s[1].Value.Uint64()
	}
	return c
}
