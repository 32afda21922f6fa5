package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
)

// Protocol is VRRP's IP protocol number (RFC 5798 §5.1.1.4).
const Protocol = 112

// The VRRP multicast groups (RFC 5798 §5.1.1.2, §5.1.2.2).
var (
	GroupV4 = netip.AddrFrom4([4]byte{224, 0, 0, 18})
	GroupV6 = netip.MustParseAddr("ff02::12")
)

// ErrTTL reports a received advert whose TTL (IPv4) or hop limit (IPv6)
// is not 255: it crossed a router and must be dropped (RFC 5798 §7.1).
var ErrTTL = errors.New("vrrp: ttl or hop limit is not 255")

// A Transport sends and receives the adverts of one interface and address
// family; one Transport serves every instance (VRID) on that interface.
// *Conn is the real one; the runner's tests use an in-memory link.
//
// WriteTo and ReadFrom may be called from different goroutines; Close
// makes a blocked ReadFrom return an error wrapping net.ErrClosed.
type Transport interface {
	// WriteTo sends p from src (the instance's primary address) to dst
	// (the multicast group or a unicast peer) with TTL/hop limit 255.
	WriteTo(p *Packet, src, dst netip.Addr) error
	// ReadFrom blocks until the next packet. A packet that is not a
	// valid advert comes back as a *DropError, and the caller reads on.
	ReadFrom() (p *Packet, src, dst netip.Addr, err error)
	Close() error
}

// A DropError reports a received packet that was not a valid advert:
// a TTL other than 255, or a packet Parse refused. Err is ErrTTL or one of
// Parse's sentinel errors.
type DropError struct {
	Src netip.Addr
	Err error
	// Packet is the advert, for ErrTTL, when it parses: whose VRID it was
	// for (a router on that VRID is misconfigured, or adverts are routed).
	Packet *Packet
}

func (e *DropError) Error() string {
	return fmt.Sprintf("vrrp: dropped packet from %s: %v", e.Src, e.Err)
}

// Unwrap returns the reason.
func (e *DropError) Unwrap() error { return e.Err }

// An OpError is a failed socket, netlink or announce operation, with the
// operation, the interface and the address it was about.
type OpError struct {
	Op        string // "dial", "write", "read", "add vip", "del vip", "garp", "na", ...
	Interface string
	Addr      netip.Addr // zero when not about one address
	Err       error
}

func (e *OpError) Error() string {
	s := "vrrp: " + e.Op
	if e.Interface != "" {
		s += " on " + e.Interface
	}
	if e.Addr.IsValid() {
		s += " " + e.Addr.String()
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

var (
	_ error     = &OpError{}
	_ error     = &DropError{}
	_ Transport = &Conn{}
)
