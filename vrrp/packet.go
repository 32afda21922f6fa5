package vrrp

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// TTL is the TTL (IPv4) or hop limit (IPv6) every advert is sent with and
// must arrive with (RFC 5798 §5.1.1.3, §7.1; RFC 3768 §7.1). The edge drops
// adverts with any other value.
const TTL = 255

// TypeAdvertisement is the only VRRP message type (RFC 5798 §5.2.2).
const TypeAdvertisement = 1

// Authentication types of VRRPv2 (RFC 3768 §5.3.6). Type 2 (IP
// Authentication Header) was removed by RFC 3768 and is not supported.
const (
	AuthNone   = 0
	AuthSimple = 1
)

// protoVRRP is VRRP's IP protocol number, used in the v3 pseudo-header.
const protoVRRP = 112

const (
	headerLen   = 8
	authLen     = 8 // v2 only
	maxAddrs    = 255
	centisecond = 10 * time.Millisecond
	// MaxIntervalV3 is the longest VRRPv3 interval: 12 bits of centiseconds.
	MaxIntervalV3 = 4095 * centisecond
	// MaxIntervalV2 is the longest VRRPv2 interval: 8 bits of seconds.
	MaxIntervalV2 = 255 * time.Second
)

// Sentinel errors of Parse, Marshal and CheckAuth; test them with errors.Is.
var (
	ErrTooShort = errors.New("vrrp: packet shorter than the 8-byte header")
	ErrVersion  = errors.New("vrrp: unsupported version")
	ErrType     = errors.New("vrrp: unknown message type")
	ErrLength   = errors.New("vrrp: length does not match the address count")
	ErrChecksum = errors.New("vrrp: bad checksum")
	ErrFamily   = errors.New("vrrp: address family mismatch")
	ErrInterval = errors.New("vrrp: advertisement interval out of range")
	ErrAuth     = errors.New("vrrp: authentication failed")
)

// A Packet is one VRRP advertisement, version 3 (RFC 5798 §5.2) or
// version 2 (RFC 3768 §5.3). It is a plain value: Parse returns a new one
// and Marshal does not keep it.
type Packet struct {
	Version  uint8 // 2 or 3
	Type     uint8 // TypeAdvertisement; Marshal takes 0 for it too
	VRID     uint8
	Priority uint8
	// Interval is v3's Max Adver Int (centiseconds, 10ms..40.95s) or v2's
	// Adver Int (whole seconds, 1s..255s). Marshal refuses other values
	// rather than round them.
	Interval time.Duration
	AuthType uint8   // v2 only: AuthNone or AuthSimple; ignored for v3
	AuthData [8]byte // v2 only: the password, NUL-padded; ignored for v3
	// Addresses are the virtual addresses, all of the family of the IP
	// source. Marshal drops any zone.
	Addresses []netip.Addr
}

// Len returns the length of the marshalled packet for addresses of the
// given size (4 or 16 bytes).
func (p *Packet) Len(addrLen int) int {
	n := headerLen + len(p.Addresses)*addrLen
	if p.Version == 2 {
		n += authLen
	}
	return n
}

// Marshal returns the packet's wire form, sent from src to dst, with the
// checksum filled in: for version 3 over the IPv4 or IPv6 pseudo-header
// (src, dst, protocol 112, length; RFC 5798 §5.2.8, as keepalived does for
// both families) and the message, for version 2 over the message only.
func (p *Packet) Marshal(src, dst netip.Addr) ([]byte, error) {
	return p.Append(nil, src, dst)
}

