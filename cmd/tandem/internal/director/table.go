package director

import (
	"net/netip"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
)

// healthView is what the main loop knows when it computes the desired
// table: the checks' verdicts and the table in force before.
type healthView struct {
	// Up holds the last verdict of every check that has given one; a check
	// missing here is Unknown (no verdict yet).
	Up map[healthcheck.ID]bool
	// Prev is the table in force before this computation: the kernel's at
	// start, then the last desired table. It decides where Unknown checks
	// leave their real servers, and which drained real servers removed
	// from the file are still waiting for their connections to end.
	Prev ipvs.Table
	// IDs caches the check ID of each real server of the running config
	// (computing one hashes its Spec); real servers missing from it, such
	// as those of a config being loaded, have theirs computed.
	IDs map[*conf.RealServer]healthcheck.ID
	// Overrides are the operators' maintenance overrides (maintenance.go).
	Overrides overrides
}

// checkID returns rs's check ID, and false when rs has no check.
func (h healthView) checkID(rs *conf.RealServer) (healthcheck.ID, bool) {
	if rs.Check == nil {
		return "", false
	}
	if id, ok := h.IDs[rs]; ok {
		return id, true
	}
	spec, ok := checkSpec(rs)
	return spec.ID(), ok
}

// ServiceHealth is the health of one virtual server as the desired table
// sees it, for the log and the status command.
type ServiceHealth struct {
	Name string
	Key  ipvs.ServiceKey
	// HealthyWeight is the sum of the configured weights of the real
	// servers in service: checked Up, without a check, or adopted while
	// their check is Unknown.
	HealthyWeight uint64
	Quorum        uint32
	// Up is HealthyWeight >= Quorum. A virtual server that is not Up is
	// reported down (and may one day lower the node's VRRP priority).
	Up bool
	// Sorry is true when the sorry server is in the table.
	Sorry bool
	// Healthy is the number of real servers in service (counted as
	// HealthyWeight is). Panic is true while Healthy is under the
	// virtual server's panic_threshold: every real server is in the
	// table at its configured weight.
	Healthy        int
	PanicThreshold uint8
	Panic          bool
	// RealServers is each configured real server's state, in file order.
	RealServers []RealServerHealth
}

// RealServerHealth is one real server's state in the desired table.
type RealServerHealth struct {
	Name  string
	Addr  netip.AddrPort
	Check healthcheck.ID // "" without a check
	// State is "up", "down", "unknown" (no verdict yet) or "unchecked".
	State string
	// Weight is its weight in the desired table, -1 when absent.
	Weight int
	// Override is the operator's override, "" when none.
	Override Mode
}

// desiredTable is the IPVS table the cluster file asks for, given the
// checks' verdicts and the table before: a pure function (see
// desiredService for the rules). The map gives each service's health.
func desiredTable(c *conf.Cluster, h healthView) (ipvs.Table, map[ipvs.ServiceKey]ServiceHealth) {
	t := make(ipvs.Table, len(c.VirtualServers))
	st := make(map[ipvs.ServiceKey]ServiceHealth, len(c.VirtualServers))
	for i := range c.VirtualServers {
		s, sh := desiredService(&c.VirtualServers[i], h)
		t[s.Key] = s
		st[s.Key] = sh
	}
	return t, st
}

