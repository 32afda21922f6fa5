package director

import (
	"net/netip"
	"slices"

	"github.com/tandem-lb/tandem/conf"
)

// heldAddr is an address the director holds, and whether it is
// deprecated (never picked as a source).
type heldAddr struct {
	Addr       netip.Addr
	Deprecated bool
}

// preferredVIPs returns the IPv6 static VIPs of c that the director holds
// as preferred addresses while a virtual server on the VIP has a DR or TUN
// real server. IPv6 has no primary address to prefer, so the director may
// send its own packets from such a VIP; a health check of a DR or TUN real
// server, which holds the VIP too, then gets an answer that stays on the
// real server, and the check fails. tandem adds its VRRP VIPs deprecated;
// static VIPs are the operator's (see conf/README.md).
func preferredVIPs(c *conf.Cluster, held []heldAddr) []netip.Addr {
	var out []netip.Addr
	for _, vip := range c.Director.StaticVIPs {
		if !vip.Is6() || slices.Contains(out, vip) || !direct(c, vip) {
			continue
		}
		for _, h := range held {
			if h.Addr == vip && !h.Deprecated {
				out = append(out, vip)
				break
			}
		}
	}
	return out
}

// direct reports whether a virtual server on vip has a DR or TUN real
// server.
func direct(c *conf.Cluster, vip netip.Addr) bool {
	for _, vs := range c.VirtualServers {
		if vs.Address.Addr() != vip {
			continue
		}
		for _, rs := range vs.RealServers {
			if rs.Forward == conf.DR || rs.Forward == conf.TUN {
				return true
			}
		}
	}
	return false
}

// warnPreferredVIPs logs each VIP of preferredVIPs, at start and on reload.
func (d *Director) warnPreferredVIPs(c *conf.Cluster) {
	if !slices.ContainsFunc(c.Director.StaticVIPs, netip.Addr.Is6) {
		return // nothing to read the addresses for
	}
	held, err := heldAddrs6()
	if err != nil {
		return // not knowable here: nothing to say
	}
	for _, vip := range preferredVIPs(c, held) {
		d.log.Warn("IPv6 static VIP is a preferred address: the director may send its own packets from it, and health checks of its DR and TUN real servers, which hold it too, would get no answer",
			"vip", vip, "hint", "make it deprecated: ip addr change VIP/LEN dev IF preferred_lft 0")
	}
}
