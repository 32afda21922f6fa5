package main

import (
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// desiredTable is the IPVS table the cluster file asks for. It is a pure
// function of the config (and, with the health-check issue, of the
// checkers' verdicts).
func desiredTable(c *conf.Cluster) ipvs.Table {
	t := make(ipvs.Table, len(c.VirtualServers))
	for i := range c.VirtualServers {
		s := service(&c.VirtualServers[i])
		t[s.Key] = s
	}
	return t
}

func service(vs *conf.VirtualServer) ipvs.Service {
	var key ipvs.ServiceKey
	if vs.FWMark != 0 {
		key = ipvs.FWMarkService(family(vs.Family), vs.FWMark)
	} else {
		key = ipvs.VirtualService(protocol(vs.Protocol), vs.Address)
	}
	s := ipvs.Service{Key: key, Scheduler: vs.Scheduler}
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
	}
}
