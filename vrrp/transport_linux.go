package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// tosInternetControl is the IPv4 TOS of adverts (precedence "internetwork
// control", as keepalived sends them).
const tosInternetControl = 0xc0

// Conn is a raw IP protocol 112 socket bound to one interface, for one
// address family: it joins the VRRP multicast group there, sends adverts
// with TTL/hop limit 255 and multicast loopback off, and hands received
// adverts back parsed and checked.
//
// One goroutine may read while others write; Close unblocks the reader.
type Conn struct {
	ifi *net.Interface
	v6  bool
	c4  *ipv4.RawConn
	c6  *ipv6.PacketConn
	pc  net.PacketConn
	buf []byte // the reader's buffer
}

// Dial opens a VRRP socket on the interface ifname for IPv4 (v6 false) or
// IPv6, bound to the device (SO_BINDTODEVICE). It needs CAP_NET_RAW.
func Dial(ifname string, v6 bool) (*Conn, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, opError("dial", ifname, netip.Addr{}, err)
	}
	network, laddr := "ip4:112", "0.0.0.0"
	if v6 {
		network, laddr = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, opError("dial", ifname, netip.Addr{}, err)
	}
	c, err := New(pc, ifi)
	if err != nil {
		pc.Close()
		return nil, err
	}
	return c, nil
}

// New makes a Conn of pc, a raw protocol 112 socket (*net.IPConn, "ip4:112"
// or "ip6:112") opened by the caller, and joins the VRRP group on ifi. The
// Conn owns pc from then on.
func New(pc net.PacketConn, ifi *net.Interface) (*Conn, error) {
	c := &Conn{ifi: ifi, pc: pc, buf: make([]byte, 1500)}
	la, ok := pc.LocalAddr().(*net.IPAddr)
	if !ok {
		return nil, opError("dial", ifi.Name, netip.Addr{}, fmt.Errorf("not a raw IP socket: %T", pc))
	}
	c.v6 = la.IP.To4() == nil
	var err error
	if c.v6 {
		c.c6 = ipv6.NewPacketConn(pc)
		err = errors.Join(
			c.c6.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst, true),
			c.c6.SetMulticastHopLimit(TTL),
			c.c6.SetHopLimit(TTL),
			c.c6.SetMulticastLoopback(false),
			c.c6.SetMulticastInterface(ifi),
			c.c6.JoinGroup(ifi, &net.IPAddr{IP: GroupV6.AsSlice()}),
		)
	} else {
		c.c4, err = ipv4.NewRawConn(pc)
		if err == nil {
			err = errors.Join(
				c.c4.SetMulticastTTL(TTL),
				c.c4.SetMulticastLoopback(false),
				c.c4.SetMulticastInterface(ifi),
				c.c4.JoinGroup(ifi, &net.IPAddr{IP: GroupV4.AsSlice()}),
			)
		}
	}
	if err != nil {
		return nil, opError("dial", ifi.Name, netip.Addr{}, err)
	}
	return c, nil
}

// WriteTo sends p from src to dst with TTL (hop limit) 255.
func (c *Conn) WriteTo(p *Packet, src, dst netip.Addr) error {
	b, err := p.Marshal(src, dst)
	if err != nil {
		return opError("write", c.ifi.Name, dst, err)
	}
	if c.v6 {
		cm := &ipv6.ControlMessage{HopLimit: TTL, Src: src.AsSlice(), IfIndex: c.ifi.Index}
		_, err = c.c6.WriteTo(b, cm, &net.IPAddr{IP: dst.AsSlice(), Zone: c.ifi.Name})
		return opError("write", c.ifi.Name, dst, err)
	}
	h := &ipv4.Header{
		Version:  ipv4.Version,
		Len:      ipv4.HeaderLen,
		TOS:      tosInternetControl,
		TotalLen: ipv4.HeaderLen + len(b),
		TTL:      TTL,
		Protocol: Protocol,
		Src:      src.AsSlice(),
		Dst:      dst.AsSlice(),
	}
	return opError("write", c.ifi.Name, dst, c.c4.WriteTo(h, b, nil))
}

// ReadFrom returns the next advert with its source and destination. A
// packet that is not one comes back as a *DropError; a closed Conn as an
// error wrapping net.ErrClosed.
func (c *Conn) ReadFrom() (*Packet, netip.Addr, netip.Addr, error) {
	if c.v6 {
		n, cm, from, err := c.c6.ReadFrom(c.buf)
		if err != nil {
			return nil, netip.Addr{}, netip.Addr{}, opError("read", c.ifi.Name, netip.Addr{}, err)
		}
		var src, dst netip.Addr
		if a, ok := from.(*net.IPAddr); ok {
			src, _ = netip.AddrFromSlice(a.IP)
		}
		hop := -1
		if cm != nil {
			dst, _ = netip.AddrFromSlice(cm.Dst)
			hop = cm.HopLimit
		}
		p, err := decode(hop, c.buf[:n], src, dst)
		return p, src, dst, err
	}
	h, b, _, err := c.c4.ReadFrom(c.buf)
	if err != nil {
		return nil, netip.Addr{}, netip.Addr{}, opError("read", c.ifi.Name, netip.Addr{}, err)
	}
	src, _ := netip.AddrFromSlice(h.Src.To4())
	dst, _ := netip.AddrFromSlice(h.Dst.To4())
	if h.Protocol != Protocol {
		return nil, src, dst, &DropError{Src: src, Err: fmt.Errorf("ip protocol %d", h.Protocol)}
	}
	p, err := decode(h.TTL, b, src, dst)
	return p, src, dst, err
}

// Close closes the socket (leaving the multicast group).
func (c *Conn) Close() error { return c.pc.Close() }

// opError wraps err in an *OpError; nil stays nil.
func opError(op, ifname string, addr netip.Addr, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, Interface: ifname, Addr: addr, Err: err}
}

// decode checks the TTL/hop limit of a received packet and parses its
// VRRP payload.
func decode(ttl int, b []byte, src, dst netip.Addr) (*Packet, error) {
	if ttl != TTL {
		p, err := Parse(b, src, dst)
		if err != nil {
			p = nil
		}
		return nil, &DropError{Src: src, Err: ErrTTL, Packet: p}
	}
	p, err := Parse(b, src, dst)
	if err != nil {
		return nil, &DropError{Src: src, Err: err}
	}
	return p, nil
}