// Append is Marshal appending to b, for a caller that reuses a buffer.
func (p *Packet) Append(b []byte, src, dst netip.Addr) ([]byte, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if p.Type != 0 && p.Type != TypeAdvertisement {
		return nil, fmt.Errorf("%w: %d", ErrType, p.Type)
	}
	var ivl int
	switch p.Version {
	case 3:
		if p.Interval < centisecond || p.Interval > MaxIntervalV3 || p.Interval%centisecond != 0 {
			return nil, fmt.Errorf("%w: v3 needs whole centiseconds in 10ms..40.95s, not %v", ErrInterval, p.Interval)
		}
		ivl = int(p.Interval / centisecond)
	case 2:
		if p.Interval < time.Second || p.Interval > MaxIntervalV2 || p.Interval%time.Second != 0 {
			return nil, fmt.Errorf("%w: v2 needs whole seconds in 1s..255s, not %v", ErrInterval, p.Interval)
		}
		ivl = int(p.Interval / time.Second)
	default:
		return nil, fmt.Errorf("%w: %d", ErrVersion, p.Version)
	}
	alen, err := addrLen(p.Version, src, dst)
	if err != nil {
		return nil, err
	}
	if len(p.Addresses) > maxAddrs {
		return nil, fmt.Errorf("%w: %d addresses, at most %d", ErrLength, len(p.Addresses), maxAddrs)
	}
	for _, a := range p.Addresses {
		if a.Is4() != src.Is4() {
			return nil, fmt.Errorf("%w: address %v from %v", ErrFamily, a, src)
		}
	}

	start := len(b)
	b = append(b, p.Version<<4|TypeAdvertisement, p.VRID, p.Priority, uint8(len(p.Addresses)))
	if p.Version == 3 {
		b = binary.BigEndian.AppendUint16(b, uint16(ivl)) // the 4 reserved bits stay 0
	} else {
		b = append(b, p.AuthType, uint8(ivl))
	}
	b = append(b, 0, 0) // checksum
	for _, a := range p.Addresses {
		if alen == 4 {
			a4 := a.As4()
			b = append(b, a4[:]...)
		} else {
			a16 := a.As16()
			b = append(b, a16[:]...)
		}
	}
	if p.Version == 2 {
		b = append(b, p.AuthData[:]...)
	}
	msg := b[start:]
	binary.BigEndian.PutUint16(msg[6:], checksum(p.Version, src, dst, msg))
	return b, nil
}

// Parse decodes the VRRP message b (the IP payload, without the IP
// header) received from src for dst. It checks the version (2 or 3; 2 only
// over IPv4), the type, that the length matches the address count (4 or
// 16 bytes each by the family of src, plus v2's 8 bytes of authentication
// data), the checksum, and that the interval is not zero. The reserved
// bits of v3 are ignored, as RFC 5798 §5.2.6 says. Errors wrap the
// package's sentinels. Parse never panics and does not keep b.
func Parse(b []byte, src, dst netip.Addr) (*Packet, error) {
	src, dst = src.Unmap(), dst.Unmap()
	if len(b) < headerLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooShort, len(b))
	}
	p := &Packet{Version: b[0] >> 4, Type: b[0] & 0x0f, VRID: b[1], Priority: b[2]}
	if p.Version != 2 && p.Version != 3 {
		return nil, fmt.Errorf("%w: %d", ErrVersion, p.Version)
	}
	if p.Type != TypeAdvertisement {
		return nil, fmt.Errorf("%w: %d", ErrType, p.Type)
	}
	alen, err := addrLen(p.Version, src, dst)
	if err != nil {
		return nil, err
	}
	n := int(b[3])
	want := headerLen + n*alen
	if p.Version == 2 {
		want += authLen
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: %d bytes for %d addresses, want %d", ErrLength, len(b), n, want)
	}
	if sum := checksum(p.Version, src, dst, b); sum != 0 {
		return nil, fmt.Errorf("%w: %#04x", ErrChecksum, binary.BigEndian.Uint16(b[6:]))
	}
	if p.Version == 3 {
		p.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * centisecond
	} else {
		p.AuthType = b[4]
		p.Interval = time.Duration(b[5]) * time.Second
		copy(p.AuthData[:], b[want-authLen:])
	}
	if p.Interval == 0 {
		return nil, fmt.Errorf("%w: zero", ErrInterval)
	}
	if n > 0 {
		p.Addresses = make([]netip.Addr, n)
	}
	for i := range n {
		o := headerLen + i*alen
		if alen == 4 {
			p.Addresses[i] = netip.AddrFrom4([4]byte(b[o : o+4]))
		} else {
			p.Addresses[i] = netip.AddrFrom16([16]byte(b[o : o+16]))
		}
	}
	return p, nil
}

