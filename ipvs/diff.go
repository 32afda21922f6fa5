package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Normalize returns a copy of t in the canonical form [Diff] compares, so that
// a table read back from the kernel equals the table that was written:
//
//   - keys are canonical: IPv4-mapped addresses unmapped, Family derived from
//     the address, and a fwmark service's protocol, address and port cleared
//     (the kernel reports none for it);
//   - an empty scheduler becomes [DefaultScheduler];
//   - [FlagHashed] is cleared: the kernel sets it on every service it holds
//     and reports it back;
//   - Timeout is truncated to whole seconds, and Netmask 0 becomes the host
//     prefix (32 or 128), the value tandem writes;
//   - on a service that is not persistent, Timeout and Netmask are reset to
//     those defaults: the kernel keeps whatever was written, but uses them
//     only for persistence, so a difference there is no reason to write;
//   - destination addresses are unmapped, the forwarding method is masked
//     with [ForwardMask] (the kernel keeps other IP_VS_CONN_F_* bits in the
//     same word, e.g. NOOUTPUT on non-NAT destinations, and older kernels
//     report them), and destinations are sorted by address and port.
//
// PEName is kept as it is; see [Diff] for how it is compared.
func Normalize(t Table) Table { return normalizeTable(t, normalizeService) }

// normalizeSharedTable is [Normalize] for a map that is the caller's own
// (it is normalised in place unless a key changes) holding destination
// slices that may be others': a service's destinations are copied only
// when they are not already in normal form, and never written to.
func normalizeSharedTable(t Table) Table {
	for k := range t {
		if k.canonical() != k {
			return normalizeTable(t, normalizeShared)
		}
	}
	for k, s := range t {
		t[k] = normalizeShared(k, s)
	}
	return t
}

// normalizeTable returns t with each service normalised by norm, under
// its canonical key.
func normalizeTable(t Table, norm func(ServiceKey, Service) Service) Table {
	out := make(Table, len(t))
	for k, s := range t {
		s = norm(k, s)
		out[s.Key] = s
	}
	return out
}

func normalizeService(k ServiceKey, s Service) Service {
	s.Destinations = slices.Clone(s.Destinations)
	return normalizeOwned(k, s)
}

// normalizeShared is normalizeService without the copy of destinations
// already in normal form (which normalizeOwned then leaves untouched).
func normalizeShared(k ServiceKey, s Service) Service {
	if !destsNormal(s.Destinations) {
		s.Destinations = slices.Clone(s.Destinations)
	}
	return normalizeOwned(k, s)
}

// destsNormal reports whether ds are in normal form: addresses unmapped,
// forwarding methods masked, sorted by address and port.
func destsNormal(ds []Destination) bool {
	for _, d := range ds {
		if !d.normal() {
			return false
		}
	}
	return slices.IsSortedFunc(ds, compareDest)
}

// normal reports whether d's address is unmapped and its forwarding
// method masked.
func (d Destination) normal() bool { return !d.Addr.Is4In6() && d.Forward&^ForwardMask == 0 }

// normalizeOwned is normalizeService for a service whose destinations
// nobody else holds: it normalises them in place. Destinations already in
// normal form are not written to.
func normalizeOwned(k ServiceKey, s Service) Service {
	s.Key = k.canonical()
	if s.Scheduler == "" {
		s.Scheduler = DefaultScheduler
	}
	s.Flags &^= FlagHashed
	s.Timeout = s.Timeout.Truncate(time.Second)
	if s.Flags&FlagPersistent == 0 {
		s.Timeout = 0
		s.Netmask = 0
	}
	if s.Netmask == 0 {
		s.Netmask = hostBits(s.Key.Family)
	}
	if s.Destinations == nil {
		s.Destinations = []Destination{}
	}
	for i := range s.Destinations {
		if d := &s.Destinations[i]; !d.normal() {
			d.Addr = d.Addr.Unmap()
			d.Forward &= ForwardMask
		}
	}
	sortDests(s.Destinations, compareDest)
	return s
}