// desiredService is one virtual server's part of the desired table. The
// rules, per real server:
//
//   - without a check: in, with its configured weight;
//   - check Up: in, with its configured weight;
//   - check Down: out, or, when the virtual server has on_failure = "drain",
//     in with weight 0 (established connections finish, new ones go
//     elsewhere: keepalived's inhibit_on_failure);
//   - an operator's override (maintenance.go) applies last: drain sets
//     the weight 0 of a real server in the table, disable too until its
//     connections end and then takes it out; either way it is not
//     healthy (it takes no new traffic);
//   - check Unknown (no verdict yet: at start, or a check new since a
//     reload): it stays as h.Prev has it until the first verdict: in with
//     its configured weight if Prev has it with a weight, in with weight 0
//     if Prev has it drained, out if Prev lacks it. At start Prev is the
//     kernel's table, so a real server tandem finds there is adopted and
//     a new one enters on its first success.
//
// Then:
//
//   - panic (panic_threshold, Envoy's healthy_panic_threshold): when
//     fewer than that percentage of the real servers are in service,
//     every real server is in, at its configured weight, whatever its
//     check says (an operator's override still applies): with most
//     real servers failing, the checks more likely mislead than not,
//     and spreading the load over all of them beats piling it on the
//     few left. A virtual server with a sorry server and no real server
//     in service uses the sorry server instead;
//   - the sorry server is in, with weight 1, when no real server is in
//     service with a weight (the healthy weight is 0), and out otherwise;
//   - a destination of Prev that the file no longer lists (as a real server
//     or as the sorry server) stays with weight 0 when Prev has it with
//     weight 0, or when the virtual server drains (on_failure = "drain"):
//     a real server removed from the file (by a reload, or while tandem
//     was stopped) is drained as a failed one is, and deleted only once
//     its connections end (the caller polls them and drops it from Prev).
//     A UDP service deletes it at once instead: its entries would keep the
//     flows blackholed for minutes (the director sets expire_nodest_conn
//     so they move on). A sorry server no longer in use goes at once.
func desiredService(vs *conf.VirtualServer, h healthView) (ipvs.Service, ServiceHealth) {
	s := service(vs)
	ps, hasPrev := h.Prev[s.Key]
	prev := lookup(ps.Destinations)
	sh := ServiceHealth{Name: vs.Name, Key: s.Key, Quorum: vs.Quorum, RealServers: make([]RealServerHealth, 0, len(vs.RealServers))}
	configured := lookup(s.Destinations) // the real servers; the sorry server is added below
	dests := make([]ipvs.Destination, 0, len(s.Destinations)+1)
	for i := range vs.RealServers {
		rs := &vs.RealServers[i]
		d := s.Destinations[i]
		ap := d.AddrPort()
		rh := RealServerHealth{Name: rs.Name, Addr: ap, State: "unchecked"}
		in, healthy := true, true
		if id, ok := h.checkID(rs); ok {
			rh.Check = id
			up, known := h.Up[rh.Check]
			switch {
			case known && up:
				rh.State = "up"
			case known:
				rh.State = "down"
				healthy = false
				if vs.OnFailure == conf.Drain {
					d.Weight = 0
				} else {
					in = false
				}
			default:
				rh.State = "unknown"
				p, ok := prev(ap)
				switch {
				case !ok && s.Ordered() && vs.OnFailure == conf.Drain:
					// mh and sh: in the list from the start, in its
					// canonical place and with its weight in the table,
					// drained until its first verdict.
					d.Weight, healthy = 0, false
				case !ok:
					in, healthy = false, false
				case p.Weight == 0:
					d.Weight, healthy = 0, false
				}
			}
		}
		if o, ok := h.Overrides[rsKey{s.Key, ap}]; ok {
			rh.Override, healthy = o.Mode, false
			switch {
			case o.Mode == ModeDisable && o.Out:
				in = false
			case in:
				d.Weight = 0
			}
		}
		rh.Weight = -1
		if in {
			rh.Weight = d.Weight
			dests = append(dests, d)
		}
		if healthy {
			sh.HealthyWeight += uint64(rs.Weight)
			sh.Healthy++
		}
		sh.RealServers = append(sh.RealServers, rh)
	}
	sh.Up = sh.HealthyWeight >= uint64(vs.Quorum)
	sh.PanicThreshold = vs.PanicThreshold
	if n := len(vs.RealServers); vs.PanicThreshold > 0 && sh.Healthy*100 < int(vs.PanicThreshold)*n &&
		(vs.SorryServer == nil || sh.HealthyWeight > 0) {
		sh.Panic = true
		dests = dests[:0]
		for i, d := range service(vs).Destinations {
			rh := &sh.RealServers[i]
			if o, ok := h.Overrides[rsKey{s.Key, rh.Addr}]; ok {
				if o.Mode == ModeDisable && o.Out {
					rh.Weight = -1
					continue
				}
				d.Weight = 0
			}
			rh.Weight = d.Weight
			dests = append(dests, d)
		}
	}
	if ss := vs.SorryServer; ss != nil && sh.HealthyWeight == 0 && !sh.Panic {
		ap := netip.AddrPortFrom(ss.Address.Addr().Unmap(), ss.Address.Port())
		sh.Sorry = true
		if i := destIndex(dests, ap); i >= 0 {
			dests[i].Weight = max(dests[i].Weight, 1)
		} else {
			dests = append(dests, ipvs.Destination{Addr: ap.Addr(), Port: ap.Port(), Forward: forward(ss.Forward), Weight: 1})
		}
	}
	if hasPrev && s.Key.Protocol != ipvs.UDP {
		var sorry netip.AddrPort
		if ss := vs.SorryServer; ss != nil {
			sorry = netip.AddrPortFrom(ss.Address.Addr().Unmap(), ss.Address.Port())
		}
		for _, p := range ps.Destinations {
			ap := netip.AddrPortFrom(p.Addr.Unmap(), p.Port)
			if _, ok := configured(ap); ok || ap == sorry {
				continue
			}
			if p.Weight == 0 || vs.OnFailure == conf.Drain {
				p.Addr, p.Weight = ap.Addr(), 0
				dests = append(dests, p)
			}
		}
	}
	if s.Ordered() {
		// A drained real server enters mh's table at its weight (see
		// ipvs.Destination.InitialWeight).
		for i := range dests {
			if d := &dests[i]; d.Weight == 0 {
				if c, ok := configured(d.AddrPort()); ok {
					d.InitialWeight = c.Weight
				}
			}
		}
	}
	s.Destinations = dests
	return s, sh
}