// addrLen checks src and dst and returns the size of the addresses
// their family carries.
func addrLen(version uint8, src, dst netip.Addr) (int, error) {
	switch {
	case !src.IsValid() || !dst.IsValid():
		return 0, fmt.Errorf("%w: invalid source %v or destination %v", ErrFamily, src, dst)
	case src.Is4() != dst.Is4():
		return 0, fmt.Errorf("%w: source %v, destination %v", ErrFamily, src, dst)
	case src.Is4():
		return 4, nil
	case version == 2:
		return 0, fmt.Errorf("%w: VRRPv2 is IPv4 only, source %v", ErrFamily, src)
	default:
		return 16, nil
	}
}

// checksum returns the Internet checksum (RFC 1071) of msg, preceded for
// version 3 by the pseudo-header of RFC 768 (IPv4) or RFC 8200 §8.1
// (IPv6). Over a message whose checksum field is set it returns 0 when the
// field is right; over one whose field is 0, the value to put there.
func checksum(version uint8, src, dst netip.Addr, msg []byte) uint16 {
	var sum uint32
	if version == 3 {
		s, d := src.AsSlice(), dst.AsSlice()
		sum = add(sum, s)
		sum = add(sum, d)
		if src.Is4() {
			// zero, protocol, 16-bit length
			sum += protoVRRP + uint32(len(msg))
		} else {
			// 32-bit length, 3 zero bytes, next header
			sum += uint32(len(msg))>>16 + uint32(len(msg))&0xffff + protoVRRP
		}
	}
	sum = add(sum, msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// add adds b to sum as big-endian 16-bit words, padding an odd byte.
func add(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	// Fold now and then so that a long input cannot overflow.
	return sum>>16 + sum&0xffff
}

// SetPassword sets VRRPv2 simple-text authentication (RFC 3768 §5.3.6.1):
// AuthType AuthSimple and the first 8 bytes of password, NUL-padded. An
// empty password sets AuthNone.
func (p *Packet) SetPassword(password string) {
	p.AuthType, p.AuthData = authFor(password)
}

func authFor(password string) (uint8, [8]byte) {
	var d [8]byte
	if password == "" {
		return AuthNone, d
	}
	copy(d[:], password)
	return AuthSimple, d
}

// CheckAuth checks a received advert against the locally configured
// password ("" = none), as RFC 3768 §7.1 asks: the Auth Type must match
// and, for simple text, the 8 bytes of Authentication Data too (compared
// in constant time). Only the first 8 bytes of password count. A VRRPv3
// advert carries no authentication (RFC 5798 §9): it passes when password
// is empty and fails otherwise. The error wraps ErrAuth.
func (p *Packet) CheckAuth(password string) error {
	if p.Version != 2 {
		if password != "" {
			return fmt.Errorf("%w: VRRPv%d has no authentication", ErrAuth, p.Version)
		}
		return nil
	}
	typ, data := authFor(password)
	if p.AuthType != typ {
		return fmt.Errorf("%w: auth type %d, want %d", ErrAuth, p.AuthType, typ)
	}
	if typ == AuthSimple && subtle.ConstantTimeCompare(p.AuthData[:], data[:]) != 1 {
		return fmt.Errorf("%w: wrong password", ErrAuth)
	}
	return nil
}

// String returns a short description for logs, without the password.
func (p *Packet) String() string {
	return fmt.Sprintf("VRRPv%d vrid=%d prio=%d interval=%v addrs=%v", p.Version, p.VRID, p.Priority, p.Interval, p.Addresses)
}
