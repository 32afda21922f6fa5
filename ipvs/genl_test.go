package ipvs

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const fakeFamily = 42

// fakeKernel is an nlConn that plays the kernel's IPVS generic netlink over
// a MemKernel: it handles every request of a datagram in order and goes on
// after a failed one (as netlink_rcv_skb does), queues one datagram per
// reply, and answers dumps from the MemKernel's table.
type fakeKernel struct {
	mem   *MemKernel
	sends int      // datagrams received
	queue [][]byte // datagrams to read
	// extAck, if set, is the extended-ack message of error acks.
	extAck string
	// dumped lists the services whose destinations were dumped, in order.
	dumped []ServiceKey
	// corrupt, if set, makes the destination dump of that service send a
	// truncated message before the good ones.
	corrupt ServiceKey
	// hang, if set, makes the destination dump of that service send
	// nothing: the read then fails (EAGAIN, as after the kernel's receive
	// timeout).
	hang ServiceKey
	// cache, for a benchmark, keeps each destination dump's answer, as
	// one datagram, until this fake's next write (a reader's cache would
	// go stale): the fake's own garbage would hide the reader's.
	cache     bool
	datagrams map[ServiceKey][][]byte // by service; the zero key: the service dump's
}

func (f *fakeKernel) Close() error { return nil }

func (f *fakeKernel) Recv(b []byte) (int, error) {
	if len(f.queue) == 0 {
		return 0, syscall.EAGAIN
	}
	d := f.queue[0]
	f.queue = f.queue[1:]
	return copy(b, d), nil
}

func (f *fakeKernel) reply(typ, flags uint16, seq uint32, payload []byte) {
	b := native.AppendUint32(nil, uint32(nlmsgHdrLen+len(payload)))
	b = native.AppendUint16(b, typ)
	b = native.AppendUint16(b, flags)
	b = native.AppendUint32(b, seq)
	b = native.AppendUint32(b, 1234)
	f.queue = append(f.queue, append(b, payload...))
}

func (f *fakeKernel) ack(m nlMsg, err error) {
	var code int32
	var errno syscall.Errno
	if errors.As(err, &errno) {
		code = -int32(errno)
	} else if err != nil {
		code = -int32(syscall.EINVAL)
	}
	p := native.AppendUint32(nil, uint32(code))
	p = native.AppendUint32(p, uint32(nlmsgHdrLen+len(m.data)))
	p = native.AppendUint16(p, m.typ)
	p = native.AppendUint16(p, m.flags)
	p = native.AppendUint32(p, m.seq)
	p = native.AppendUint32(p, 0)
	flags := uint16(nlmFCapped)
	if code != 0 && f.extAck != "" {
		p = appendString(p, nlmsgerrAttrMsg, f.extAck)
		flags |= nlmFAckTLVs
	}
	f.reply(nlmsgError, flags, m.seq, p)
}

func (f *fakeKernel) Send(b []byte) error {
	f.sends++
	msgs, err := splitMessages(b)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.typ == genlIDCtrl {
			p := []byte{1, 1, 0, 0}
			p = appendU16(p, ctrlAttrFamilyID, fakeFamily)
			f.reply(genlIDCtrl, 0, m.seq, p)
			continue
		}
		if m.typ != fakeFamily {
			f.ack(m, syscall.ENOENT)
			continue
		}
		cmd := m.data[0]
		if m.flags&nlmFDump == nlmFDump {
			f.dump(m, cmd)
			continue
		}
		f.datagrams = nil
		svc, err := parseService(m.data)
		if err != nil {
			f.ack(m, err)
			continue
		}
		op := Op{Service: svc}
		switch cmd {
		case ipvsCmdNewService:
			op.Kind = AddService
		case ipvsCmdSetService:
			op.Kind = UpdateService
		case ipvsCmdDelService:
			op.Kind = DelService
		case ipvsCmdNewDest, ipvsCmdSetDest, ipvsCmdDelDest:
			op.Kind = map[uint8]OpKind{ipvsCmdNewDest: AddDest, ipvsCmdSetDest: UpdateDest, ipvsCmdDelDest: DelDest}[cmd]
			if op.Dest, err = parseDest(m.data, svc.Key.Family); err != nil {
				f.ack(m, err)
				continue
			}
			// The kernel takes only the key from a destination op.
			have, _ := f.mem.Dump()
			op.Service = have[svc.Key]
			op.Service.Key = svc.Key
			op.Service.Destinations = nil
			op.Service.Flags &^= FlagHashed
		}
		_, err = f.mem.Apply([]Op{op})
		f.ack(m, errors.Unwrap(err))
	}
	return nil
}