// lookup returns a function finding a destination of ds by address and
// port (see finder).
func lookup(ds []ipvs.Destination) func(netip.AddrPort) (ipvs.Destination, bool) {
	return finder(ds, ipvs.Destination.AddrPort)
}

// finder returns a function finding the element of xs whose address and
// port (key, with the address unmapped) is the one asked: a linear search
// for the few of a typical service, a map beyond (a loop over a service
// of 10 000 asking for each would be quadratic). Below that size it
// reads xs on each call: xs must not change while the function is used.
func finder[T any](xs []T, key func(T) netip.AddrPort) func(netip.AddrPort) (T, bool) {
	unmapped := func(x T) netip.AddrPort { k := key(x); return netip.AddrPortFrom(k.Addr().Unmap(), k.Port()) }
	if len(xs) > 16 {
		m := make(map[netip.AddrPort]T, len(xs))
		for _, x := range xs {
			m[unmapped(x)] = x
		}
		return func(ap netip.AddrPort) (T, bool) { x, ok := m[ap]; return x, ok }
	}
	return func(ap netip.AddrPort) (T, bool) {
		for _, x := range xs {
			if unmapped(x) == ap {
				return x, true
			}
		}
		var zero T
		return zero, false
	}
}

// leftovers returns the destinations of s that vs does not list:
// drained real servers removed from the file, waiting for their
// connections to end.
func leftovers(vs *conf.VirtualServer, s ipvs.Service) []ipvs.Destination {
	var out []ipvs.Destination
	lists := lister(vs)
	for _, d := range s.Destinations {
		if !lists(netip.AddrPortFrom(d.Addr.Unmap(), d.Port)) {
			out = append(out, d)
		}
	}
	return out
}

// lister returns a function reporting whether vs lists an address and
// port, as a real server or as its sorry server (see finder).
func lister(vs *conf.VirtualServer) func(netip.AddrPort) bool {
	find := finder(vs.RealServers, func(rs conf.RealServer) netip.AddrPort { return rs.Address })
	return func(ap netip.AddrPort) bool {
		if ss := vs.SorryServer; ss != nil && ss.Address == ap {
			return true
		}
		_, ok := find(ap)
		return ok
	}
}

func destIndex(ds []ipvs.Destination, ap netip.AddrPort) int {
	for i, d := range ds {
		if d.Addr.Unmap() == ap.Addr() && d.Port == ap.Port() {
			return i
		}
	}
	return -1
}

// checkSpec is the health check of rs as package healthcheck runs it, and
// false when rs has no check. The target is the real server's own address
// and port (also for DR and TUN, where the VIP would be the director
// itself), with the check's port and connect_address overrides; a fwmark
// service's real servers have no port, and conf then requires the check's.
func checkSpec(rs *conf.RealServer) (healthcheck.Spec, bool) {
	ch := rs.Check
	if ch == nil {
		return healthcheck.Spec{}, false
	}
	addr, port := rs.Address.Addr(), rs.Address.Port()
	if ch.ConnectAddress.IsValid() {
		addr = ch.ConnectAddress
	}
	if ch.Port != 0 {
		port = ch.Port
	}
	spec := healthcheck.Spec{
		Kind:     healthcheck.Kind(ch.Type),
		Target:   netip.AddrPortFrom(addr, port),
		Source:   ch.SourceAddress,
		Interval: ch.Interval,
		Timeout:  ch.Timeout,
		Rise:     ch.Rise,
		Fall:     ch.Fall,
		HalfOpen: ch.HalfOpen,
		Reuse:    ch.ReuseConnection,
		Path:     ch.Path,
		Host:     ch.Host,
		Digest:   healthcheck.Digest{Algorithm: ch.Digest.Algorithm, Sum: ch.Digest.Sum},
		Regex:    ch.Regex,
		TLS: healthcheck.TLSConfig{
			ServerName:         ch.TLS.ServerName,
			CAFile:             ch.TLS.CAFile,
			InsecureSkipVerify: ch.TLS.InsecureSkipVerify,
		},
		Command: ch.Command,
	}
	spec.KeepaliveRequests = ch.KeepaliveRequests
	for _, r := range ch.Status {
		spec.Status = append(spec.Status, healthcheck.StatusRange{Min: r.Min, Max: r.Max})
	}
	return spec, true
}

