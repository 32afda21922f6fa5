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
// Threshold (counted process-wide while it ran), one trim at a time.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := allocated()
		h.ServeHTTP(w, r)
		if allocated()-before > Threshold && trimming.CompareAndSwap(false, true) {
			go func() {
				defer trimming.Store(false)
				trim()
			}()
		}
	})
}

// allocated is the bytes the process has allocated on the heap so far.
func allocated() uint64 {
	s := [1]metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
