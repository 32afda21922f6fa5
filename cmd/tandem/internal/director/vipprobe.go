package director

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/tandem-lb/tandem/conf"
)

// Before tandem run applies anything it probes its VRRP addresses
// (ProbeVIPs): an ARP probe (RFC 5227: sender address 0.0.0.0) for each
// IPv4 VIP and duplicate address detection (RFC 4862: a neighbour
// solicitation from ::) for each IPv6 one, on the instance's interface.
// An address some host answers for is a conflict unless a VRRP router
// advertises the instance's VRID on that link within three Master_Down
// intervals (nine advert intervals; the peer's adverts arrive every
// interval, so the wait is one interval unless something else answers):
// then the answer is the peer that holds it as master, as
// VRRP means it to. A conflict fails the start, naming the address, the
// instance and its place in the file, the interface and the MAC that
// answered.

// probeWait is how long a probe waits for an answer; probes are sent at
// 0 and probeWait/3.
const probeWait = 300 * time.Millisecond

// probeTarget is one VIP to probe.
type probeTarget struct {
	vip      netip.Addr
	instance string
	vrid     uint8
	pos      string // where the instance's addresses are written
}

// ifaceProbe is the probes of one interface.
type ifaceProbe struct {
	ifname  string
	targets []probeTarget
	// listen is how long adverts are waited for once an address is
	// answered: nine advert intervals of the slowest instance (three
	// times a backup's Master_Down_Interval, so that a master whose
	// adverts run late on a loaded host, as a restart after a crash
	// meets it, is still heard), and a probe wait.
	listen time.Duration
}

// probePlan groups c's VRRP addresses by interface.
func probePlan(c *conf.Cluster) []*ifaceProbe {
	var out []*ifaceProbe
	by := map[string]*ifaceProbe{}
	for _, v := range c.VRRP {
		ip := by[v.Interface]
		if ip == nil {
			ip = &ifaceProbe{ifname: v.Interface}
			by[v.Interface] = ip
			out = append(out, ip)
		}
		if l := 9*v.AdvertInterval + probeWait; l > ip.listen {
			ip.listen = l
		}
		pos := c.Pos(fmt.Sprintf("vrrp %q addresses", v.Name))
		for _, a := range v.Addresses {
			ip.targets = append(ip.targets, probeTarget{vip: a.Addr(), instance: v.Name, vrid: v.VRID, pos: pos})
		}
	}
	return out
}

// probeResult is what a probe of one interface saw.
type probeResult struct {
	owner      map[netip.Addr]net.HardwareAddr // VIP -> the MAC that answered
	advertised map[vridKey]bool
}

type vridKey struct {
	v6   bool
	vrid uint8
}

// conflict is the error for the first target of ip answered by a host
// while no VRRP router advertised its VRID, or nil.
func (ip *ifaceProbe) conflict(r probeResult) error {
	for _, t := range ip.targets {
		mac, ok := r.owner[t.vip]
		if !ok || r.advertised[vridKey{t.vip.Is6(), t.vrid}] {
			continue
		}
		how := "an ARP probe"
		if t.vip.Is6() {
			how = "duplicate address detection (a neighbour solicitation from ::)"
		}
		where := fmt.Sprintf("vrrp %q", t.instance)
		if t.pos != "" {
			where += ", " + t.pos
		}
		return fmt.Errorf("address %s (%s) is in use by another host: %s answered %s on %s, and no VRRP router advertises vrid %d there (listened %v). Hint: remove the address from that host, or change the instance's addresses; a VRRP peer holding it as master is no conflict",
			t.vip, where, mac, how, ip.ifname, t.vrid, ip.listen)
	}
	return nil
}