// serviceKey is the key of vs's IPVS service.
func serviceKey(vs *conf.VirtualServer) ipvs.ServiceKey {
	if vs.FWMark != 0 {
		return ipvs.FWMarkService(family(vs.Family), vs.FWMark)
	}
	return ipvs.VirtualService(protocol(vs.Protocol), vs.Address)
}

func service(vs *conf.VirtualServer) ipvs.Service {
	s := ipvs.Service{Key: serviceKey(vs), Scheduler: vs.Scheduler,
		Destinations: make([]ipvs.Destination, 0, len(vs.RealServers)+1)} // +1: room for the sorry server
	if p := vs.Persistence; p != nil {
		s.Flags |= ipvs.FlagPersistent
		s.Timeout = p.Timeout
		s.Netmask = p.PrefixLen
	}
	if vs.OnePacket {
		s.Flags |= ipvs.FlagOnePacket
	}
	for _, f := range vs.SchedulerFlags {
		switch f {
		case conf.FlagSHFallback, conf.FlagMHFallback:
			s.Flags |= ipvs.FlagSched1
		case conf.FlagSHPort, conf.FlagMHPort:
			s.Flags |= ipvs.FlagSched2
		}
	}
	for _, rs := range vs.RealServers {
		s.Destinations = append(s.Destinations, ipvs.Destination{
			Addr:           rs.Address.Addr(),
			Port:           rs.Address.Port(),
			Forward:        forward(rs.Forward),
			Weight:         int(rs.Weight),
			UpperThreshold: rs.UpperThreshold,
			LowerThreshold: rs.LowerThreshold,
		})
	}
	return s
}

func family(f conf.Family) ipvs.Family {
	if f == conf.IPv6 {
		return ipvs.IPv6
	}
	return ipvs.IPv4
}

func protocol(p conf.Protocol) ipvs.Protocol {
	switch p {
	case conf.UDP:
		return ipvs.UDP
	case conf.SCTP:
		return ipvs.SCTP
	}
	return ipvs.TCP
}

func forward(f conf.Forward) ipvs.Forward {
	switch f {
	case conf.DR:
		return ipvs.Route
	case conf.TUN:
		return ipvs.Tunnel
	}
	return ipvs.Masq
}

// directorSettings are the kernel settings lvs_nat.sh makes by hand.
func directorSettings(c *conf.Cluster, n *conf.Node) ipvs.DirectorSettings {
	return ipvs.DirectorSettings{
		IPForward:        c.NeedsIPForward(),
		SendRedirectsOff: !c.Director.SendRedirects,
		Interfaces:       c.Interfaces(n),
		Masquerade:       c.Director.Masquerade,
		ExpireNodestConn: hasUDP(c),
		SloppyTCP:        c.BGP != nil,
		SloppySCTP:       c.BGP != nil && hasSCTP(c),
	}
}

// hasSCTP reports whether c has an SCTP virtual server.
func hasSCTP(c *conf.Cluster) bool {
	for i := range c.VirtualServers {
		if c.VirtualServers[i].Protocol == conf.SCTP {
			return true
		}
	}
	return false
}

// hasUDP reports whether c has a UDP virtual server, or a fwmark one,
// which may carry UDP: their drained real servers are deleted at once, so
// the director must expire the connections left without a destination.
func hasUDP(c *conf.Cluster) bool {
	for i := range c.VirtualServers {
		if vs := &c.VirtualServers[i]; vs.Protocol == conf.UDP || vs.FWMark != 0 {
			return true
		}
	}
	return false
}
