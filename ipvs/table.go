package ipvs

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Family is the address family of a virtual service, with the Linux values of
// AF_INET and AF_INET6. A fwmark service needs it spelt out; for other
// services it follows from the address.
type Family uint16

// Address families.
const (
	IPv4 Family = 2  // AF_INET
	IPv6 Family = 10 // AF_INET6 on Linux
)

// String returns "IPv4" or "IPv6", as ipvsadm prints fwmark services.
func (f Family) String() string {
	switch f {
	case IPv4:
		return "IPv4"
	case IPv6:
		return "IPv6"
	}
	return fmt.Sprintf("family(%d)", uint16(f))
}

// FamilyOf returns the family of addr (IPv4 for IPv4-mapped IPv6 addresses),
// or 0 for the zero Addr.
func FamilyOf(addr netip.Addr) Family {
	switch {
	case !addr.IsValid():
		return 0
	case addr.Unmap().Is4():
		return IPv4
	}
	return IPv6
}

// Protocol is the IP protocol number of a virtual service.
type Protocol uint16

// Protocols IPVS balances.
const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

// String returns "TCP", "UDP" or "SCTP".
func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	}
	return fmt.Sprintf("proto(%d)", uint16(p))
}

// ServiceKey identifies a virtual service, as the kernel does: either by
// protocol, address and port, or by firewall mark and family. It is
// comparable and used as the key of a [Table].
//
// A fwmark service has FWMark != 0, a Family, and zero Protocol, Addr and
// Port. Build keys with [VirtualService] and [FWMarkService], which produce
// the canonical form; [Normalize] canonicalises keys written by hand.
type ServiceKey struct {
	Family   Family
	Protocol Protocol
	Addr     netip.Addr
	Port     uint16
	FWMark   uint32
}

// VirtualService returns the key of the service on protocol p at addr.
func VirtualService(p Protocol, addr netip.AddrPort) ServiceKey {
	a := addr.Addr().Unmap()
	return ServiceKey{Family: FamilyOf(a), Protocol: p, Addr: a, Port: addr.Port()}
}

// FWMarkService returns the key of the fwmark service mark of family f.
func FWMarkService(f Family, mark uint32) ServiceKey {
	return ServiceKey{Family: f, FWMark: mark}
}

// IsFWMark reports whether k names a fwmark service.
func (k ServiceKey) IsFWMark() bool { return k.FWMark != 0 }