// withStats appends the statistics nests to a dump message b whose
// attributes are one nest, and fixes that nest's length.
func withStats(b []byte, old, wide uint16, st Stats) []byte {
	b = appendTestStats(b, statsNest{old, false}, st)
	b = appendTestStats(b, statsNest{wide, true}, st)
	native.PutUint16(b[genlHdrLen:], uint16(len(b)-genlHdrLen))
	return b
}

func (f *fakeKernel) dump(m nlMsg, cmd uint8) {
	if !f.cache {
		have, _ := f.mem.Status()
		f.dumpFrom(have, m, cmd)
		return
	}
	if f.datagrams == nil {
		have, _ := f.mem.Status()
		f.datagrams = map[ServiceKey][][]byte{}
		keep := func(k ServiceKey, m nlMsg, cmd uint8) {
			start := len(f.queue)
			f.dumpFrom(have, m, cmd)
			var ds [][]byte // the messages, in datagrams of up to a page, as the kernel sends them
			for _, msg := range f.queue[start:] {
				if n := len(ds); n == 0 || len(ds[n-1])+len(msg) > 4096 {
					ds = append(ds, nil)
				}
				ds[len(ds)-1] = append(ds[len(ds)-1], msg...)
			}
			f.datagrams[k] = ds
			f.queue = f.queue[:start]
		}
		keep(ServiceKey{}, m, ipvsCmdGetService)
		for k, st := range have {
			keep(k, nlMsg{data: appendService([]byte{ipvsCmdGetDest, 1, 0, 0}, st.Service, false)}, ipvsCmdGetDest)
		}
	}
	var k ServiceKey
	if cmd == ipvsCmdGetDest {
		s, _ := parseService(m.data)
		k = s.Key
	}
	for _, d := range f.datagrams[k] {
		for b := d; len(b) >= nlmsgHdrLen; b = b[nlaAlign(int(native.Uint32(b))):] {
			native.PutUint32(b[8:], m.seq)
		}
		f.queue = append(f.queue, d)
	}
}

// dumpFrom answers a dump request from the table have.
func (f *fakeKernel) dumpFrom(have map[ServiceKey]ServiceStatus, m nlMsg, cmd uint8) {
	switch cmd {
	case ipvsCmdGetService:
		for _, k := range slices.SortedFunc(maps.Keys(have), ServiceKey.Compare) {
			s := have[k]
			b := appendService([]byte{cmd, 1, 0, 0}, s.Service, true)
			f.reply(fakeFamily, nlmFMulti, m.seq, withStats(b, ipvsSvcAttrStats, ipvsSvcAttrStats64, s.Stats))
		}
	case ipvsCmdGetDest:
		s, _ := parseService(m.data)
		f.dumped = append(f.dumped, s.Key)
		if s.Key == f.hang {
			return
		}
		if s.Key == f.corrupt {
			b := appendDest([]byte{cmd, 1, 0, 0}, Destination{Addr: rs1}, true)
			f.reply(fakeFamily, nlmFMulti, m.seq, b[:len(b)-3])
		}
		for _, d := range have[s.Key].Dests {
			b := appendDest([]byte{cmd, 1, 0, 0}, d.Destination, true)
			// The counters, inside the destination's nest, as the kernel
			// reports them.
			b = appendU32(b, ipvsDestAttrActive, d.Conns.Active)
			b = appendU32(b, ipvsDestAttrInactive, d.Conns.Inactive)
			b = appendU32(b, ipvsDestAttrPersist, d.Conns.Persistent)
			f.reply(fakeFamily, nlmFMulti, m.seq, withStats(b, ipvsDestAttrStats, ipvsDestAttrStats64, d.Stats))
		}
	}
	f.reply(nlmsgDone, nlmFMulti, m.seq, []byte{0, 0, 0, 0})
}

