package conf

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// BGP is the `bgp` block: the cluster's VIPs are announced by every
// director over BGP (next hop self) instead of moved by VRRP, and a router
// spreads the flows over the directors with ECMP. Every director is active.
type BGP struct {
	// LocalAS is the directors' AS number.
	LocalAS uint32
	// Addresses are the VIPs announced, as /32 or /128 routes. tandem
	// adds them to Interface on each director.
	Addresses []netip.Addr
	// Interface is where each director holds the VIPs (default "lo").
	Interface string
	// HoldTime is the BGP hold time offered to the peers (default 9s);
	// a crashed director's routes are gone from the router after it.
	HoldTime time.Duration
	// GracefulRestart, when true, makes a stop (SIGTERM) a graceful
	// restart (RFC 4724): the routes are not withdrawn and the router
	// keeps them, stale, for RestartTime (default 15s) while the kernel's
	// IPVS table goes on forwarding. When false (the default) a stop
	// withdraws the routes first. `tandem drain-node` always withdraws.
	GracefulRestart bool
	RestartTime     time.Duration
	// Communities are standard communities ("65000:100") attached to
	// every announced route; nil when none.
	Communities []string
	// MED is the multi-exit discriminator of the routes; nil when not set.
	MED *uint32
	// Drain is how long a planned stop (drain-node, or SIGTERM without
	// graceful restart) waits after its withdrawals were sent for the
	// router to move the flows (default 2s).
	Drain time.Duration
	// Peers are the routers every director peers with.
	Peers []BGPPeer
}

// BGPPeer is a `peer` block of the bgp block.
type BGPPeer struct {
	Name     string
	Address  netip.Addr
	AS       uint32
	Port     uint16 // default 179
	Password string // TCP MD5 signature; "" for none
	// HoldTime overrides the bgp block's hold time; 0 when not set.
	HoldTime time.Duration
	// Passive waits for the router to connect instead of connecting.
	Passive bool
	// BFD runs single-hop BFD with the peer: the session goes down after
	// BFDMultiplier missed BFDIntervals instead of the hold time.
	BFD           bool
	BFDInterval   time.Duration // default 300ms
	BFDMultiplier uint8         // default 3
}

// HoldTimeOf returns the hold time of peer p.
func (b *BGP) HoldTimeOf(p *BGPPeer) time.Duration {
	if p.HoldTime > 0 {
		return p.HoldTime
	}
	return b.HoldTime
}

// IsBGPVIP reports whether a is an address the bgp block announces.
func (c *Cluster) IsBGPVIP(a netip.Addr) bool {
	return c.BGP != nil && slices.Contains(c.BGP.Addresses, a)
}

var (
	bgpSchema = schema([]string{"local_as", "addresses", "interface", "hold_time", "graceful_restart",
		"restart_time", "communities", "med", "drain_timeout"}, blk("peer", "name"))
	bgpPeerSchema = schema([]string{"address", "as", "port", "password", "hold_time", "passive", "bfd", "bfd_interval", "bfd_multiplier"})
)