// String formats k as ipvsadm does: "TCP 203.0.113.10:80",
// "UDP [2001:db8::1]:53", "FWM 1 IPv4".
func (k ServiceKey) String() string {
	if k.IsFWMark() {
		return fmt.Sprintf("FWM %d %s", k.FWMark, k.Family)
	}
	return k.Protocol.String() + " " + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// canonical returns k with derived fields filled in and irrelevant ones
// cleared.
// Canonical returns k as [Normalize] keys it: the address unmapped and
// the family derived from it, a fwmark key without protocol, address or
// port.
func (k ServiceKey) Canonical() ServiceKey { return k.canonical() }

func (k ServiceKey) canonical() ServiceKey {
	if k.IsFWMark() {
		return ServiceKey{Family: k.Family, FWMark: k.FWMark}
	}
	k.Addr = k.Addr.Unmap()
	k.Family = FamilyOf(k.Addr)
	return k
}

// Compare orders keys: address-based services first, by address, port and
// protocol; then fwmark services by family and mark. It returns -1, 0 or +1.
func (k ServiceKey) Compare(o ServiceKey) int {
	return cmp.Or(
		cmp.Compare(min(k.FWMark, 1), min(o.FWMark, 1)),
		k.Addr.Compare(o.Addr),
		cmp.Compare(k.Port, o.Port),
		cmp.Compare(k.Protocol, o.Protocol),
		cmp.Compare(k.Family, o.Family),
		cmp.Compare(k.FWMark, o.FWMark),
	)
}

// ServiceFlags are the IP_VS_SVC_F_* flags of a virtual service.
type ServiceFlags uint32

// Service flags (include/uapi/linux/ip_vs.h).
const (
	FlagPersistent ServiceFlags = 0x0001 // ipvsadm -p
	// FlagHashed is set by the kernel on every service it holds. tandem
	// never writes it ([Normalize] clears it): the kernel refuses to hash a
	// new service that already carries it.
	FlagHashed    ServiceFlags = 0x0002
	FlagOnePacket ServiceFlags = 0x0004 // ipvsadm -o, UDP one-packet scheduling
	FlagSched1    ServiceFlags = 0x0008 // scheduler flag 1 (sh-fallback, mh-fallback)
	FlagSched2    ServiceFlags = 0x0010 // scheduler flag 2 (sh-port, mh-port)
	FlagSched3    ServiceFlags = 0x0020 // scheduler flag 3
)

var flagNames = []struct {
	f    ServiceFlags
	name string
}{
	{FlagPersistent, "persistent"},
	{FlagHashed, "hashed"},
	{FlagOnePacket, "one-packet"},
	{FlagSched1, "flag-1"},
	{FlagSched2, "flag-2"},
	{FlagSched3, "flag-3"},
}

// String lists the set flags separated by "|", e.g. "persistent|flag-1",
// or "none".
func (f ServiceFlags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(f)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Forward is a destination's packet-forwarding method (IP_VS_CONN_F_*).
type Forward uint32

// Forwarding methods.
const (
	Masq   Forward = 0 // NAT, ipvsadm -m
	Local  Forward = 1 // local node
	Tunnel Forward = 2 // IP-in-IP, ipvsadm -i
	Route  Forward = 3 // direct routing, ipvsadm -g

	// ForwardMask selects the forwarding method in the kernel's connection
	// flags; the other bits are the kernel's own.
	ForwardMask Forward = 0x7
)

// String returns the forwarding method as ipvsadm prints it: "Masq",
// "Local", "Tunnel" or "Route".
func (f Forward) String() string {
	switch f {
	case Masq:
		return "Masq"
	case Local:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case Route:
		return "Route"
	}
	return fmt.Sprintf("forward(%d)", uint32(f))
}

// MaxWeight is the largest destination weight tandem writes (moby/ipvs, which
// tandem read through before, read the kernel's 32-bit weight back as 16
// bits).
const MaxWeight = 65535

// Destination is a real server of a virtual service. It is identified within
// its service by Addr and Port; its address family is the service's (tandem
// sends it as IPVS_DEST_ATTR_ADDR_FAMILY, which [Table.Validate] requires to
// match).
type Destination struct {
	Addr           netip.Addr
	Port           uint16
	Forward        Forward
	Weight         int // 0..MaxWeight; 0 drains the server
	UpperThreshold uint32
	LowerThreshold uint32
	// InitialWeight, for a destination of an Ordered service that is
	// added with Weight 0, is the weight it is added with before its
	// weight is set to 0 (0: added with 0). mh keeps a destination whose
	// weight drops to 0 in its table at its last weight, but leaves out
	// one added with 0: a director that adds a failed real server with
	// 0 would build another table than its peers, which added it healthy.
	// Reads leave it 0, and comparisons ([Destination.Same]) ignore it.
	InitialWeight int
}

// Same reports whether d and o are the same destination with the same
// settings, InitialWeight aside.
func (d Destination) Same(o Destination) bool {
	d.InitialWeight, o.InitialWeight = 0, 0
	return d == o
}

// AddrPort returns the destination's address and port.
func (d Destination) AddrPort() netip.AddrPort { return netip.AddrPortFrom(d.Addr, d.Port) }

func compareDest(a, b Destination) int {
	return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
}

// Service is a virtual service with its destinations.
type Service struct {
	Key ServiceKey
	// Scheduler is the kernel scheduler's name, one of [Schedulers]
	// (or "none"); empty means "wlc", as for ipvsadm.
	Scheduler string
	Flags     ServiceFlags
	// Timeout is the persistence timeout, in whole seconds. It matters only
	// for persistent services, which need it to be at least a second.
	Timeout time.Duration
	// Netmask is the prefix length applied to client addresses for
	// persistence (ipvsadm -M; a /24 groups a client's whole /24). It is a
	// prefix length for both families (the kernel takes a mask for IPv4 and
	// a prefix length for IPv6); 0 means a host prefix (32 or 128). It
	// matters only for persistent services.
	Netmask int
	// PEName is the persistence engine ("sip"), if any. moby/ipvs could
	// not read it back, and [Diff] still takes an empty read-back as the
	// wanted one, so it does not notice a PEName removed alone; see [Diff].
	PEName string
	// Destinations is kept sorted by address and port by [Normalize].
	Destinations []Destination

	// ListOrder is set by reads only: the kernel's list order of the
	// destinations (newest first), when it is not the canonical one
	// (sorted, newest first) and the scheduler fills its table in list
	// order ([Service.Ordered]); nil otherwise. [Diff] then re-adds what
	// is out of place. Tables written by hand leave it nil.
	ListOrder []netip.AddrPort
}

// Ordered reports whether the service's scheduler fills its lookup table
// in the order of the kernel's destination list: mh (Maglev) and sh
// give the same flow the same destination on every director only when
// the lists are in the same order. tandem adds their destinations in
// one canonical order (sorted by address and port, so the kernel, which
// adds at the head, lists them newest, that is largest, first), and Diff
// puts a list that is out of that order back in it.
func (s Service) Ordered() bool { return s.Scheduler == "mh" || s.Scheduler == "sh" }

// Table is a set of virtual services keyed by their [ServiceKey]. A nil Table
// is empty. Every Service's Key must equal its map key (see [Table.Validate]).
type Table map[ServiceKey]Service

// NewTable returns a table holding svcs, keyed by their Key.
func NewTable(svcs ...Service) Table {
	t := make(Table, len(svcs))
	for _, s := range svcs {
		t[s.Key] = s
	}
	return t
}

// Keys returns the table's keys in [ServiceKey.Compare] order.
func (t Table) Keys() []ServiceKey {
	keys := make([]ServiceKey, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, ServiceKey.Compare)
	return keys
}

// Clone returns a deep copy of t.
func (t Table) Clone() Table {
	if t == nil {
		return nil
	}
	c := make(Table, len(t))
	for k, s := range t {
		s.Destinations = slices.Clone(s.Destinations)
		c[k] = s
	}
	return c
}

// Schedulers lists the schedulers of the Linux kernel, by the names ipvsadm
// and the kernel use. twos (power of two choices) exists since Linux 5.8
// but is not built by every distribution (Debian 12's kernels lack it).
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// DefaultScheduler is the scheduler of a service that names none.
const DefaultScheduler = "wlc"

// SchedulerModule returns the kernel module that provides scheduler name
// ("ip_vs_wlc" for "wlc"), or "" for "none", which needs no module.
func SchedulerModule(name string) string {
	if name == "none" {
		return ""
	}
	if name == "" {
		name = DefaultScheduler
	}
	return "ip_vs_" + name
}

// Validate reports the first problem in t that the kernel would reject or
// that would make t ambiguous, in key order. [Reconciler.Reconcile] calls it
// before touching the kernel.
func (t Table) Validate() error {
	// Keys all canonical, the usual case, cannot name one service twice:
	// no map of them then (each resync validates the whole table).
	var seen map[ServiceKey]ServiceKey
	for k := range t {
		if k.canonical() != k {
			seen = make(map[ServiceKey]ServiceKey, len(t))
			break
		}
	}
	for _, k := range t.Keys() {
		s := t[k]
		if s.Key != k {
			return fmt.Errorf("ipvs: service %s stored under key %s", s.Key, k)
		}
		if err := s.validate(); err != nil {
			return fmt.Errorf("ipvs: service %s: %w", k, err)
		}
		if seen == nil {
			continue
		}
		c := k.canonical()
		if prev, ok := seen[c]; ok {
			return fmt.Errorf("ipvs: services %s and %s are the same service", prev, k)
		}
		seen[c] = k
	}
	return nil
}

func (s Service) validate() error {
	k := s.Key
	if k.IsFWMark() {
		if k.Family != IPv4 && k.Family != IPv6 {
			return fmt.Errorf("fwmark service needs family IPv4 or IPv6, not %s", k.Family)
		}
		if k.Addr.IsValid() || k.Port != 0 || k.Protocol != 0 {
			return errors.New("fwmark service must have no protocol, address or port")
		}
	} else {
		if !k.Addr.IsValid() || k.Addr.IsUnspecified() {
			return errors.New("missing address")
		}
		if k.Family != 0 && k.Family != FamilyOf(k.Addr) {
			return fmt.Errorf("family %s does not match address", k.Family)
		}
		if k.Addr.Zone() != "" {
			return errors.New("address must not have a zone")
		}
		switch k.Protocol {
		case TCP, UDP, SCTP:
		default:
			return fmt.Errorf("unsupported protocol %s", k.Protocol)
		}
		if k.Port == 0 && s.Flags&FlagPersistent == 0 {
			return errors.New("port 0 needs a persistent service")
		}
	}
	if s.Scheduler != "" && s.Scheduler != "none" && !slices.Contains(Schedulers, s.Scheduler) {
		return fmt.Errorf("unknown scheduler %q", s.Scheduler)
	}
	if s.Flags&FlagHashed != 0 {
		return errors.New("flag hashed is the kernel's own")
	}
	if s.Flags&^(FlagPersistent|FlagOnePacket|FlagSched1|FlagSched2|FlagSched3) != 0 {
		return fmt.Errorf("unknown flags %s", s.Flags)
	}
	if s.Flags&FlagPersistent != 0 {
		if s.Timeout < time.Second {
			return fmt.Errorf("persistent service needs a timeout of at least 1s, not %v", s.Timeout)
		}
		if s.Timeout/time.Second > 1<<31 {
			return fmt.Errorf("timeout %v too long", s.Timeout)
		}
	}
	maxBits := 32
	if k.canonical().Family == IPv6 {
		maxBits = 128
	}
	if s.Netmask < 0 || s.Netmask > maxBits {
		return fmt.Errorf("netmask /%d out of range 0..%d", s.Netmask, maxBits)
	}
	fam := k.canonical().Family
	// Duplicates: by pairs for the few destinations of a typical
	// service, through a set beyond (10 000 would take 50 million
	// comparisons on every write to the service).
	var seen map[netip.AddrPort]struct{}
	if len(s.Destinations) > 16 {
		seen = make(map[netip.AddrPort]struct{}, len(s.Destinations))
	}
	for i, d := range s.Destinations {
		if err := d.validate(fam); err != nil {
			return fmt.Errorf("destination %s: %w", d.AddrPort(), err)
		}
		if seen != nil {
			ap := netip.AddrPortFrom(d.Addr.Unmap(), d.Port)
			if _, dup := seen[ap]; dup {
				return fmt.Errorf("destination %s listed twice", d.AddrPort())
			}
			seen[ap] = struct{}{}
			continue
		}
		for _, e := range s.Destinations[:i] {
			if e.Addr.Unmap() == d.Addr.Unmap() && e.Port == d.Port {
				return fmt.Errorf("destination %s listed twice", d.AddrPort())
			}
		}
	}
	return nil
}

func (d Destination) validate(fam Family) error {
	if !d.Addr.IsValid() || d.Addr.IsUnspecified() {
		return errors.New("missing address")
	}
	if FamilyOf(d.Addr) != fam {
		return fmt.Errorf("family %s differs from the service's %s", FamilyOf(d.Addr), fam)
	}
	if d.Addr.Zone() != "" {
		return errors.New("address must not have a zone")
	}
	if d.Forward&^ForwardMask != 0 || d.Forward > Route {
		return fmt.Errorf("unknown forwarding method %s", d.Forward)
	}
	if d.Weight < 0 || d.Weight > MaxWeight {
		return fmt.Errorf("weight %d out of range 0..%d", d.Weight, MaxWeight)
	}
	if d.LowerThreshold > d.UpperThreshold {
		return fmt.Errorf("lower threshold %d above upper threshold %d", d.LowerThreshold, d.UpperThreshold)
	}
	return nil
}