func newFakeGenl(t *testing.T, batch int) (*fakeKernel, *Reconciler) {
	t.Helper()
	fs, r := newFakeGenlReaders(t, batch, 1)
	return fs[0], r
}

// newFakeGenlReaders returns the fake kernels of a Reconciler that reads
// over n sockets: the first writes, all share the first one's MemKernel.
func newFakeGenlReaders(t *testing.T, batch, n int) ([]*fakeKernel, *Reconciler) {
	t.Helper()
	f := &fakeKernel{mem: NewMemKernel(nil)}
	c := newGenlClient(f, 0, batch)
	if err := c.resolveFamily(); err != nil || c.family != fakeFamily {
		t.Fatalf("resolveFamily: %v, family %d", err, c.family)
	}
	fs := []*fakeKernel{f}
	k := &netlinkKernel{c: c}
	for range n - 1 {
		rf := &fakeKernel{mem: f.mem}
		fs = append(fs, rf)
		k.readers = append(k.readers, newGenlClient(rf, c.family, 1))
	}
	return fs, NewReconciler(k)
}

func TestGenlReconcile(t *testing.T) {
	f, r := newFakeGenl(t, 4)
	defer r.Close()
	ctx := context.Background()
	res, err := r.Reconcile(ctx, wantTable(), nil)
	if err != nil || res.Writes != 7 {
		t.Fatalf("first Reconcile: %v, %v", res.Ops, err)
	}
	// The family lookup, the service dump, three destination dumps of an
	// empty table (none) and two batches of at most four writes.
	if f.sends != 1+1+2 {
		t.Errorf("%d datagrams sent, want 4", f.sends)
	}
	if diff := cmp.Diff(res.Ops, f.mem.Writes(), cmpOpt); diff != "" {
		t.Errorf("reported ops differ from those applied (-reported +applied):\n%s", diff)
	}
	got, err := r.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Normalize(wantTable()), got, cmpOpt); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
	res, err = r.Reconcile(ctx, wantTable(), nil)
	if err != nil || res.Writes != 0 {
		t.Errorf("second Reconcile: %v, %v; want no writes", res.Ops, err)
	}
	res, err = r.Reconcile(ctx, nil, wantTable().Keys())
	if err != nil || res.Writes != 3 {
		t.Errorf("retire: %v, %v", res.Ops, err)
	}
}

func TestGenlConns(t *testing.T) {
	f, r := newFakeGenl(t, 64)
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Reconcile(ctx, wantTable(), nil); err != nil {
		t.Fatal(err)
	}
	s := wantTable()[web]
	d0, d1 := s.Destinations[0].AddrPort(), s.Destinations[1].AddrPort()
	f.mem.SetConns(web, d0, Conns{Active: 3, Inactive: 2, Persistent: 1})
	sends := f.sends
	got, err := r.Conns(ctx, web)
	if err != nil {
		t.Fatal(err)
	}
	want := map[netip.AddrPort]Conns{d0: {Active: 3, Inactive: 2, Persistent: 1}, d1: {}}
	if diff := cmp.Diff(want, got, cmpOpt); diff != "" {
		t.Errorf("Conns (-want +got):\n%s", diff)
	}
	if f.sends != sends+1 {
		t.Errorf("Conns sent %d datagrams, want 1 (one destination dump)", f.sends-sends)
	}
	// The counters never make a difference to Diff.
	if res, err := r.Reconcile(ctx, wantTable(), nil); err != nil || res.Writes != 0 {
		t.Errorf("reconcile with connections: %v, %v; want no writes", res.Ops, err)
	}
	// The kernel's destination dump of a missing service is empty.
	if got, err := r.Conns(ctx, ServiceKey{Protocol: TCP, Addr: rs1, Port: 1}); err != nil || len(got) != 0 {
		t.Errorf("Conns of a missing service: %v, %v; want none", got, err)
	}
}