// bgp decodes the bgp block.
func (p *parser) bgp(b *hcl.Block) {
	bd := p.open(b, b.Body, bgpSchema)
	d := &p.decoder
	g := &BGP{Interface: "lo", HoldTime: 9 * time.Second, RestartTime: 15 * time.Second, Drain: 2 * time.Second}
	if a := p.required(bd, "local_as", "add local_as = 65010, the AS number of the directors."); a != nil {
		setInt(d, &g.LocalAS, a, 1, maxU32)
	}
	if a := p.required(bd, "addresses", `add addresses = ["203.0.113.10"], the VIPs every director announces.`); a != nil {
		items, ok := p.strList(a)
		if ok && len(items) == 0 {
			p.errf(a.Expr.Range(), "No addresses", "The bgp block needs at least one address to announce. Hint: write addresses = [\"203.0.113.10\"].")
		}
		for _, it := range items {
			ip, good := p.addr("addresses", it)
			good = good && p.usable("bgp addresses", it, ip, roleVIP)
			if !good {
				ok = false
				continue
			}
			if owner, dup := p.vipOwner[ip]; dup {
				p.errf(it.rng, "Duplicate VIP", "addresses: %s is already an address of vrrp %q. Hint: a VIP is either moved by VRRP or announced by BGP, not both.", ip, owner)
				continue
			}
			if p.staticVIPs[ip] {
				p.errf(it.rng, "Duplicate VIP", "addresses: %s is also in director.static_vips. Hint: a VIP announced by BGP is added by tandem; remove it from static_vips.", ip)
				continue
			}
			if slices.Contains(g.Addresses, ip) {
				p.errf(it.rng, "Duplicate address", "addresses: %s is listed twice. Hint: list each VIP once.", ip)
				continue
			}
			g.Addresses = append(g.Addresses, ip)
		}
		if !ok {
			p.vipsKnown = false
		}
	}
	if a := bd.attr("interface"); a != nil && setStr(d, &g.Interface, a) {
		it := item{g.Interface, a.Expr.Range()}
		p.notePos("bgp interface", it.rng)
		if p.ifname("interface", it) && g.Interface != "lo" {
			p.checkIface("bgp interface", it)
		}
	}
	setDur(d, &g.HoldTime, bd.attr("hold_time"), 3*time.Second, 65535*time.Second, time.Second)
	setBool(d, &g.GracefulRestart, bd.attr("graceful_restart"))
	setDur(d, &g.RestartTime, bd.attr("restart_time"), time.Second, 4095*time.Second, time.Second)
	setDur(d, &g.Drain, bd.attr("drain_timeout"), 0, time.Hour, time.Millisecond)
	if a := bd.attr("communities"); a != nil {
		items, _ := p.strList(a)
		for _, it := range items {
			if !validCommunity(it.s) {
				p.errf(it.rng, "Invalid community", "communities: %q is not a standard community. Hint: write it as \"AS:VALUE\", two numbers from 0 to 65535, as in \"65010:100\".", it.s)
				continue
			}
			g.Communities = append(g.Communities, it.s)
		}
	}
	if a := bd.attr("med"); a != nil {
		var med uint32
		if setInt(d, &med, a, 0, maxU32) {
			g.MED = &med
		}
	}
	names := map[string]int{}
	addrs := map[netip.Addr]int{}
	pbs := bd.blocks["peer"]
	if len(pbs) == 0 {
		p.errf(b.DefRange, "No peer", "The bgp block needs at least one peer, the router the directors announce the VIPs to. Hint: add peer \"router\" { address = \"192.0.2.1\"\n as = 65000 }.")
	}
	for _, pb := range pbs {
		name, _ := p.label(pb)
		pbd := p.open(pb, pb.Body, bgpPeerSchema)
		peer := BGPPeer{Name: name, Port: 179, BFDInterval: 300 * time.Millisecond, BFDMultiplier: 3}
		if a := p.required(pbd, "address", `add address = "192.0.2.1", the router's address.`); a != nil {
			if ip, ok := d.addrAttr(a); ok {
				if ip.IsUnspecified() || ip.IsMulticast() {
					p.errf(a.Expr.Range(), "Invalid peer address", "address: %s cannot be a BGP peer. Hint: write the router's unicast address.", ip)
				} else if unique(p, addrs, ip, a.Expr.Range(), "Duplicate peer address", func() string { return fmt.Sprintf("peer %s", ip) }, "each peer block names a different router.") {
					peer.Address = ip
				}
			}
		}
		if a := p.required(pbd, "as", "add as = 65000, the router's AS number."); a != nil {
			setInt(d, &peer.AS, a, 1, maxU32)
		}
		setInt(d, &peer.Port, pbd.attr("port"), 1, 65535)
		if a := pbd.attr("password"); a != nil && setStr(d, &peer.Password, a) && len(peer.Password) > 80 {
			p.errf(a.Expr.Range(), "Password too long", "password: the kernel's TCP MD5 signature takes at most 80 bytes, this one has %d. Hint: use a shorter password on both sides.", len(peer.Password))
		}
		setDur(d, &peer.HoldTime, pbd.attr("hold_time"), 3*time.Second, 65535*time.Second, time.Second)
		setBool(d, &peer.Passive, pbd.attr("passive"))
		setBool(d, &peer.BFD, pbd.attr("bfd"))
		setDur(d, &peer.BFDInterval, pbd.attr("bfd_interval"), 10*time.Millisecond, time.Minute, time.Millisecond)
		setInt(d, &peer.BFDMultiplier, pbd.attr("bfd_multiplier"), 1, 255)
		unique(p, names, name, pb.LabelRanges[0], "Duplicate peer name", func() string { return fmt.Sprintf("peer %q", name) }, "give each peer a different name.")
		g.Peers = append(g.Peers, peer)
	}
	for _, a := range g.Addresses {
		if a.Is6() && len(g.Peers) > 0 && !slices.ContainsFunc(g.Peers, func(p BGPPeer) bool { return p.Address.Is6() }) {
			p.errf(bd.attr("addresses").Expr.Range(), "IPv6 address without an IPv6 peer", "%s is IPv6, but every peer is IPv4: the route's next hop would be an IPv4 address, which a router cannot use for IPv6. Hint: add a peer on the router's IPv6 address, or move the address to a cluster that has one.", a)
			break
		}
	}
	p.c.BGP = g
}

