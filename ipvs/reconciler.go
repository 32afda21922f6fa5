package ipvs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"sync"
	"time"
)

// Kernel is the narrow view of the kernel's IPVS table a [Reconciler] uses:
// the real one (over generic netlink, from [Open]) or a fake such as
// [MemKernel]. A Reconciler calls it from its owner goroutine only, so an
// implementation need not be safe for concurrent use.
type Kernel interface {
	// Dump returns every service in the kernel with its destinations, as
	// read back. The table is the caller's: the Reconciler normalises it
	// in place.
	Dump() (Table, error)
	// Apply performs ops in order, stopping at the first that fails, and
	// returns the ops it performed, in order. The error of a failed write
	// is an [*OpError] naming the first op that failed. A kernel that
	// pipelines its writes may have performed some ops after the failed
	// one, sent before the failure was known; they are in applied too.
	Apply(ops []Op) (applied []Op, err error)
	// Conns returns the connection counters of the destinations of the
	// service keyed k, by destination address and port (unmapped).
	Conns(k ServiceKey) (map[netip.AddrPort]Conns, error)
	// Status returns what Dump returns, every service with its
	// destinations, with their counters ([ServiceStatus]), as read back;
	// the caller's too.
	Status() (map[ServiceKey]ServiceStatus, error)
	// Close releases the kernel handle. It must not change the table.
	Close() error
}

// Result reports one reconcile.
type Result struct {
	Ops     []Op          // the writes performed, in order
	Writes  int           // len(Ops): 0 when the kernel already matched
	Foreign []ServiceKey  // services in the kernel tandem does not own, left alone
	Took    time.Duration // from the dump to the last write
}

// Reconciler keeps the kernel's IPVS table in line with a wanted [Table]. One
// owner goroutine, started by [NewReconciler], holds the [Kernel] and runs
// every request in turn; all methods are safe for concurrent use.
type Reconciler struct {
	k    Kernel
	now  func() time.Time
	reqs chan func()
	quit chan struct{}
	done chan struct{}

	// known is the kernel table as of the last successful reconcile or
	// update (normalised), owned by the owner goroutine; nil when unknown
	// (before the first reconcile, after a failure).
	known Table

	closeOnce sync.Once
	closeErr  error
}

