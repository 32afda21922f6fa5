package director

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"

	"github.com/tandem-lb/tandem/vrrp"
)

// bgpAddrs is the edge that keeps the BGP addresses on their interface.
type bgpAddrs struct{ vips *vrrp.NetlinkVIPs }

func newBGPAddrs() bgpAddrs { return bgpAddrs{vrrp.NewNetlinkVIPs()} }

// add puts a on ifname as a host address (/32, /128).
func (b bgpAddrs) add(ifname string, a netip.Addr) error {
	return b.vips.AddVIP(ifname, netip.PrefixFrom(a, a.BitLen()))
}

// del removes a from ifname.
func (b bgpAddrs) del(ifname string, a netip.Addr) error {
	return b.vips.DelVIP(ifname, netip.PrefixFrom(a, a.BitLen()))
}

// on returns the addresses ifname holds.
func (b bgpAddrs) on(ifname string) (map[netip.Addr]bool, error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("bgp interface %s: %w", ifname, err)
	}
	as, err := netlink.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("bgp interface %s: %w", ifname, err)
	}
	out := make(map[netip.Addr]bool, len(as))
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out[ip.Unmap()] = true
		}
	}
	return out, nil
}

// routeSource returns the address this host reaches dst from: the
// default router id.
func routeSource(dst netip.Addr) (netip.Addr, error) {
	rs, err := netlink.RouteGet(dst.AsSlice())
	if err != nil {
		return netip.Addr{}, fmt.Errorf("route to %s: %w", dst, err)
	}
	for _, r := range rs {
		if ip, ok := netip.AddrFromSlice(r.Src); ok && ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("route to %s: no IPv4 source address", dst)
}