// validCommunity reports whether s is a standard community "AS:VALUE"
// or a well-known one's name.
func validCommunity(s string) bool {
	switch strings.ToLower(s) {
	case "no-export", "no-advertise", "no-export-subconfed", "blackhole", "graceful-shutdown":
		return true
	}
	as, val, ok := strings.Cut(s, ":")
	if !ok {
		return false
	}
	for _, f := range []string{as, val} {
		if n, err := strconv.ParseUint(f, 10, 16); err != nil || n > 65535 {
			return false
		}
	}
	return true
}

// checkBGPServices checks the virtual servers of the BGP VIPs: every
// director is active, a router spreads the flows over them, and any
// director may get any packet of a flow.
func (p *parser) checkBGPServices() {
	g := p.c.BGP
	if g == nil {
		return
	}
	for i := range p.c.VirtualServers {
		vs := &p.c.VirtualServers[i]
		if vs.FWMark != 0 || !slices.Contains(g.Addresses, vs.Address.Addr()) {
			continue
		}
		rng := p.vsRange[vs.Name]
		for _, rs := range vs.RealServers {
			if rs.Forward == NAT {
				p.errf(rng, "NAT real server behind BGP", "real server %s forwards by NAT, but %s is announced by BGP from every director: NAT replies must return through the director that forwarded them. Hint: use forward = \"dr\" or \"tun\".", rs.Address, vs.Address.Addr())
				break
			}
		}
		if r, ok := p.removeSet[vs.Name]; ok {
			p.errf(r, "on_failure = \"remove\" behind BGP", "A real server deleted and added back goes to the end of the kernel's list, and mh and sh fill their tables in list order: the directors would disagree on where flows go. Hint: remove the line; failed real servers of a BGP address are drained (weight 0).")
		}
		// Drained, not deleted: the kernel's list keeps its order.
		vs.OnFailure = Drain
		if vs.Scheduler != "mh" && vs.Scheduler != "sh" {
			p.warnf(rng, "Scheduler without consistent placement", "scheduler %q: a flow the router moves to another director is scheduled again, likely to another real server, and breaks. Hint: scheduler = \"mh\" with scheduler_flags = [\"mh-port\", \"mh-fallback\"] picks the same real server on every director.", vs.Scheduler)
		}
		if fb := vs.Scheduler + "-fallback"; (vs.Scheduler == "mh" || vs.Scheduler == "sh") && !slices.Contains(vs.SchedulerFlags, fb) {
			p.warnf(rng, "Scheduler without fallback", "without %q, new flows that hash to a drained real server (weight 0: a failed one, behind BGP) are refused instead of going to the next one. Hint: add %q to scheduler_flags.", fb, fb)
		}
		if vs.Persistence != nil {
			p.warnf(rng, "Persistence behind BGP", "persistence templates are per director, and the router spreads a client's flows over all of them. Hint: remove persistence; mh without mh-port gives a client the same real server on every director.")
		}
	}
}

// warnf adds a warning at rng: the file loads, and `tandem check` shows it.
func (d *decoder) warnf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.add(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r})
}
