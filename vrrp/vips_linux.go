package vrrp

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkVIPs adds and removes VIPs through route netlink. IPv4 VIPs carry
// the label Label(interface) so `ip addr` shows them apart; IPv6 has no
// labels, so IPv6 VIPs are added with IFA_F_NODAD (a VIP is not tentative:
// only the master holds it) and remembered. IPv6 VIPs are also deprecated
// (preferred lifetime 0, valid forever): they receive as any address, but
// the director never picks one as the source of its own connections. A
// preferred VIP could be: IPv6 has no primary address to prefer, and then
// a health check of a DR or TUN real server, which holds the VIP too,
// would come from the VIP and its answer would stay on the real server.
//
// Adding an address that is there and removing one that is not are not
// errors. It is safe for concurrent use.
type NetlinkVIPs struct {
	mu    sync.Mutex
	added map[string]map[netip.Prefix]bool
}

// NewNetlinkVIPs returns the VIP edge for the current network namespace.
func NewNetlinkVIPs() *NetlinkVIPs { return &NetlinkVIPs{added: map[string]map[netip.Prefix]bool{}} }

// LabelSuffix is appended to the interface name to label tandem's IPv4 VIPs.
const LabelSuffix = ":tandem"

// Label returns the IFA_LABEL of tandem's IPv4 VIPs on ifname: the
// interface name with LabelSuffix, shortened to fit the kernel's 15
// characters (":t" at worst), or the bare name when even that does not fit.
func Label(ifname string) string {
	const max = unix.IFNAMSIZ - 1
	for _, suf := range []string{LabelSuffix, ":td", ":t"} {
		if len(ifname)+len(suf) <= max {
			return ifname + suf
		}
	}
	return ifname
}

func vipAddr(ifname string, p netip.Prefix) *netlink.Addr {
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is4() {
		a.Label = Label(ifname)
	} else {
		a.Flags = unix.IFA_F_NODAD
		a.PreferedLft, a.ValidLft = 0, infiniteLifetime
	}
	return a
}

// infiniteLifetime is the kernel's "forever" for an address lifetime.
const infiniteLifetime = 0xffffffff

// AddVIP adds p to ifname.
func (v *NetlinkVIPs) AddVIP(ifname string, p netip.Prefix) error {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return opError("add vip", ifname, p.Addr(), err)
	}
	a := vipAddr(ifname, p)
	if p.Addr().Is6() {
		// Replace: a VIP adopted from an earlier run becomes deprecated
		// too (in place: the address stays).
		err = netlink.AddrReplace(l, a)
	} else {
		err = netlink.AddrAdd(l, a)
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return opError("add vip", ifname, p.Addr(), err)
	}
	v.mu.Lock()
	if v.added[ifname] == nil {
		v.added[ifname] = map[netip.Prefix]bool{}
	}
	v.added[ifname][p] = true
	v.mu.Unlock()
	return nil
}

// DelVIP removes p from ifname.
func (v *NetlinkVIPs) DelVIP(ifname string, p netip.Prefix) error {
	v.mu.Lock()
	delete(v.added[ifname], p)
	v.mu.Unlock()
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return opError("del vip", ifname, p.Addr(), err)
	}
	a := vipAddr(ifname, p)
	err = netlink.AddrDel(l, a)
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return opError("del vip", ifname, p.Addr(), err)
	}
	return nil
}

// Added returns the VIPs this edge added to ifname and has not removed.
func (v *NetlinkVIPs) Added(ifname string) []netip.Prefix {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []netip.Prefix
	for p := range v.added[ifname] {
		out = append(out, p)
	}
	return out
}

// PrimaryAddr returns the address adverts are sent from on ifname: its
// first IPv4 address, or for IPv6 its first link-local address (RFC 5798
// §5.1.2.1), skipping the addresses in exclude (the VIPs, which a crashed
// run may have left behind).
func PrimaryAddr(ifname string, v6 bool, exclude []netip.Prefix) (netip.Addr, error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, opError("primary address", ifname, netip.Addr{}, err)
	}
	fam := netlink.FAMILY_V4
	if v6 {
		fam = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(l, fam)
	if err != nil {
		return netip.Addr{}, opError("primary address", ifname, netip.Addr{}, err)
	}
next:
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if v6 != ip.Is6() || (v6 && !ip.IsLinkLocalUnicast()) {
			continue
		}
		for _, x := range exclude {
			if x.Addr() == ip {
				continue next
			}
		}
		return ip, nil
	}
	want := "IPv4 address"
	if v6 {
		want = "IPv6 link-local address"
	}
	return netip.Addr{}, opError("primary address", ifname, netip.Addr{}, errors.New("no "+want+" other than the VIPs"))
}
