package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/bpf"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// allNodes is the IPv6 all-nodes group unsolicited NAs go to.
var allNodes = netip.MustParseAddr("ff02::1")

// Announcer sends gratuitous ARPs (RFC 5227 ARP announcements: a
// broadcast request whose sender and target are the VIP) for IPv4 VIPs and
// unsolicited neighbour advertisements (RFC 4861 §7.2.6, override flag
// set, to ff02::1) for IPv6 VIPs, so that hosts on the link move their
// cache entry to the new master's MAC.
//
// It opens one packet socket (ARP) and one ICMPv6 socket per interface on
// first use and keeps them until Close. It is safe for concurrent use.
type Announcer struct {
	mu   sync.Mutex
	arp  map[string]*packet.Conn
	icmp map[string]*ipv6.PacketConn
}

// NewAnnouncer returns an Announcer with no socket open yet.
func NewAnnouncer() *Announcer {
	return &Announcer{arp: map[string]*packet.Conn{}, icmp: map[string]*ipv6.PacketConn{}}
}

// dropAll is a socket filter that accepts nothing: the sockets only send.
var dropAll = func() []bpf.RawInstruction {
	r, _ := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	return r
}()

// Announce sends one gratuitous ARP or NA per address on ifname.
func (a *Announcer) Announce(ifname string, addrs []netip.Addr) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return opError("announce", ifname, netip.Addr{}, err)
	}
	var errs []error
	for _, ip := range addrs {
		if ip.Is4() {
			errs = append(errs, a.garp(ifi, ip))
		} else {
			errs = append(errs, a.na(ifi, ip))
		}
	}
	return errors.Join(errs...)
}

func (a *Announcer) garp(ifi *net.Interface, ip netip.Addr) error {
	if len(ifi.HardwareAddr) != 6 {
		return nil // no link layer addresses here (tun, loopback)
	}
	a.mu.Lock()
	c := a.arp[ifi.Name]
	if c == nil {
		var err error
		c, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), &packet.Config{Filter: dropAll})
		if err != nil {
			a.mu.Unlock()
			return opError("garp", ifi.Name, ip, err)
		}
		a.arp[ifi.Name] = c
	}
	a.mu.Unlock()
	b, err := garpFrame(ifi.HardwareAddr, ip)
	if err != nil {
		return opError("garp", ifi.Name, ip, err)
	}
	_, err = c.WriteTo(b, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return opError("garp", ifi.Name, ip, err)
}

// garpFrame is a broadcast Ethernet frame holding an ARP request with
// sender = target = ip.
func garpFrame(hw net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	p, err := arp.NewPacket(arp.OperationRequest, hw, ip, make(net.HardwareAddr, len(hw)), ip)
	if err != nil {
		return nil, err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: hw, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

func (a *Announcer) na(ifi *net.Interface, ip netip.Addr) error {
	a.mu.Lock()
	c := a.icmp[ifi.Name]
	if c == nil {
		var err error
		c, err = listenICMP6(ifi)
		if err != nil {
			a.mu.Unlock()
			return opError("na", ifi.Name, ip, err)
		}
		a.icmp[ifi.Name] = c
	}
	a.mu.Unlock()
	b, err := naMessage(ifi.HardwareAddr, ip)
	if err != nil {
		return opError("na", ifi.Name, ip, err)
	}
	cm := &ipv6.ControlMessage{HopLimit: TTL, Src: ip.AsSlice(), IfIndex: ifi.Index}
	_, err = c.WriteTo(b, cm, &net.IPAddr{IP: allNodes.AsSlice(), Zone: ifi.Name})
	return opError("na", ifi.Name, ip, err)
}

func listenICMP6(ifi *net.Interface) (*ipv6.PacketConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	c := ipv6.NewPacketConn(pc)
	var f ipv6.ICMPFilter
	f.SetAll(true) // receive nothing
	err = errors.Join(c.SetICMPFilter(&f), c.SetMulticastHopLimit(TTL), c.SetMulticastLoopback(false))
	if err != nil {
		pc.Close()
		return nil, err
	}
	return c, nil
}

// naMessage is an unsolicited neighbour advertisement for ip with the
// override flag and a target link-layer address option; the kernel fills
// in the ICMPv6 checksum.
func naMessage(hw net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	const flagOverride = 0x20
	body := make([]byte, 4+16, 4+16+2+len(hw))
	binary.BigEndian.PutUint32(body, flagOverride<<24)
	t := ip.As16()
	copy(body[4:], t[:])
	if len(hw) > 0 {
		// Option 2 (target link-layer address), length in units of 8 octets.
		body = append(body, 2, byte((2+len(hw)+7)/8))
		body = append(body, hw...)
		for len(body)%8 != 4 { // pad the option to its length
			body = append(body, 0)
		}
	}
	m := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Body: &icmp.RawBody{Data: body}}
	return m.Marshal(nil)
}

// Close closes the sockets.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for n, c := range a.arp {
		errs = append(errs, c.Close())
		delete(a.arp, n)
	}
	for n, c := range a.icmp {
		errs = append(errs, c.Close())
		delete(a.icmp, n)
	}
	return errors.Join(errs...)
}