func TestGenlFailureMidBatch(t *testing.T) {
	f, r := newFakeGenl(t, 64)
	defer r.Close()
	f.extAck = "no such thing"
	f.mem.FailWith(func(op Op) error {
		if op.Kind == AddDest && op.Dest.Addr == rs1 {
			return syscall.EEXIST
		}
		return nil
	})
	// A stale ack of an abandoned request must be skipped.
	f.reply(nlmsgError, nlmFCapped, 1, make([]byte, 20))
	res, err := r.Reconcile(context.Background(), wantTable(), nil)
	var oe *OpError
	if !errors.As(err, &oe) || !errors.Is(err, syscall.EEXIST) || oe.Dest == nil || oe.Dest.Addr() != rs1 {
		t.Fatalf("error = %v, want an *OpError for rs1 wrapping EEXIST", err)
	}
	if !strings.Contains(err.Error(), "(no such thing)") {
		t.Errorf("error %q lacks the extended-ack message", err)
	}
	// One datagram: the kernel went on after the failure, so every other
	// op was applied and must be reported.
	if res.Writes != 6 {
		t.Errorf("Writes = %d, want 6: %v", res.Writes, res.Ops)
	}
	if diff := cmp.Diff(res.Ops, f.mem.Writes(), cmpOpt); diff != "" {
		t.Errorf("reported ops differ from those applied (-reported +applied):\n%s", diff)
	}
}

func TestGenlFailureStopsBatches(t *testing.T) {
	f, r := newFakeGenl(t, 2)
	defer r.Close()
	f.mem.FailWith(func(op Op) error {
		if op.Kind == AddService && op.Service.Key == web {
			return syscall.ENOENT
		}
		return nil
	})
	res, err := r.Reconcile(context.Background(), wantTable(), nil)
	if !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("error = %v", err)
	}
	// web is added first; the rest of its datagram (dns6) goes through,
	// no later datagram is sent.
	if res.Writes != 1 || res.Ops[0].Service.Key != dns6 {
		t.Errorf("applied %v, want the add of %s only", res.Ops, dns6)
	}
	if diff := cmp.Diff(res.Ops, f.mem.Writes(), cmpOpt); diff != "" {
		t.Errorf("reported ops differ from those applied:\n%s", diff)
	}
}

func TestAckErrorLengths(t *testing.T) {
	for _, data := range [][]byte{nil, {1, 2}} {
		if err := ackError(nlMsg{typ: nlmsgError, data: data}); err == nil {
			t.Errorf("ack % x: no error", data)
		}
	}
	if _, err := splitMessages([]byte{200, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Error("overlong message accepted")
	}
}

// statusOf is the Status a kernel holding t reports with no traffic.
func statusOf(t Table) map[ServiceKey]ServiceStatus {
	out := map[ServiceKey]ServiceStatus{}
	for k, s := range Normalize(t) {
		ss := ServiceStatus{Service: s}
		ss.Destinations = nil
		for _, d := range s.Destinations {
			ss.Dests = append(ss.Dests, DestStatus{Destination: d})
		}
		out[k] = ss
	}
	return out
}

// manyServices is n services with 0 to 12 destinations each.
func manyServices(n int) Table {
	t := Table{}
	for i := range n {
		s := Service{Key: VirtualService(TCP, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 80)), Scheduler: "wrr"}
		for j := range i % 13 {
			// Added in reverse order, as a kernel would list them.
			s.Destinations = append(s.Destinations, Destination{Addr: netip.AddrFrom4([4]byte{192, 168, byte(i), byte(20 - j)}), Port: 8080, Weight: j})
		}
		t[s.Key] = s
	}
	return t
}

