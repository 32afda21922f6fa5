//go:build linux

package ipvs

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/moby/ipvs"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
)

var quietOnce sync.Once

// quietMoby silences moby/ipvs, which logs through logrus's standard logger
// from its one-time setup (netlink_linux.go setup: a modprobe warning and a
// family-lookup error). tandem reports those conditions itself. This affects
// the whole process's standard logrus logger, which tandem does not use.
func quietMoby() {
	quietOnce.Do(func() { logrus.SetOutput(io.Discard) })
}

// Open opens the kernel's IPVS table in the network namespace at netnsPath
// ("" for the caller's) and returns a [Reconciler] that owns it.
//
// Open checks that the kernel has IPVS before it lets moby/ipvs set itself
// up, because moby/ipvs looks the IPVS netlink family up only once per
// process and, if that failed, sends every later request to family 0, which
// the kernel acknowledges without doing anything. Open then probes the handle
// with a dump (which needs CAP_NET_ADMIN) and with a request the kernel must
// refuse. On failure the error wraps [ErrUnavailable].
//
// moby/ipvs runs "modprobe -va ip_vs" once per process when the first handle
// is opened; tandem itself runs no modprobe. The kernel loads scheduler
// modules (ip_vs_<name>) itself when a service names them, if it can.
func Open(netnsPath string) (*Reconciler, error) {
	k, err := openKernel(netnsPath)
	if err != nil {
		return nil, err
	}
	return NewReconciler(k), nil
}

type mobyKernel struct {
	h *ipvs.Handle
}

func openKernel(netnsPath string) (*mobyKernel, error) {
	quietMoby()
	// Generic netlink families are global, so the lookup needs no netns.
	if _, err := netlink.GenlFamilyGet("IPVS"); err != nil {
		return nil, fmt.Errorf("%w: netlink family IPVS: %w", ErrUnavailable, err)
	}
	h, err := ipvs.New(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("ipvs: open netlink socket (netns %q): %w", netnsPath, err)
	}
	if _, err := h.GetServices(); err != nil {
		h.Close()
		return nil, fmt.Errorf("%w: list services: %w", ErrUnavailable, err)
	}
	// An address family the kernel must refuse (EAFNOSUPPORT). A nil error
	// means the request never reached IPVS: moby/ipvs cached a failed family
	// lookup.
	if err := h.DelService(&ipvs.Service{AddressFamily: 0xffff, FWMark: 1}); err == nil {
		h.Close()
		return nil, fmt.Errorf("%w: moby/ipvs has no IPVS family id (IPVS was missing when this process first opened it); restart tandem", ErrUnavailable)
	}
	return &mobyKernel{h: h}, nil
}

// Dump reads every service, then the destinations of each. A service
// deleted between the two reads shows with no destinations.
func (k *mobyKernel) Dump() (Table, error) {
	svcs, err := k.h.GetServices()
	if err != nil {
		return nil, &OpError{Op: "list services", Err: err}
	}
	t := make(Table, len(svcs))
	for _, ms := range svcs {
		s, err := fromMobyService(ms)
		if err != nil {
			return nil, &OpError{Op: "list services", Err: err}
		}
		mds, err := k.h.GetDestinations(ms)
		if err != nil {
			return nil, &OpError{Op: "list destinations of", Service: s.Key, Err: err}
		}
		for _, md := range mds {
			d, err := fromMobyDest(md)
			if err != nil {
				return nil, &OpError{Op: "list destinations of", Service: s.Key, Err: err}
			}
			s.Destinations = append(s.Destinations, d)
		}
		t[s.Key] = s
	}
	return t, nil
}

// Apply performs one op through the handle.
func (k *mobyKernel) Apply(op Op) error {
	s := toMobyService(op.Service)
	switch op.Kind {
	case AddService:
		return k.h.NewService(s)
	case UpdateService:
		return k.h.UpdateService(s)
	case DelService:
		return k.h.DelService(s)
	case AddDest:
		return k.h.NewDestination(s, toMobyDest(op.Dest))
	case UpdateDest:
		return k.h.UpdateDestination(s, toMobyDest(op.Dest))
	case DelDest:
		return k.h.DelDestination(s, toMobyDest(op.Dest))
	}
	return fmt.Errorf("unknown op kind %d", op.Kind)
}