// NewReconciler returns a Reconciler that owns k and starts its owner
// goroutine. Call Close to stop it and release k.
func NewReconciler(k Kernel) *Reconciler {
	r := &Reconciler{
		k:    k,
		now:  time.Now,
		reqs: make(chan func()),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go r.run()
	return r
}

func (r *Reconciler) run() {
	defer close(r.done)
	for {
		select {
		case fn := <-r.reqs:
			fn()
		case <-r.quit:
			r.closeErr = r.k.Close()
			return
		}
	}
}

// do runs fn on the owner goroutine and waits for it. If ctx ends first, do
// returns ctx.Err(); fn, once started, still runs to completion.
func (r *Reconciler) do(ctx context.Context, fn func()) error {
	finished := make(chan struct{})
	req := func() {
		defer close(finished)
		fn()
	}
	select {
	case r.reqs <- req:
	case <-r.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reconcile makes the kernel hold want: it validates want, dumps the kernel
// table, computes [Diff](have, want, retire) and applies the ops in order,
// stopping at the first error. It returns what it wrote, also on error: the
// ops before the failing one and, from the real kernel, which pipelines its
// writes, any ops after it that were already sent and succeeded. The error
// is an [*OpError] for a failed write. A failed reconcile can simply be retried: the next one dumps the
// table again. Services neither in want nor in retire are never touched.
//
// The Reconciler keeps the destination slices of want's services (as the
// table it last wrote) instead of copying them: the caller must not
// modify them afterwards. To change a service, give it a new slice, as
// [Table.Clone] does.
func (r *Reconciler) Reconcile(ctx context.Context, want Table, retire []ServiceKey) (Result, error) {
	if err := want.Validate(); err != nil {
		return Result{}, err
	}
	want = maps.Clone(want)
	retire = append([]ServiceKey(nil), retire...)
	var (
		res  Result
		rerr error
	)
	err := r.do(ctx, func() { res, rerr = r.reconcile(want, retire) })
	if err != nil {
		return Result{}, err
	}
	return res, rerr
}

func (r *Reconciler) reconcile(want Table, retire []ServiceKey) (Result, error) {
	start := r.now()
	last := r.known
	r.known = nil
	want = normalizeSharedTable(want)
	clear(last)
	have, err := r.dump(last, want)
	if err != nil {
		return Result{}, dumpError(err)
	}
	have = normalizeRead(have)
	res := Result{Foreign: Foreign(have, want, retire)}
	return r.apply(start, have, want, retire, res)
}

// matchDumper is a [Kernel] that can compare what it reads as it reads
// it (netlinkKernel's readTable): a service that match takes is not kept
// as read. It reads into t, an empty map, unless t is nil.
type matchDumper interface {
	dumpMatching(t Table, match func(*Service, []Destination) bool) (Table, error)
}

// dump reads the kernel's table for a reconcile to want, which is
// normalised, into into (empty; nil: a new map) when the kernel can
// (matchDumper). A service read that already equals want's is then
// returned as want's service, sharing its destinations: a resync that
// finds the table as it should be keeps no copy of it, nor makes one as
// garbage. Others are returned as read.
func (r *Reconciler) dump(into, want Table) (Table, error) {
	md, ok := r.k.(matchDumper)
	if !ok {
		return r.k.Dump()
	}
	return md.dumpMatching(into, func(s *Service, ds []Destination) bool {
		w, ok := want[s.Key.canonical()]
		if !ok || s.Ordered() || len(ds) != len(w.Destinations) {
			return false // (an ordered service's read order counts)
		}
		h := *s
		h.Destinations = ds
		if h = normalizeOwned(h.Key, h); !sameService(h, w) {
			return false
		}
		for i, d := range ds {
			if !d.Same(w.Destinations[i]) {
				return false
			}
		}
		*s = w
		return true
	})
}

// apply writes Diff(have, want, retire) and, when every write succeeded,
// remembers the resulting table as known. have is normalised (read with
// normalizeRead, or taken from known); want, whose destination slices the
// caller may still hold, is normalised here, copying only the slices that
// need it.
func (r *Reconciler) apply(start time.Time, have, want Table, retire []ServiceKey, res Result) (Result, error) {
	var err error
	want = normalizeSharedTable(want)
	if ops := diffNormal(have, want, retire); len(ops) > 0 {
		res.Ops, err = r.k.Apply(ops)
		res.Writes = len(res.Ops)
	}
	res.Took = r.now().Sub(start)
	if err != nil {
		r.known = nil
		return res, applyError(err)
	}
	for k, s := range want {
		have[k] = s
	}
	for _, k := range retire {
		delete(have, k.canonical())
	}
	r.known = have
	return res, nil
}

// Update is Reconcile without the dump, for a few services: it makes the
// kernel hold exactly svcs (each whole, with all its destinations) and
// deletes the services in retire, diffing against the table as it stood
// after the last successful Reconcile or Update. Applying one health
// verdict thus costs one write, no read, and work in proportion to the
// services given, not to the table. Services not named are not looked at.
//
// It falls back to a full Reconcile of the known table with svcs applied
// when that table is unknown (no Reconcile yet, or the last call failed).
// Changes made to the kernel by others go unnoticed until the next
// Reconcile, which a caller runs periodically; a write that fails because
// of them returns its error, and the next Update starts with a dump. Like
// Reconcile, it keeps the destination slices of svcs.
func (r *Reconciler) Update(ctx context.Context, svcs []Service, retire []ServiceKey) (Result, error) {
	want := NewTable(svcs...)
	if err := want.Validate(); err != nil {
		return Result{}, err
	}
	retire = append([]ServiceKey(nil), retire...)
	var (
		res  Result
		rerr error
	)
	err := r.do(ctx, func() {
		start := r.now()
		have := r.known
		if have == nil {
			t, err := r.k.Dump()
			if err != nil {
				rerr = dumpError(err)
				return
			}
			have = normalizeRead(t)
		}
		sub := make(Table, len(want)+len(retire))
		for _, k := range append(want.Keys(), retire...) {
			k = k.canonical()
			if s, ok := have[k]; ok {
				sub[k] = s
			}
		}
		res, rerr = r.apply(start, sub, want, retire, Result{})
		if rerr == nil {
			// apply remembered only the subset: merge it into the whole.
			for _, k := range retire {
				delete(have, k.canonical())
			}
			for k, s := range r.known {
				have[k] = s
			}
			r.known = have
		}
	})
	if err != nil {
		return Result{}, err
	}
	return res, rerr
}

func applyError(err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	return &OpError{Op: "apply", Err: err}
}

func dumpError(err error) error {
	var oe *OpError
	if errors.As(err, &oe) {
		return err
	}
	return &OpError{Op: "dump", Err: err}
}

// Dump returns the kernel's whole table, foreign services included, in
// normalised form ([Normalize]).
func (r *Reconciler) Dump(ctx context.Context) (Table, error) {
	var (
		t    Table
		derr error
	)
	if err := r.do(ctx, func() { t, derr = r.k.Dump() }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, dumpError(derr)
	}
	return normalizeRead(t), nil
}

// Conns are the connection counters of one destination, as the kernel
// reports them (ipvsadm -Ln's ActiveConn and InActConn columns, and the
// persistence templates). They are not part of a [Table]: [Diff] never
// looks at them.
type Conns struct {
	Active     uint32 // established (TCP) connections
	Inactive   uint32 // every other state: closing, SYN_RECV, UDP entries
	Persistent uint32 // persistence templates
}

// Conns reads the connection counters of the destinations of the service
// keyed k: one destination dump of that service, no service dump. The
// caller uses it to delete a drained destination once its connections are
// gone (graceful termination).
func (r *Reconciler) Conns(ctx context.Context, k ServiceKey) (map[netip.AddrPort]Conns, error) {
	var (
		out  map[netip.AddrPort]Conns
		cerr error
	)
	if err := r.do(ctx, func() { out, cerr = r.k.Conns(k.canonical()) }); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, dumpError(cerr)
	}
	return out, nil
}

// Close stops the owner goroutine, after any request in progress, and closes
// the kernel handle. It leaves the kernel table as it is, so connections
// survive a restart of tandem. Close may be called more than once; later
// calls return the first call's error.
func (r *Reconciler) Close() error {
	r.closeOnce.Do(func() {
		close(r.quit)
		<-r.done
		if r.closeErr != nil {
			r.closeErr = fmt.Errorf("ipvs: close: %w", r.closeErr)
		}
	})
	return r.closeErr
}
