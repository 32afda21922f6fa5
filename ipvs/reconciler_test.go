package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestReconcileTwice(t *testing.T) {
	other := VirtualService(TCP, netip.MustParseAddrPort("198.51.100.1:22"))
	foreign := Service{Key: other, Scheduler: "rr", Flags: FlagHashed, Destinations: []Destination{dest(rs1, 1)}}
	k := NewMemKernel(NewTable(foreign))
	r := NewReconciler(k)
	defer r.Close()
	ctx := context.Background()

	res, err := r.Reconcile(ctx, wantTable(), nil)
	if err != nil {
		t.Fatalf("first Reconcile: %v", err)
	}
	if res.Writes != 7 || len(res.Ops) != 7 {
		t.Errorf("first Reconcile: %d writes, want 7: %v", res.Writes, res.Ops)
	}
	if diff := cmp.Diff([]ServiceKey{other}, res.Foreign, cmpOpt); diff != "" {
		t.Errorf("Foreign mismatch (-want +got):\n%s", diff)
	}

	res, err = r.Reconcile(ctx, wantTable(), nil)
	if err != nil {
		t.Fatalf("second Reconcile: %v", err)
	}
	if res.Writes != 0 {
		t.Errorf("second Reconcile wrote %v, want nothing", res.Ops)
	}

	got, err := r.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Normalize(wantTable())
	want[other] = Normalize(NewTable(foreign))[other]
	// The persistence engine does not read back; wantTable uses none.
	if diff := cmp.Diff(want, got, cmpOpt); diff != "" {
		t.Errorf("Dump mismatch (-want +got):\n%s", diff)
	}
	for _, op := range k.Writes() {
		if op.Service.Key == other {
			t.Errorf("foreign service written: %v", op)
		}
	}

	// A retired service goes; the foreign one stays.
	res, err = r.Reconcile(ctx, NewTable(wantTable()[web]), []ServiceKey{dns6, mark1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes != 2 || res.Ops[0].Kind != DelService || res.Ops[1].Kind != DelService {
		t.Errorf("retire: got %v, want two service deletes", res.Ops)
	}
	got, _ = r.Dump(ctx)
	if _, ok := got[other]; !ok || len(got) != 2 {
		t.Errorf("after retire, table holds %v", got.Keys())
	}
}

func TestReconcileErrors(t *testing.T) {
	ctx := context.Background()

	t.Run("write error wrapped", func(t *testing.T) {
		k := NewMemKernel(nil)
		k.FailWith(func(op Op) error {
			if op.Kind == AddDest && op.Dest.Addr == rs2 {
				return syscall.EEXIST
			}
			return nil
		})
		r := NewReconciler(k)
		defer r.Close()
		res, err := r.Reconcile(ctx, wantTable(), nil)
		var oe *OpError
		if !errors.As(err, &oe) || !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("Reconcile error = %v, want an *OpError wrapping EEXIST", err)
		}
		const msg = "ipvs: add destination 192.168.100.12:80 to TCP 203.0.113.10:80: file exists"
		if err.Error() != msg {
			t.Errorf("error = %q\nwant    %q", err, msg)
		}
		if oe.Service != web || oe.Dest == nil || *oe.Dest != netip.AddrPortFrom(rs2, 80) {
			t.Errorf("OpError = %+v", oe)
		}
		// Three services and rs1 were written before the failure.
		if res.Writes != 4 {
			t.Errorf("Writes = %d, want 4 before the failure: %v", res.Writes, res.Ops)
		}
		// The next reconcile re-reads and finishes the job.
		k.FailWith(nil)
		res, err = r.Reconcile(ctx, wantTable(), nil)
		if err != nil || res.Writes != 3 {
			t.Errorf("retry: %d writes, err %v; want 3, nil", res.Writes, err)
		}
	})

	t.Run("unknown scheduler hint", func(t *testing.T) {
		k := NewMemKernel(nil)
		k.FailWith(func(op Op) error {
			if op.Kind == AddService {
				return syscall.ENOENT
			}
			return nil
		})
		r := NewReconciler(k)
		defer r.Close()
		_, err := r.Reconcile(ctx, NewTable(Service{Key: web, Scheduler: "mh"}), nil)
		const msg = `ipvs: add service TCP 203.0.113.10:80: scheduler "mh" not available (modprobe ip_vs_mh): no such file or directory`
		if err == nil || err.Error() != msg || !errors.Is(err, syscall.ENOENT) {
			t.Errorf("error = %v\nwant    %s", err, msg)
		}
	})

	t.Run("invalid table not applied", func(t *testing.T) {
		k := NewMemKernel(nil)
		r := NewReconciler(k)
		defer r.Close()
		bad := NewTable(Service{Key: web, Destinations: []Destination{{Addr: rs1, Weight: -1}}})
		if _, err := r.Reconcile(ctx, bad, nil); err == nil {
			t.Fatal("Reconcile accepted a negative weight")
		}
		if w := k.Writes(); len(w) != 0 {
			t.Errorf("wrote %v", w)
		}
	})

	t.Run("closed", func(t *testing.T) {
		k := NewMemKernel(nil)
		r := NewReconciler(k)
		if _, err := r.Reconcile(ctx, wantTable(), nil); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if !k.Closed() {
			t.Error("kernel not closed")
		}
		if _, err := r.Reconcile(ctx, wantTable(), nil); !errors.Is(err, ErrClosed) {
			t.Errorf("Reconcile after Close = %v, want ErrClosed", err)
		}
		// Close leaves the table alone.
		if tb, _ := k.Dump(); len(tb) != 3 {
			t.Errorf("table after Close has %d services, want 3", len(tb))
		}
	})

	t.Run("context", func(t *testing.T) {
		r := NewReconciler(NewMemKernel(nil))
		defer r.Close()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := r.Dump(cctx); err == nil {
			// The owner may have taken the request before noticing; then
			// the dump simply succeeded.
			t.Log("dump raced the cancellation and won")
		}
	})
}

// blockingKernel blocks each Apply until released, to hold the owner busy.
type blockingKernel struct {
	*MemKernel
	entered chan struct{}
	release chan struct{}
}

func (b blockingKernel) Apply(ops []Op) ([]Op, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.MemKernel.Apply(ops)
}

func TestReconcileContextWhileBusy(t *testing.T) {
	b := blockingKernel{MemKernel: NewMemKernel(nil), entered: make(chan struct{}, 1), release: make(chan struct{})}
	r := NewReconciler(b)
	defer r.Close()
	first := make(chan error, 1)
	go func() {
		_, err := r.Reconcile(context.Background(), NewTable(Service{Key: web}), nil)
		first <- err
	}()
	<-b.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Dump(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dump while busy = %v, want deadline exceeded", err)
	}
	close(b.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

func TestReconcileConcurrent(t *testing.T) {
	k := NewMemKernel(nil)
	r := NewReconciler(k)
	defer r.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := wantTable()
			w[web].Destinations[0].Weight = i % 2 // two competing wishes
			for range 20 {
				if _, err := r.Reconcile(context.Background(), w, nil); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Dump(context.Background()); err != nil {
					t.Error(err)
					return
				}
				_ = k.Writes()
			}
		}()
	}
	wg.Wait()
	res, err := r.Reconcile(context.Background(), wantTable(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Writes > 1 {
		t.Errorf("final reconcile wrote %v, want at most the one weight", res.Ops)
	}
}

func TestUpdateWithoutDump(t *testing.T) {
	k := NewMemKernel(nil)
	r := NewReconciler(k)
	defer r.Close()
	ctx := context.Background()
	want := wantTable()

	svcs := func() []Service {
		var out []Service
		for _, k := range want.Keys() {
			out = append(out, want[k])
		}
		return out
	}
	// No known table yet: Update dumps first.
	res, err := r.Update(ctx, svcs(), nil)
	if err != nil || res.Writes != 7 || k.Dumps() != 1 {
		t.Fatalf("first Update: %d writes, %d dumps, %v; want 7 writes after 1 dump", res.Writes, k.Dumps(), err)
	}
	// One weight change: one write, no dump.
	want[web].Destinations[0].Weight = 9
	res, err = r.Update(ctx, []Service{want[web]}, nil)
	if err != nil || res.Writes != 1 || res.Ops[0].Kind != UpdateDest || k.Dumps() != 1 {
		t.Fatalf("weight change: %v, %d dumps, %v; want one UpdateDest and no dump", res.Ops, k.Dumps(), err)
	}
	// Nothing changed: nothing written, nothing read.
	if res, err = r.Update(ctx, svcs(), nil); err != nil || res.Writes != 0 || k.Dumps() != 1 {
		t.Fatalf("no change: %v, %d dumps, %v", res.Ops, k.Dumps(), err)
	}
	// A full reconcile agrees with what Update believed.
	if res, err = r.Reconcile(ctx, want, nil); err != nil || res.Writes != 0 {
		t.Fatalf("Reconcile after Updates: %v, %v; want no writes", res.Ops, err)
	}
	// Someone deletes the service behind tandem's back: the Update's write
	// fails, and the next Update dumps again and repairs everything.
	k.mu.Lock()
	delete(k.table, web)
	k.mu.Unlock()
	want[web].Destinations[0].Weight = 3
	if _, err := r.Update(ctx, []Service{want[web]}, nil); err == nil {
		t.Fatal("Update onto a vanished service succeeded")
	}
	dumps := k.Dumps()
	res, err = r.Update(ctx, []Service{want[web]}, nil)
	if err != nil || k.Dumps() != dumps+1 || res.Writes != 3 {
		t.Fatalf("recovering Update: %v, dumps %d->%d, %v; want a dump and 3 writes", res.Ops, dumps, k.Dumps(), err)
	}
	// Retiring through Update deletes the service.
	res, err = r.Update(ctx, nil, []ServiceKey{web})
	if err != nil || res.Writes != 1 || res.Ops[0].Kind != DelService {
		t.Fatalf("retire: %v, %v", res.Ops, err)
	}
}

// TestStatus reads the counters of a MemKernel through a Reconciler:
// keyed and normalised as Dump is, the destinations in order, the
// counters where they were set and zero elsewhere.
func TestStatus(t *testing.T) {
	mapped := ServiceKey{Protocol: TCP, Addr: netip.MustParseAddr("::ffff:198.51.100.1"), Port: 22}
	other := mapped.canonical()
	k := NewMemKernel(NewTable(
		Service{Key: mapped, Scheduler: "rr", Timeout: 5 * time.Second,
			Destinations: []Destination{dest(rs2, 2), {Addr: netip.MustParseAddr("::ffff:192.168.100.11"), Port: 80, Forward: Route | 0x100, Weight: 1}}},
		Service{Key: mark1, Flags: FlagPersistent, Timeout: 60 * time.Second},
	))
	r := NewReconciler(k)
	defer r.Close()
	ap1 := netip.AddrPortFrom(rs1, 80)
	k.SetServiceStats(other, Stats{Conns: 10, InBytes: 1 << 40, CPS: 2})
	k.SetDestStats(mapped, netip.AddrPortFrom(netip.MustParseAddr("::ffff:192.168.100.11"), 80), Stats{Conns: 7, OutPPS: 3})
	k.SetConns(other, ap1, Conns{Active: 1, Inactive: 2, Persistent: 3})
	ctx := context.Background()
	got, err := r.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[ServiceKey]ServiceStatus{
		other: {
			Service: Service{Key: other, Scheduler: "rr", Netmask: 32},
			Stats:   Stats{Conns: 10, InBytes: 1 << 40, CPS: 2},
			Dests: []DestStatus{
				{Destination: Destination{Addr: rs1, Port: 80, Forward: Route, Weight: 1}, Conns: Conns{Active: 1, Inactive: 2, Persistent: 3}, Stats: Stats{Conns: 7, OutPPS: 3}},
				{Destination: dest(rs2, 2)},
			},
		},
		mark1: {Service: Service{Key: mark1, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 60 * time.Second, Netmask: 32}},
	}
	if diff := cmp.Diff(want, got, cmpOpt); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	// Status is Dump's table with counters.
	tbl, err := r.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for key, s := range tbl {
		st := got[key]
		var ds []Destination
		for _, d := range st.Dests {
			ds = append(ds, d.Destination)
		}
		s.Destinations, st.Destinations = nil, nil
		if diff := cmp.Diff(s, st.Service, cmpOpt); diff != "" {
			t.Errorf("%s: Status's service differs from Dump's (-dump +status):\n%s", key, diff)
		}
		if diff := cmp.Diff(tbl[key].Destinations, ds, cmpOpt, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s: Status's destinations differ from Dump's (-dump +status):\n%s", key, diff)
		}
	}
	if n := k.Dumps(); n != 1 {
		t.Errorf("%d dumps, want 1: Status is no Dump", n)
	}
	r.Close()
	if _, err := r.Status(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Status after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkReconcileSteady is the periodic resync of a table that needs
// no writes: 1 000 services × 10 destinations, in memory (MemKernel's
// dump is a copy, as the kernel's read is). Its garbage is what lifts a
// director's heap every resync.
func BenchmarkReconcileSteady(b *testing.B) {
	want := steadyTable()
	r := NewReconciler(NewMemKernel(nil))
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, want, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := r.Reconcile(ctx, want, nil); err != nil || res.Writes != 0 {
			b.Fatal(res, err)
		}
	}
}

// steadyTable is 1 000 services × 10 destinations.
func steadyTable() Table {
	want := Table{}
	for i := range 1000 {
		k := VirtualService(TCP, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 80))
		s := Service{Key: k, Scheduler: "wrr"}
		for j := range 10 {
			n := i*10 + j
			s.Destinations = append(s.Destinations, Destination{Addr: netip.AddrFrom4([4]byte{10, 200, byte(n >> 8), byte(n)}), Port: 9000, Forward: Masq, Weight: 1})
		}
		want[k] = s
	}
	return want
}

// TestReconcileSharesNormalDests checks the contract of Reconcile and
// Update with the caller's table: destinations already in normal form are
// kept, not copied (the resync's memory), and the caller's slices are
// never written, also when they need normalising (then they are copied).
func TestReconcileSharesNormalDests(t *testing.T) {
	mapped := netip.AddrFrom16(rs1.As16()) // ::ffff:192.0.2.1
	normal := VirtualService(TCP, netip.MustParseAddrPort("198.51.100.1:80"))
	odd := VirtualService(TCP, netip.MustParseAddrPort("198.51.100.2:80"))
	want := NewTable(
		Service{Key: normal, Scheduler: "rr", Destinations: []Destination{dest(rs1, 1), dest(rs2, 1)}},
		// Unsorted, and a mapped address.
		Service{Key: odd, Scheduler: "rr", Destinations: []Destination{
			dest(rs2, 1), {Addr: mapped, Port: 80, Forward: Route, Weight: 1}}},
	)
	before := want.Clone()
	r := NewReconciler(NewMemKernel(nil))
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, want, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(ctx, []Service{want[odd]}, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, want, cmpOpt); diff != "" {
		t.Errorf("the caller's table was written (-before +after):\n%s", diff)
	}
	var known Table
	if err := r.do(ctx, func() { known = r.known }); err != nil {
		t.Fatal(err)
	}
	if &known[normal].Destinations[0] != &want[normal].Destinations[0] {
		t.Error("destinations in normal form were copied")
	}
	if &known[odd].Destinations[0] == &want[odd].Destinations[0] {
		t.Error("destinations that needed normalising were not copied")
	}
	if got := known[odd].Destinations; got[0].Addr != rs1 || got[0].Forward != Route {
		t.Errorf("known destinations not normalised: %v", got)
	}
}
