//go:build linux

package realserver

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netlinkRSHost is the real rsHost: route netlink and /proc/sys.
type netlinkRSHost struct {
	nl *netlink.Handle
}

func newRSHost() (rsHost, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	return &netlinkRSHost{nl: h}, nil
}

func (h *netlinkRSHost) LocalAddrs() ([]netip.Addr, error) {
	as, err := h.nl.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

func (h *netlinkRSHost) HasAddr(dev string, p netip.Prefix) (bool, error) {
	l, err := h.nl.LinkByName(dev)
	if err != nil {
		return false, err
	}
	fam := netlink.FAMILY_V4
	if p.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	as, err := h.nl.AddrList(l, fam)
	if err != nil {
		return false, err
	}
	for _, a := range as {
		ip, ok := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if ok && ip.Unmap() == p.Addr() && ones == p.Bits() {
			return true, nil
		}
	}
	return false, nil
}

func (h *netlinkRSHost) addr(p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	return a
}

func (h *netlinkRSHost) AddAddr(dev string, p netip.Prefix) error {
	l, err := h.nl.LinkByName(dev)
	if err != nil {
		return err
	}
	return h.nl.AddrAdd(l, h.addr(p))
}

func (h *netlinkRSHost) DelAddr(dev string, p netip.Prefix) error {
	l, err := h.nl.LinkByName(dev)
	if err != nil {
		return err
	}
	return h.nl.AddrDel(l, h.addr(p))
}

func (h *netlinkRSHost) IsUp(dev string) (bool, error) {
	l, err := h.nl.LinkByName(dev)
	if err != nil {
		return false, err
	}
	return l.Attrs().Flags&net.FlagUp != 0, nil
}

func (h *netlinkRSHost) SetUp(dev string, up bool) error {
	l, err := h.nl.LinkByName(dev)
	if err != nil {
		return err
	}
	if up {
		return h.nl.LinkSetUp(l)
	}
	return h.nl.LinkSetDown(l)
}

func (h *netlinkRSHost) Sysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	return strings.TrimSpace(string(b)), err
}

func (h *netlinkRSHost) SetSysctl(key, value string) error {
	return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
}
