package ipvs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Kernel is the narrow view of the kernel's IPVS table a [Reconciler] uses:
// the real one (over generic netlink, from [Open]) or a fake such as
// [MemKernel]. A Reconciler calls it from its owner goroutine only, so an
// implementation need not be safe for concurrent use.
type Kernel interface {
	// Dump returns every service in the kernel with its destinations, as
	// read back (Diff normalises it).
	Dump() (Table, error)
	// Apply performs ops in order, stopping at the first that fails, and
	// returns the ops it performed, in order. The error of a failed write
	// is an [*OpError] naming the first op that failed. A kernel that
	// pipelines its writes may have performed some ops after the failed
	// one, sent before the failure was known; they are in applied too.
	Apply(ops []Op) (applied []Op, err error)
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
func (r *Reconciler) Reconcile(ctx context.Context, want Table, retire []ServiceKey) (Result, error) {
	if err := want.Validate(); err != nil {
		return Result{}, err
	}
	want = want.Clone()
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
	have, err := r.k.Dump()
	if err != nil {
		return Result{}, dumpError(err)
	}
	res := Result{Foreign: Foreign(have, want, retire)}
	if ops := Diff(have, want, retire); len(ops) > 0 {
		res.Ops, err = r.k.Apply(ops)
		res.Writes = len(res.Ops)
	}
	res.Took = r.now().Sub(start)
	if err != nil {
		return res, applyError(err)
	}
	return res, nil
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
	return Normalize(t), nil
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
