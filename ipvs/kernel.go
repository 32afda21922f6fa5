package ipvs

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// Options tune [OpenWith]. The zero value is what [Open] uses.
type Options struct {
	// ReadSockets is how many netlink sockets read the table back: the one
	// that also writes, and ReadSockets-1 that only read, opened with it in
	// the same namespace and kept until Close. A table read (the dump of
	// [Reconciler.Reconcile], [Reconciler.Dump], [Reconciler.Status])
	// dumps the services, then the destinations of every service, one dump
	// per service as the kernel requires; it runs that many destination
	// dumps at once. 0 means [DefaultReadSockets]; 1 reads on the writing
	// socket alone, one service after another.
	ReadSockets int
}

// DefaultReadSockets is the number of sockets a table read uses unless
// [Options] say otherwise.
const DefaultReadSockets = 4

func (o Options) readSockets() int {
	if o.ReadSockets <= 0 {
		return DefaultReadSockets
	}
	return o.ReadSockets
}

// netlinkKernel is the [Kernel] of [Open]: IPVS generic netlink over one
// socket that writes and reads, plus a few that only read (readers), all
// kept for the Kernel's lifetime.
//
// A read runs the destination dumps on all the sockets at once, from
// goroutines it starts and waits for; no socket is used by two goroutines
// at a time, and nothing runs between calls, so the Kernel is still used
// from one goroutine (its [Reconciler]'s owner).
type netlinkKernel struct {
	c       *genlClient
	readers []*genlClient
	dests   int // destinations in the last read, to size the next
	svcs    int // services in the last read, likewise
	kept    int // destinations kept by the last dumpMatching, to size its next
	// reads is dumpMatching's services as read, kept (cleared) for the
	// next: a resync reads the whole table every time.
	reads []serviceRead[Destination]
}

// readChunk is how many services a read's worker takes at a time.
const readChunk = 8

// serviceRead is one service of a table read, with its destinations as D
// (a [Destination] or a [DestStatus]).
type serviceRead[D any] struct {
	svc   Service
	stats Stats
	dests []D
	// matched: the read's match took the service, and svc is what it
	// made of it (dests are nil).
	matched bool
}

// readTable dumps every service on k's writing socket, then the
// destinations of each, spread over all of k's sockets: each socket's
// worker takes the next readChunk services not yet taken and dumps their
// destinations one after another, decoding each message with parse, until
// none are left or one fails. A service deleted between the two dumps
// shows with no destinations. The destinations of one worker share one
// array, each service's slice capped at its length.
//
// match, if not nil, is called with each service as read and its
// destinations, from all the workers at once; when it reports true, it
// has set the service to what the read returns in its place, and the
// destinations as read are not kept: the next service is read into
// the same place, and it is free to reorder them.
//
// The services are appended to svcs, which is made when nil.
func readTable[D any](k *netlinkKernel, svcs []serviceRead[D], stats bool, parse func(data []byte, fam Family) (D, error), match func(s *Service, ds []D) bool) ([]serviceRead[D], error) {
	if svcs == nil {
		svcs = make([]serviceRead[D], 0, k.svcs)
	}
	err := k.c.serviceStatus(stats, func(s Service, st Stats) {
		svcs = append(svcs, serviceRead[D]{svc: s, stats: st})
	})
	if err != nil {
		return nil, &OpError{Op: "list services", Err: err}
	}
	clients := append([]*genlClient{k.c}, k.readers...)
	workers := min(len(clients), (len(svcs)+readChunk-1)/readChunk)
	var (
		next   atomic.Int64 // the first service not yet taken
		failed atomic.Bool
		errs   = make([]error, workers)
		wg     sync.WaitGroup
		hint   = k.dests/max(workers, 1) + readChunk
	)
	if match != nil {
		hint = k.kept/max(workers, 1) + readChunk
	}
	work := func(w int) {
		c := clients[w]
		arena := make([]D, 0, hint)
		for !failed.Load() {
			first := int(next.Add(readChunk)) - readChunk
			if first >= len(svcs) {
				return
			}
			for i := first; i < min(first+readChunk, len(svcs)); i++ {
				s := &svcs[i]
				start := len(arena)
				fam := s.svc.Key.canonical().Family
				err := c.destDump(s.svc, func(data []byte) error {
					d, err := parse(data, fam)
					if err == nil {
						arena = append(arena, d)
					}
					return err
				})
				if err != nil {
					errs[w] = &OpError{Op: "list destinations of", Service: s.svc.Key, Err: err}
					failed.Store(true)
					return
				}
				if match != nil && match(&s.svc, arena[start:]) {
					s.matched = true
					arena = arena[:start]
					continue
				}
				// A grown arena moves; the old array keeps what was read
				// into it.
				if len(arena) > start {
					s.dests = arena[start:len(arena):len(arena)]
				}
			}
		}
	}
	for w := 1; w < workers; w++ {
		wg.Go(func() { work(w) })
	}
	if workers > 0 {
		work(0) // the writing socket's share, on the calling goroutine
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	n := 0
	for _, s := range svcs {
		n += len(s.dests)
	}
	if match != nil {
		k.kept = n
	} else {
		k.dests = n
	}
	k.svcs = len(svcs)
	return svcs, nil
}

// Dump reads every service, then the destinations of each ([readTable]).
func (k *netlinkKernel) Dump() (Table, error) { return k.dumpMatching(nil, nil) }

// dumpMatching is [matchDumper]'s: Dump into t (nil: a new map), with
// match (nil: none) given to [readTable].
func (k *netlinkKernel) dumpMatching(t Table, match func(*Service, []Destination) bool) (Table, error) {
	svcs, err := readTable(k, k.reads[:0], false, parseDest, match)
	defer func() { clear(svcs); k.reads = svcs[:0] }() // what they point at is t's now, or garbage
	if err != nil {
		return nil, err
	}
	if t == nil {
		t = make(Table, len(svcs))
	}
	for _, r := range svcs {
		if !r.matched {
			r.svc.Destinations = r.dests
		}
		t[r.svc.Key] = r.svc
	}
	return t, nil
}

// Status reads what Dump reads, with the counters and statistics.
func (k *netlinkKernel) Status() (map[ServiceKey]ServiceStatus, error) {
	svcs, err := readTable(k, nil, true, func(data []byte, fam Family) (DestStatus, error) {
		return parseDestStatus(data, fam, true)
	}, nil)
	if err != nil {
		return nil, err
	}
	st := make(map[ServiceKey]ServiceStatus, len(svcs))
	for _, r := range svcs {
		st[r.svc.Key] = ServiceStatus{Service: r.svc, Stats: r.stats, Dests: r.dests}
	}
	return st, nil
}

// Apply writes ops pipelined ([genlClient.apply]).
func (k *netlinkKernel) Apply(ops []Op) ([]Op, error) { return k.c.apply(ops) }

// Conns reads the connection counters of one service's destinations.
func (k *netlinkKernel) Conns(key ServiceKey) (map[netip.AddrPort]Conns, error) {
	return k.c.conns(key)
}

// Close closes the sockets; the table stays.
func (k *netlinkKernel) Close() error {
	err := k.c.conn.Close()
	for _, r := range k.readers {
		if rerr := r.conn.Close(); err == nil {
			err = rerr
		}
	}
	return err
}
