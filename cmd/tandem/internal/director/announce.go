package director

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// Announcement is the decision for one BGP address: announced or not,
// and why.
type Announcement struct {
	Addr      netip.Addr
	Announced bool
	// Reason says why it is, or is not, announced ("ready", "draining",
	// "virtual_server \"web\" below quorum", ...).
	Reason string
}

// announceInput is what the announce decision looks at.
type announceInput struct {
	// Programmed is true once the IPVS table has been reconciled since
	// start (the first apply succeeded).
	Programmed bool
	// Draining is true from `tandem drain-node`, or a stop, on.
	Draining bool
	// OnInterface tells whether an address is on the bgp interface.
	OnInterface func(netip.Addr) bool
	// Services is the health of every virtual server, by key.
	Services map[ipvs.ServiceKey]*ServiceHealth
}

// decideAnnounce is the announce decision, a pure function: an address
// of g is announced while the table is programmed, the director is not
// draining, the address is on the interface, and it has at least one
// virtual server, every one of which has its quorum. The result keeps
// g's order.
func decideAnnounce(c *conf.Cluster, in announceInput) []Announcement {
	g := c.BGP
	if g == nil {
		return nil
	}
	out := make([]Announcement, 0, len(g.Addresses))
	for _, a := range g.Addresses {
		out = append(out, decideOne(c, a, in))
	}
	return out
}

func decideOne(c *conf.Cluster, a netip.Addr, in announceInput) Announcement {
	no := func(format string, args ...any) Announcement {
		return Announcement{Addr: a, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case in.Draining:
		return no("draining")
	case !in.Programmed:
		return no("ipvs table not programmed yet")
	case in.OnInterface != nil && !in.OnInterface(a):
		return no("address not on interface %s", c.BGP.Interface)
	}
	n := 0
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.FWMark != 0 || vs.Address.Addr() != a {
			continue
		}
		n++
		sh, ok := in.Services[serviceKey(vs)]
		switch {
		case !ok:
			return no("virtual_server %q not in the table yet", vs.Name)
		case !sh.Up:
			return no("virtual_server %q below quorum (%d of %d)", vs.Name, sh.HealthyWeight, sh.Quorum)
		}
	}
	if n == 0 {
		return no("no virtual_server uses it")
	}
	return Announcement{Addr: a, Announced: true, Reason: fmt.Sprintf("ready (%d virtual servers up)", n)}
}

// announced returns the prefixes of the addresses ds announces.
func announced(ds []Announcement) []netip.Prefix {
	var out []netip.Prefix
	for _, d := range ds {
		if d.Announced {
			out = append(out, netip.PrefixFrom(d.Addr, d.Addr.BitLen()))
		}
	}
	return out
}

// placementHash is a hash of what decides which real server a flow of a
// BGP address goes to, on any director: each such virtual server's key,
// scheduler and flags, and its real servers (address, port, weight,
// forwarding) in canonical order. Directors showing different hashes
// send the same flow to different real servers. "" without BGP.
func placementHash(c *conf.Cluster) string {
	if c == nil || c.BGP == nil {
		return ""
	}
	var lines []string
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.FWMark != 0 || !c.IsBGPVIP(vs.Address.Addr()) {
			continue
		}
		rs := make([]string, 0, len(vs.RealServers))
		for _, r := range slices.SortedFunc(slices.Values(vs.RealServers), func(a, b conf.RealServer) int {
			return cmp.Compare(a.Address.String(), b.Address.String())
		}) {
			rs = append(rs, fmt.Sprintf("%s/%d/%s", r.Address, r.Weight, r.Forward))
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %s", serviceKey(vs), vs.Scheduler, strings.Join(vs.SchedulerFlags, ","), strings.Join(rs, " ")))
	}
	slices.Sort(lines)
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:6])
}