// sortDests sorts ds with cmp. The kernel lists a service's destinations
// newest first, so destinations added in order read back reversed: that
// costs a reversal here, not a sort.
func sortDests[D any](ds []D, cmp func(a, b D) int) {
	if slices.IsSortedFunc(ds, cmp) {
		return
	}
	for i := 1; i < len(ds); i++ {
		if cmp(ds[i-1], ds[i]) < 0 {
			slices.SortFunc(ds, cmp)
			return
		}
	}
	slices.Reverse(ds)
}

// normalizeRead is [Normalize] for a table read from the kernel that
// nobody else holds: it normalises t in place, without copying it, unless
// a key changes.
func normalizeRead(t Table) Table {
	var orders map[ServiceKey][]netip.AddrPort
	for k, s := range t {
		if o := readOrder(s); o != nil {
			if orders == nil {
				orders = map[ServiceKey][]netip.AddrPort{}
			}
			orders[k.canonical()] = o
		}
	}
	canonical := true
	for k := range t {
		if k.canonical() != k {
			canonical = false
			break
		}
	}
	if !canonical {
		t = Normalize(t)
	} else {
		for k, s := range t {
			t[k] = normalizeOwned(k, s)
		}
	}
	for k, o := range orders {
		s := t[k]
		s.ListOrder = o
		t[k] = s
	}
	return t
}

// readOrder returns the order of a read service's destinations when its
// scheduler depends on it and it is not the canonical one (strictly
// descending: sorted, newest first); nil otherwise.
func readOrder(s Service) []netip.AddrPort {
	if !s.Ordered() {
		return nil
	}
	ds := s.Destinations
	desc := true
	for i := 1; i < len(ds); i++ {
		if compareDest(ds[i-1], ds[i]) <= 0 {
			desc = false
			break
		}
	}
	if desc {
		return nil
	}
	o := make([]netip.AddrPort, len(ds))
	for i, d := range ds {
		o[i] = netip.AddrPortFrom(d.Addr.Unmap(), d.Port)
	}
	return o
}

// orderedDestOps are the destination writes of a service whose scheduler
// fills its table in list order (Service.Ordered), so that the kernel's
// list ends in the canonical order: sorted, newest (largest) first. The
// kernel adds at the head of the list, so a destination that belongs
// below others is added after deleting and before re-adding them: adds
// holds those deletes first, then every add in ascending order; the
// destinations kept in place get updates; dels are the destinations want
// drops (their removal does not disturb the others' order).
func orderedDestOps(hs, ws, bare Service) (adds, dels []Op) {
	have := make(map[netip.AddrPort]Destination, len(hs.Destinations))
	for _, d := range hs.Destinations {
		have[d.AddrPort()] = d
	}
	want := make(map[netip.AddrPort]Destination, len(ws.Destinations))
	for _, d := range ws.Destinations {
		want[d.AddrPort()] = d
	}
	// The kernel's list, newest first, without what goes.
	list := hs.ListOrder
	if list == nil {
		list = make([]netip.AddrPort, len(hs.Destinations))
		for i, d := range hs.Destinations {
			list[len(list)-1-i] = d.AddrPort()
		}
	}
	kept := make([]netip.AddrPort, 0, len(list))
	for _, a := range list {
		if _, ok := want[a]; ok {
			kept = append(kept, a)
		} else if d, ok := have[a]; ok {
			dels = append(dels, Op{Kind: DelDest, Service: bare, Dest: d})
		}
	}
	// The canonical list, newest first.
	canon := make([]netip.AddrPort, len(ws.Destinations))
	for i, d := range ws.Destinations {
		canon[len(canon)-1-i] = d.AddrPort()
	}
	// The destinations left in place are the longest tail of canon (the
	// oldest entries) found in kept in the same order: deleting the others
	// closes the gaps between them, and the rest is added above them.
	j := len(canon) - 1
	for i := len(kept) - 1; i >= 0 && j >= 0; i-- {
		if kept[i] == canon[j] {
			j--
		}
	}
	n := len(canon) - 1 - j
	stay := make(map[netip.AddrPort]bool, n)
	for _, a := range canon[len(canon)-n:] {
		stay[a] = true
	}
	for _, a := range kept {
		if !stay[a] {
			adds = append(adds, Op{Kind: DelDest, Service: bare, Dest: have[a]})
		}
	}
	for i := len(canon) - n - 1; i >= 0; i-- {
		d := want[canon[i]]
		if d.Weight == 0 && d.InitialWeight > 0 {
			// Into mh's table at its weight, then drained.
			first := d
			first.Weight = d.InitialWeight
			adds = append(adds, Op{Kind: AddDest, Service: bare, Dest: first}, Op{Kind: UpdateDest, Service: bare, Dest: d})
			continue
		}
		adds = append(adds, Op{Kind: AddDest, Service: bare, Dest: d})
	}
	for _, a := range canon[len(canon)-n:] {
		if !have[a].Same(want[a]) {
			adds = append(adds, Op{Kind: UpdateDest, Service: bare, Dest: want[a]})
		}
	}
	return adds, dels
}