func TestGenlStatus(t *testing.T) {
	for _, tc := range []struct {
		svcs, sockets int
	}{{0, 1}, {0, 4}, {3, 1}, {100, 1}, {100, 4}} {
		t.Run(fmt.Sprintf("%d services, %d sockets", tc.svcs, tc.sockets), func(t *testing.T) {
			fs, r := newFakeGenlReaders(t, 64, tc.sockets)
			defer r.Close()
			ctx := context.Background()
			want := wantTable()
			for k, s := range manyServices(tc.svcs) {
				want[k] = s
			}
			if _, err := r.Reconcile(ctx, want, nil); err != nil {
				t.Fatal(err)
			}
			mem := fs[0].mem
			d0 := rs1AddrPort(want)
			n := Conns{Active: 3, Inactive: 2, Persistent: 1}
			mem.SetConns(web, d0, n)
			mem.SetServiceStats(web, testStats(1))
			mem.SetDestStats(web, d0, testStats(2))
			mem.SetServiceStats(mark1, testStats(3))
			for _, f := range fs {
				f.dumped = nil
			}

			got, err := r.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wantSt := statusOf(want)
			setStatus(wantSt, web, func(s *ServiceStatus) {
				s.Stats = testStats(1)
				for i := range s.Dests {
					if s.Dests[i].AddrPort() == d0 {
						s.Dests[i].Conns, s.Dests[i].Stats = n, testStats(2)
					}
				}
			})
			setStatus(wantSt, mark1, func(s *ServiceStatus) { s.Stats = testStats(3) })
			if diff := cmp.Diff(wantSt, got, cmpOpt); diff != "" {
				t.Errorf("Status (-want +got):\n%s", diff)
			}
			// Every service's destinations were dumped once, on whichever
			// socket.
			var dumped []ServiceKey
			for _, f := range fs {
				dumped = append(dumped, f.dumped...)
			}
			slices.SortFunc(dumped, ServiceKey.Compare)
			if diff := cmp.Diff(want.Keys(), dumped, cmpOpt); diff != "" {
				t.Errorf("destination dumps (-want +got):\n%s", diff)
			}

			// Dump reads the same table without the counters, which never
			// make a difference to Diff.
			tbl, err := r.Dump(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Normalize(want), tbl, cmpOpt); diff != "" {
				t.Errorf("Dump (-want +got):\n%s", diff)
			}
			if res, err := r.Reconcile(ctx, want, nil); err != nil || res.Writes != 0 {
				t.Errorf("reconcile with counters: %v, %v; want no writes", res.Ops, err)
			}
		})
	}
}

func rs1AddrPort(t Table) netip.AddrPort {
	for _, d := range t[web].Destinations {
		if d.Addr == rs1 {
			return d.AddrPort()
		}
	}
	panic("no rs1 in web")
}

func setStatus(st map[ServiceKey]ServiceStatus, k ServiceKey, fn func(*ServiceStatus)) {
	s := st[k]
	fn(&s)
	st[k] = s
}

