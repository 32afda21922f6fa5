//go:build !linux

package vrrp

import (
	"context"
	"errors"
	"net"
	"net/netip"
)

// errUnimplemented is returned by the stubs on systems other than Linux.
var errUnimplemented = errors.New("vrrp: not implemented on this system")

// Conn is a VRRP socket; only Linux has one.
type Conn struct{}

// Dial is not implemented on this system.
func Dial(ifname string, v6 bool) (*Conn, error) { return nil, errUnimplemented }

// New is not implemented on this system.
func New(pc net.PacketConn, ifi *net.Interface) (*Conn, error) { return nil, errUnimplemented }

// WriteTo is not implemented on this system.
func (c *Conn) WriteTo(p *Packet, src, dst netip.Addr) error { return errUnimplemented }

// ReadFrom is not implemented on this system.
func (c *Conn) ReadFrom() (*Packet, netip.Addr, netip.Addr, error) {
	return nil, netip.Addr{}, netip.Addr{}, errUnimplemented
}

// Close does nothing.
func (c *Conn) Close() error { return nil }

// NetlinkVIPs is the VIP edge; only Linux has one.
type NetlinkVIPs struct{}

// NewNetlinkVIPs returns a VIP edge that fails.
func NewNetlinkVIPs() *NetlinkVIPs { return &NetlinkVIPs{} }

// AddVIP is not implemented on this system.
func (v *NetlinkVIPs) AddVIP(ifname string, p netip.Prefix) error { return errUnimplemented }

// DelVIP is not implemented on this system.
func (v *NetlinkVIPs) DelVIP(ifname string, p netip.Prefix) error { return errUnimplemented }

// PrimaryAddr is not implemented on this system.
func PrimaryAddr(ifname string, v6 bool, exclude []netip.Prefix) (netip.Addr, error) {
	return netip.Addr{}, errUnimplemented
}

// Announcer sends GARPs and NAs; only Linux has one.
type Announcer struct{}

// NewAnnouncer returns an Announcer that fails.
func NewAnnouncer() *Announcer { return &Announcer{} }

// Announce is not implemented on this system.
func (a *Announcer) Announce(ifname string, addrs []netip.Addr) error { return errUnimplemented }

// Close does nothing.
func (a *Announcer) Close() error { return nil }

// NetlinkLinks watches interfaces; only Linux has one.
type NetlinkLinks struct{}

// Watch is not implemented on this system.
func (NetlinkLinks) Watch(ctx context.Context, names []string, fn func(string, bool)) (map[string]bool, error) {
	return nil, errUnimplemented
}