// Close closes the netlink socket; the table stays.
func (k *mobyKernel) Close() error {
	k.h.Close()
	return nil
}

// toMobyService converts s, which should be normalised, for moby/ipvs. The
// netmask goes as the kernel reads it: IPVS_SVC_ATTR_NETMASK is a __be32,
// which for IPv4 holds the mask in network byte order and for IPv6 holds the
// prefix length as a plain u32 (ip_vs_ctl.c, ip_vs_add_service); moby/ipvs
// writes and reads it in native byte order (fillService, assembleService).
func toMobyService(s Service) *ipvs.Service {
	k := s.Key.canonical()
	ms := &ipvs.Service{
		AddressFamily: uint16(k.Family),
		SchedName:     s.Scheduler,
		Flags:         uint32(s.Flags &^ FlagHashed),
		Timeout:       uint32(s.Timeout / time.Second),
		PEName:        s.PEName,
	}
	if ms.SchedName == "" {
		ms.SchedName = DefaultScheduler
	}
	if k.IsFWMark() {
		ms.FWMark = k.FWMark
	} else {
		ms.Protocol = uint16(k.Protocol)
		ms.Address = net.IP(k.Addr.AsSlice())
		ms.Port = k.Port
	}
	bits := s.Netmask
	if bits <= 0 {
		bits = hostBits(k.Family)
	}
	if k.Family == IPv6 {
		ms.Netmask = uint32(bits)
	} else {
		ms.Netmask = binary.NativeEndian.Uint32(net.CIDRMask(bits, 32))
	}
	return ms
}

// fromMobyService converts a service read back by moby/ipvs. An IPv4 netmask
// that is no prefix, or is /0, reads as -1, which no valid wanted table has,
// so that a persistent service carrying it is corrected.
func fromMobyService(ms *ipvs.Service) (Service, error) {
	fam := Family(ms.AddressFamily)
	var key ServiceKey
	if ms.FWMark != 0 {
		key = FWMarkService(fam, ms.FWMark)
	} else {
		addr, ok := netip.AddrFromSlice(ms.Address)
		if !ok {
			return Service{}, fmt.Errorf("service with bad address %v", ms.Address)
		}
		key = ServiceKey{Family: fam, Protocol: Protocol(ms.Protocol), Addr: addr.Unmap(), Port: ms.Port}
	}
	s := Service{
		Key:       key,
		Scheduler: ms.SchedName,
		Flags:     ServiceFlags(ms.Flags),
		Timeout:   time.Duration(ms.Timeout) * time.Second,
		PEName:    ms.PEName,
	}
	if fam == IPv6 {
		s.Netmask = int(ms.Netmask)
	} else {
		ones, bits := net.IPMask(binary.NativeEndian.AppendUint32(nil, ms.Netmask)).Size()
		s.Netmask = ones
		if bits == 0 || ones == 0 {
			s.Netmask = -1
		}
	}
	return s, nil
}

func toMobyDest(d Destination) *ipvs.Destination {
	a := d.Addr.Unmap()
	return &ipvs.Destination{
		Address:         net.IP(a.AsSlice()),
		Port:            d.Port,
		Weight:          d.Weight,
		ConnectionFlags: uint32(d.Forward & ForwardMask),
		AddressFamily:   uint16(FamilyOf(a)),
		UpperThreshold:  d.UpperThreshold,
		LowerThreshold:  d.LowerThreshold,
	}
}

func fromMobyDest(md *ipvs.Destination) (Destination, error) {
	addr, ok := netip.AddrFromSlice(md.Address)
	if !ok {
		return Destination{}, fmt.Errorf("destination with bad address %v", md.Address)
	}
	return Destination{
		Addr:           addr.Unmap(),
		Port:           md.Port,
		Forward:        Forward(md.ConnectionFlags) & ForwardMask,
		Weight:         md.Weight,
		UpperThreshold: md.UpperThreshold,
		LowerThreshold: md.LowerThreshold,
	}, nil
}