// TestGenlReadErrors breaks one destination dump of a read over several
// sockets: the read fails naming that service, leaves every socket idle
// (the broken dump read to its end), and the next read succeeds.
func TestGenlReadErrors(t *testing.T) {
	want := manyServices(100)
	bad := want.Keys()[57]
	for _, tc := range []struct {
		name  string
		fault func(f *fakeKernel, k ServiceKey)
		is    error
	}{
		{"a message cut short", func(f *fakeKernel, k ServiceKey) { f.corrupt = k }, errShortMessage},
		{"no answer", func(f *fakeKernel, k ServiceKey) { f.hang = k }, syscall.EAGAIN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, r := newFakeGenlReaders(t, 64, 4)
			defer r.Close()
			ctx := context.Background()
			if _, err := r.Reconcile(ctx, want, nil); err != nil {
				t.Fatal(err)
			}
			for _, f := range fs {
				tc.fault(f, bad)
			}
			for _, read := range []func() error{
				func() error { _, err := r.Dump(ctx); return err },
				func() error { _, err := r.Status(ctx); return err },
				func() error { _, err := r.Reconcile(ctx, want, nil); return err },
			} {
				err := read()
				var oe *OpError
				if !errors.As(err, &oe) || oe.Service != bad || !errors.Is(err, tc.is) {
					t.Errorf("error %v, want an *OpError for %s wrapping %v", err, bad, tc.is)
				}
				for i, f := range fs {
					if len(f.queue) != 0 {
						t.Errorf("socket %d left with %d datagrams unread", i, len(f.queue))
					}
				}
			}
			for _, f := range fs {
				tc.fault(f, ServiceKey{})
			}
			got, err := r.Dump(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(Normalize(want), got, cmpOpt); diff != "" {
				t.Errorf("Dump after the failure (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGenlResyncMatches checks the resync's read that compares as it
// reads (Reconciler.dump over readTable's match): services read as
// wanted are not kept as read, and everything else still is, so that the
// writes are those of Diff. The read runs on two sockets at once.
func TestGenlResyncMatches(t *testing.T) {
	fs, r := newFakeGenlReaders(t, 8, 2)
	defer r.Close()
	ctx := context.Background()
	ord := VirtualService(TCP, netip.MustParseAddrPort("203.0.113.20:80"))
	want := wantTable()
	want[ord] = Service{Key: ord, Scheduler: "mh", Destinations: []Destination{dest(rs1, 1), dest(rs2, 1), dest(rs3, 1)}}
	if _, err := r.Reconcile(ctx, want, nil); err != nil {
		t.Fatal(err)
	}
	// Behind tandem's back: a weight changed, a scheduler changed, a
	// foreign service added.
	foreign := VirtualService(TCP, netip.MustParseAddrPort("203.0.113.99:80"))
	mark := bare(want, mark1)
	mark.Scheduler = "rr"
	if _, err := fs[0].mem.Apply([]Op{
		{Kind: UpdateDest, Service: bare(want, web), Dest: dest(rs1, 7)},
		{Kind: UpdateService, Service: mark},
		{Kind: AddService, Service: Service{Key: foreign, Scheduler: "rr"}},
		{Kind: AddDest, Service: Service{Key: foreign}, Dest: dest(rs3, 1)},
	}); err != nil {
		t.Fatal(err)
	}
	res, err := r.Reconcile(ctx, want, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantOps := []Op{
		{Kind: UpdateService, Service: bare(want, mark1)},
		{Kind: UpdateDest, Service: bare(want, web), Dest: dest(rs1, 1)},
	}
	if diff := cmp.Diff(wantOps, res.Ops, cmpOpt); diff != "" {
		t.Errorf("writes (-want +got):\n%s", diff)
	}
	if len(res.Foreign) != 1 || res.Foreign[0] != foreign {
		t.Errorf("foreign %v, want [%v]", res.Foreign, foreign)
	}
	k := r.k.(*netlinkKernel)
	// Kept as read: web (2) and mark1 (1), which differ; the mh service
	// (3), whose read order counts; the foreign one (1). dns6 is matched.
	if k.kept != 2+1+3+1 {
		t.Errorf("%d destinations kept as read, want 7", k.kept)
	}
	var known Table
	if err := r.do(ctx, func() { known = r.known }); err != nil {
		t.Fatal(err)
	}
	if &known[dns6].Destinations[0] != &want[dns6].Destinations[0] {
		t.Error("a service read as wanted is not the wanted one")
	}
	if got := known[foreign].Destinations; len(got) != 1 || got[0] != dest(rs3, 1) {
		t.Errorf("foreign service known as %v", got)
	}
	// Steady: nothing to write, and only the mh and foreign services kept.
	if res, err := r.Reconcile(ctx, want, nil); err != nil || res.Writes != 0 {
		t.Fatalf("steady resync: %v, %v", res.Ops, err)
	}
	if k.kept != 3+1 {
		t.Errorf("steady: %d destinations kept as read, want 4", k.kept)
	}
	got, _ := fs[0].mem.Dump()
	wantKernel := want.Clone()
	wantKernel[foreign] = Service{Key: foreign, Scheduler: "rr", Destinations: []Destination{dest(rs3, 1)}}
	if diff := cmp.Diff(Normalize(wantKernel), Normalize(got), cmpOpt); diff != "" {
		t.Errorf("kernel table (-want +got):\n%s", diff)
	}
}

// BenchmarkGenlResyncSteady is BenchmarkReconcileSteady over the generic
// netlink read (on one socket): the allocations include the fake
// kernel's replies, about 0.9 MB, which a real kernel does not make.
func BenchmarkGenlResyncSteady(b *testing.B) {
	f := &fakeKernel{mem: NewMemKernel(nil), cache: true}
	c := newGenlClient(f, 0, 64)
	if err := c.resolveFamily(); err != nil {
		b.Fatal(err)
	}
	r := NewReconciler(&netlinkKernel{c: c})
	defer r.Close()
	want := steadyTable()
	if _, err := f.mem.Apply(Diff(nil, want, nil)); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if res, err := r.Reconcile(ctx, want, nil); err != nil || res.Writes != 0 {
		b.Fatal(res, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if res, err := r.Reconcile(ctx, want, nil); err != nil || res.Writes != 0 {
			b.Fatal(res, err)
		}
	}
}