func hostBits(f Family) int {
	if f == IPv6 {
		return 128
	}
	return 32
}

// OpKind is the kind of one write to the kernel table.
type OpKind uint8

// Kinds of [Op], in the order [Diff] emits them.
const (
	AddService OpKind = iota + 1
	UpdateService
	AddDest
	UpdateDest
	DelDest
	DelService
)

// String returns e.g. "add service" or "delete destination".
func (k OpKind) String() string {
	switch k {
	case AddService:
		return "add service"
	case UpdateService:
		return "update service"
	case DelService:
		return "delete service"
	case AddDest:
		return "add destination"
	case UpdateDest:
		return "update destination"
	case DelDest:
		return "delete destination"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Op is one write to the kernel table. Service carries the key and the
// service's fields (never its Destinations: destinations are written by
// their own ops); Dest is set for destination ops only.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Destination
}

// IsDest reports whether op writes a destination.
func (op Op) IsDest() bool { return op.Kind == AddDest || op.Kind == UpdateDest || op.Kind == DelDest }

// String describes op like "add destination 192.168.100.11:80 to TCP
// 203.0.113.10:80 (Masq, weight 1)".
func (op Op) String() string {
	switch op.Kind {
	case AddService, UpdateService:
		s := op.Service
		return fmt.Sprintf("%s %s (scheduler %s, flags %s, timeout %v, netmask /%d%s)",
			op.Kind, s.Key, s.Scheduler, s.Flags, s.Timeout, s.Netmask, peSuffix(s.PEName))
	case AddDest, UpdateDest:
		return fmt.Sprintf("%s %s %s %s (%s, weight %d, thresholds %d..%d)",
			op.Kind, op.Dest.AddrPort(), preposition(op.Kind), op.Service.Key,
			op.Dest.Forward, op.Dest.Weight, op.Dest.LowerThreshold, op.Dest.UpperThreshold)
	case DelDest:
		return fmt.Sprintf("%s %s from %s", op.Kind, op.Dest.AddrPort(), op.Service.Key)
	}
	return fmt.Sprintf("%s %s", op.Kind, op.Service.Key)
}

func peSuffix(pe string) string {
	if pe == "" {
		return ""
	}
	return ", pe " + pe
}

func preposition(k OpKind) string {
	switch k {
	case AddDest:
		return "to"
	case DelDest:
		return "from"
	}
	return "in"
}

// Diff returns the writes that turn the kernel table have into want, in the
// order they must be applied: service adds and updates, then destination
// adds and updates, then destination deletes, then service deletes; within
// each group, by service key and destination address. Both tables are
// normalised first ([Normalize]); want should be valid ([Table.Validate]).
//
// Only services in want and services named in retire (owned under the
// previous configuration and to be deleted now) are touched; a key in both
// want and retire is kept. Every other service in have is foreign and left
// alone (see [Foreign]).
//
// Changes are minimal: a service whose scheduler, flags, timeout, netmask or
// persistence engine differ is updated in place, never deleted and re-added,
// so its connections survive; likewise a destination whose forwarding method,
// weight or thresholds differ. A service deleted by retire takes its
// destinations with it.
//
// PEName could not be read back through moby/ipvs, so a service read with an
// empty PEName is taken to have the wanted one: a change of PEName alone is
// not written (a change together with any other field is, since updates
// carry every field).
func Diff(have, want Table, retire []ServiceKey) []Op {
	return diffNormal(Normalize(have), Normalize(want), retire)
}

// diffNormal is [Diff] of two tables already normalised ([Normalize],
// normalizeRead), which it only reads: the Reconciler's tables are, and
// copying them again on every resync made 10 000 destinations' worth of
// garbage twice over.
func diffNormal(h, w Table, retire []ServiceKey) []Op {
	var svcOps, destOps, destDels, svcDels []Op
	for _, k := range w.Keys() {
		ws := w[k]
		hs, ok := h[k]
		bare := ws
		bare.Destinations = nil
		if !ok {
			svcOps = append(svcOps, Op{Kind: AddService, Service: bare})
			for _, d := range ws.Destinations {
				destOps = append(destOps, Op{Kind: AddDest, Service: bare, Dest: d})
			}
			continue
		}
		if !sameService(hs, ws) {
			svcOps = append(svcOps, Op{Kind: UpdateService, Service: bare})
		}
		if ws.Ordered() {
			adds, dels := orderedDestOps(hs, ws, bare)
			destOps, destDels = append(destOps, adds...), append(destDels, dels...)
			continue
		}
		i, j := 0, 0
		for i < len(hs.Destinations) || j < len(ws.Destinations) {
			var c int
			switch {
			case i == len(hs.Destinations):
				c = 1
			case j == len(ws.Destinations):
				c = -1
			default:
				c = compareDest(hs.Destinations[i], ws.Destinations[j])
			}
			switch {
			case c < 0:
				destDels = append(destDels, Op{Kind: DelDest, Service: bare, Dest: hs.Destinations[i]})
				i++
			case c > 0:
				destOps = append(destOps, Op{Kind: AddDest, Service: bare, Dest: ws.Destinations[j]})
				j++
			default:
				if !hs.Destinations[i].Same(ws.Destinations[j]) {
					destOps = append(destOps, Op{Kind: UpdateDest, Service: bare, Dest: ws.Destinations[j]})
				}
				i++
				j++
			}
		}
	}
	for _, k := range retiredKeys(h, w, retire) {
		hs := h[k]
		hs.Destinations = nil
		svcDels = append(svcDels, Op{Kind: DelService, Service: hs})
	}
	return slices.Concat(svcOps, destOps, destDels, svcDels)
}

func sameService(have, want Service) bool {
	pe := have.PEName
	if pe == "" {
		pe = want.PEName
	}
	return have.Scheduler == want.Scheduler &&
		have.Flags == want.Flags &&
		have.Timeout == want.Timeout &&
		have.Netmask == want.Netmask &&
		pe == want.PEName
}

// retiredKeys returns the canonical keys in retire that h holds and w does
// not, sorted and without duplicates.
func retiredKeys(h, w Table, retire []ServiceKey) []ServiceKey {
	var keys []ServiceKey
	for _, k := range retire {
		k = k.canonical()
		if _, ok := w[k]; ok {
			continue
		}
		if _, ok := h[k]; ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, ServiceKey.Compare)
	return slices.Compact(keys)
}

// Foreign returns the keys of the services in have that tandem does not own:
// those neither in want nor in retire, sorted. Keys are canonical.
func Foreign(have, want Table, retire []ServiceKey) []ServiceKey {
	own := make(map[ServiceKey]bool, len(want)+len(retire))
	for k := range want {
		own[k.canonical()] = true
	}
	for _, k := range retire {
		own[k.canonical()] = true
	}
	var out []ServiceKey
	for k := range have {
		if k = k.canonical(); !own[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, ServiceKey.Compare)
	return slices.Compact(out)
}
