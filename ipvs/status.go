package ipvs

import "context"

// Stats are the traffic counters of a service or a destination, as
// `ipvsadm -Ln --stats` and `--rate` show them. The totals count since the
// service or destination was added (the kernel reads its 64-bit counters
// where it has them, Linux 4.1; older kernels report the connection and
// packet counts in 32 bits, which wrap). The rates are the kernel's
// estimates per second, updated every two seconds.
//
// Like [Conns], they are not part of a [Table]: [Diff] never sees them.
type Stats struct {
	Conns    uint64 // connections scheduled
	InPkts   uint64 // packets from clients
	OutPkts  uint64 // packets to clients
	InBytes  uint64
	OutBytes uint64

	CPS    uint64 // connections per second
	InPPS  uint64 // packets per second from clients
	OutPPS uint64 // packets per second to clients
	InBPS  uint64 // bytes per second from clients
	OutBPS uint64 // bytes per second to clients
}

// DestStatus is a destination as the kernel reports it: its settings (the
// current weight among them), its connection counters and its statistics.
type DestStatus struct {
	Destination
	Conns Conns
	Stats Stats
}

// ServiceStatus is a service as the kernel reports it, with its statistics
// and those of its destinations. The embedded Service's Destinations is
// nil: the destinations are in Dests, in the order [Normalize] keeps them
// (by address and port).
type ServiceStatus struct {
	Service
	Stats Stats
	Dests []DestStatus
}

// Status reads the kernel's whole table, foreign services included, with
// every service's and destination's counters: what `ipvsadm -Ln --stats`,
// `--rate` and the connection columns show. It costs what a [Reconciler.Dump]
// costs. Services are keyed and normalised as Dump normalises them
// ([Normalize]), so st[k].Service equals Dump's t[k] without its
// destinations.
func (r *Reconciler) Status(ctx context.Context) (map[ServiceKey]ServiceStatus, error) {
	var (
		st   map[ServiceKey]ServiceStatus
		serr error
	)
	if err := r.do(ctx, func() { st, serr = r.k.Status() }); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, dumpError(serr)
	}
	return normalizeStatus(st), nil
}

// normalizeStatus normalises st, read from the kernel, in place, as
// [Normalize] normalises a table.
func normalizeStatus(st map[ServiceKey]ServiceStatus) map[ServiceKey]ServiceStatus {
	for k := range st {
		if k.canonical() != k {
			out := make(map[ServiceKey]ServiceStatus, len(st))
			for k, s := range st {
				out[k.canonical()] = s
			}
			st = out
			break
		}
	}
	for k, s := range st {
		s.Service.Destinations = nil
		s.Service = normalizeOwned(k, s.Service)
		s.Service.Destinations = nil
		for i := range s.Dests {
			d := &s.Dests[i]
			d.Addr = d.Addr.Unmap()
			d.Forward &= ForwardMask
		}
		sortDests(s.Dests, func(a, b DestStatus) int { return compareDest(a.Destination, b.Destination) })
		st[k] = s
	}
	return st
}
