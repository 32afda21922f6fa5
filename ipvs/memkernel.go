package ipvs

import (
	"net/netip"
	"slices"
	"sync"
	"syscall"
)

// MemKernel is an in-memory [Kernel] that behaves like the kernel's IPVS
// table as seen through generic netlink: it refuses duplicate adds (EEXIST),
// writes to missing services (ESRCH) and missing destinations (ENOENT) and
// unknown schedulers (ENOENT), reports every service with [FlagHashed] set,
// and keeps the netmask and timeout it was given. It cannot read back a
// persistence-engine name, like moby/ipvs (which tandem used to read
// through; tandem's own reader can, but Diff keeps that tolerance). It
// records every successful write.
//
// Its counters are zero unless set: connection counters with SetConns,
// statistics with SetServiceStats and SetDestStats.
//
// MemKernel is for tests and dry runs. It is safe for concurrent use, so a
// test may inspect it while a [Reconciler] owns it.
type MemKernel struct {
	mu     sync.Mutex
	table  Table
	writes []Op
	fail   func(Op) error
	closed bool
	dumps  int
	conns  map[ServiceKey]map[netip.AddrPort]Conns
	stats  map[ServiceKey]Stats
	dstats map[ServiceKey]map[netip.AddrPort]Stats
}

// NewMemKernel returns a MemKernel holding a copy of initial (nil for an
// empty table), stored as given, without normalisation.
func NewMemKernel(initial Table) *MemKernel {
	t := initial.Clone()
	if t == nil {
		t = Table{}
	}
	return &MemKernel{table: t}
}

// FailWith makes Apply call fail before each write and stop with its error,
// if not nil, without writing. A nil fail removes the hook.
func (m *MemKernel) FailWith(fail func(Op) error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = fail
}

// Writes returns the successful writes so far, in order.
func (m *MemKernel) Writes() []Op {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.writes)
}

// Closed reports whether Close was called.
func (m *MemKernel) Closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Dumps returns how many times Dump was called.
func (m *MemKernel) Dumps() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dumps
}

// Dump returns a copy of the table as the kernel would report it.
func (m *MemKernel) Dump() (Table, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dumps++
	return m.readBack(), nil
}

// readBack is the table as the kernel would report it.
func (m *MemKernel) readBack() Table {
	t := m.table.Clone()
	for k, s := range t {
		s.Flags |= FlagHashed
		s.PEName = "" // moby/ipvs does not parse IPVS_SVC_ATTR_PE_NAME
		t[k] = s
	}
	return t
}

// Apply performs ops on the in-memory table, in order, and stops at the
// first that fails.
func (m *MemKernel) Apply(ops []Op) ([]Op, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, op := range ops {
		if err := m.apply(op); err != nil {
			return slices.Clone(ops[:i]), newOpError(op, err)
		}
	}
	return slices.Clone(ops), nil
}

func (m *MemKernel) apply(op Op) error {
	if m.fail != nil {
		if err := m.fail(op); err != nil {
			return err
		}
	}
	k := op.Service.Key
	s, ok := m.table[k]
	switch op.Kind {
	case AddService, UpdateService:
		if op.Kind == AddService && ok {
			return syscall.EEXIST
		}
		if op.Kind == UpdateService && !ok {
			return syscall.ESRCH
		}
		if sched := op.Service.Scheduler; sched != "none" && !slices.Contains(Schedulers, sched) {
			return syscall.ENOENT
		}
		ns := op.Service
		ns.Flags &^= FlagHashed
		ns.Destinations = s.Destinations
		m.table[k] = ns
	case DelService:
		if !ok {
			return syscall.ESRCH
		}
		delete(m.table, k)
	case AddDest, UpdateDest, DelDest:
		if !ok {
			return syscall.ESRCH
		}
		i := slices.IndexFunc(s.Destinations, func(d Destination) bool {
			return d.Addr == op.Dest.Addr && d.Port == op.Dest.Port
		})
		switch {
		case op.Kind == AddDest && i >= 0:
			return syscall.EEXIST
		case op.Kind != AddDest && i < 0:
			return syscall.ENOENT
		}
		ds := slices.Clone(s.Destinations)
		switch op.Kind {
		case AddDest:
			ds = slices.Insert(ds, 0, op.Dest) // the kernel adds at the head
		case UpdateDest:
			ds[i] = op.Dest
		case DelDest:
			ds = slices.Delete(ds, i, i+1)
		}
		s.Destinations = ds
		m.table[k] = s
	default:
		return syscall.EINVAL
	}
	m.writes = append(m.writes, op)
	return nil
}

// SetConns sets the connection counters [MemKernel.Conns] reports for the
// destination d of the service keyed k (zero until set).
func (m *MemKernel) SetConns(k ServiceKey, d netip.AddrPort, n Conns) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.conns == nil {
		m.conns = map[ServiceKey]map[netip.AddrPort]Conns{}
	}
	k = k.canonical()
	if m.conns[k] == nil {
		m.conns[k] = map[netip.AddrPort]Conns{}
	}
	m.conns[k][netip.AddrPortFrom(d.Addr().Unmap(), d.Port())] = n
}

// Conns returns the counters set with SetConns for the destinations the
// service keyed k holds; none if there is no such service (the kernel's
// destination dump of a missing service is empty, not an error).
func (m *MemKernel) Conns(k ServiceKey) (map[netip.AddrPort]Conns, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k = k.canonical()
	s, ok := m.table[k]
	if !ok {
		for kk, ss := range m.table {
			if kk.canonical() == k {
				s, ok = ss, true
			}
		}
	}
	out := make(map[netip.AddrPort]Conns, len(s.Destinations))
	for _, d := range s.Destinations {
		ap := netip.AddrPortFrom(d.Addr.Unmap(), d.Port)
		out[ap] = m.conns[k][ap]
	}
	return out, nil
}

// SetServiceStats sets the statistics [MemKernel.Status] reports for the
// service keyed k (zero until set).
func (m *MemKernel) SetServiceStats(k ServiceKey, st Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stats == nil {
		m.stats = map[ServiceKey]Stats{}
	}
	m.stats[k.canonical()] = st
}

// SetDestStats sets the statistics [MemKernel.Status] reports for the
// destination d of the service keyed k (zero until set).
func (m *MemKernel) SetDestStats(k ServiceKey, d netip.AddrPort, st Stats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dstats == nil {
		m.dstats = map[ServiceKey]map[netip.AddrPort]Stats{}
	}
	k = k.canonical()
	if m.dstats[k] == nil {
		m.dstats[k] = map[netip.AddrPort]Stats{}
	}
	m.dstats[k][netip.AddrPortFrom(d.Addr().Unmap(), d.Port())] = st
}

// Status returns what Dump returns, with the counters set with SetConns,
// SetServiceStats and SetDestStats. It does not count as a Dump.
func (m *MemKernel) Status() (map[ServiceKey]ServiceStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.readBack()
	st := make(map[ServiceKey]ServiceStatus, len(t))
	for k, s := range t {
		ck := k.canonical()
		ss := ServiceStatus{Service: s, Stats: m.stats[ck]}
		ss.Destinations = nil
		for _, d := range s.Destinations {
			ap := netip.AddrPortFrom(d.Addr.Unmap(), d.Port)
			ss.Dests = append(ss.Dests, DestStatus{Destination: d, Conns: m.conns[ck][ap], Stats: m.dstats[ck][ap]})
		}
		st[k] = ss
	}
	return st, nil
}

// Close marks the kernel closed; the table is kept.
func (m *MemKernel) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
