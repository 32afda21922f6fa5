package conf

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

func (p *parser) virtualServer(b *hcl.Block) {
	name, _ := p.label(b)
	bd := p.open(b, b.Body, vsSchema)
	d := &p.decoder
	vs := VirtualServer{Name: name, Scheduler: "wlc", Forward: NAT, OnFailure: Remove, Quorum: 1}
	if len(p.c.VirtualServers) == 0 {
		p.notePosOf(fmt.Sprintf("virtual_server %q", name), b.DefRange)
	}

	// keyOK: Address or FWMark (and Family) are known, so the real
	// servers can be checked against them.
	keyOK := false
	addrA, fwA, famA, protoA := bd.attr("address"), bd.attr("fwmark"), bd.attr("family"), bd.attr("protocol")
	switch {
	case addrA != nil && fwA != nil:
		p.errf(fwA.NameRange, "Both address and fwmark", "A virtual_server is either an address service or a fwmark service. Hint: remove address (the fwmark selects the packets) or remove fwmark.")
	case addrA == nil && fwA == nil && !bd.typos["address"] && !bd.typos["fwmark"]:
		p.errf(b.DefRange, "Missing required argument", "A virtual_server needs address or fwmark. Hint: add address = \"203.0.113.10:80\", or fwmark = 1 for a firewall-mark service.")
	case addrA != nil:
		if s, ok := p.strExpr("address", addrA.Expr); ok {
			if ap, ok := p.addrPort("address", item{s, addrA.Expr.Range()}, false); ok && p.usable("address", item{s, addrA.Expr.Range()}, ap.Addr(), roleService) {
				vs.Address, vs.Family, keyOK = ap, FamilyOf(ap.Addr()), true
				if p.vipsKnown && !p.staticVIPs[ap.Addr()] && !p.c.IsBGPVIP(ap.Addr()) {
					if _, ok := p.vipOwner[ap.Addr()]; !ok {
						p.errf(addrA.Expr.Range(), "VIP not covered by any vrrp instance", "address: %s is not an address of any vrrp instance, nor in director.static_vips or the bgp block's addresses, so no director would hold it. Hint: use one of the vrrp addresses (%s), or add it to a vrrp instance, to static_vips or to bgp addresses.", ap.Addr(), p.vipList())
					}
				}
			}
		}
		if famA != nil {
			p.errf(famA.NameRange, "family without fwmark", "family is only for fwmark services; an address service takes the family of its address. Hint: remove family.")
		}
	case fwA != nil:
		vs.Family = IPv4
		famOK := famA == nil || setEnum(d, &vs.Family, famA, IPv4, IPv6)
		keyOK = setInt(d, &vs.FWMark, fwA, 1, maxU32) && famOK
	}
	if fwA != nil && addrA == nil {
		if protoA != nil {
			p.errf(protoA.NameRange, "protocol on a fwmark service", "A fwmark service matches the marked packets whatever their protocol. Hint: remove protocol; mark only the packets you want in the firewall rule.")
		}
	} else {
		vs.Protocol = TCP
		setEnum(d, &vs.Protocol, protoA, TCP, UDP, SCTP)
	}

	if a := bd.attr("scheduler"); a != nil {
		if s, ok := p.strExpr("scheduler", a.Expr); ok {
			if slices.Contains(Schedulers, s) {
				vs.Scheduler = s
			} else {
				p.errf(a.Expr.Range(), "Unknown scheduler", "scheduler %q is not an IPVS scheduler. Hint: use one of %s.", s, strings.Join(Schedulers, ", "))
			}
		}
	}
	if a := bd.attr("scheduler_flags"); a != nil {
		items, _ := p.strList(a)
		seen := map[string]int{}
		for _, it := range items {
			var sched string
			switch it.s {
			case FlagSHFallback, FlagSHPort:
				sched = "sh"
			case FlagMHFallback, FlagMHPort:
				sched = "mh"
			default:
				p.errf(it.rng, "Unknown scheduler flag", "scheduler_flags: %q is not a scheduler flag. Hint: use %q or %q with scheduler sh, %q or %q with scheduler mh.", it.s, FlagSHFallback, FlagSHPort, FlagMHFallback, FlagMHPort)
				continue
			}
			if sched != vs.Scheduler {
				p.errf(it.rng, "Scheduler flag not valid for scheduler", "scheduler_flags: %q works only with scheduler %q, not %q. Hint: remove the flag or set scheduler = %q.", it.s, sched, vs.Scheduler, sched)
				continue
			}
			if unique(p, seen, it.s, it.rng, "Duplicate scheduler flag", func() string { return fmt.Sprintf("flag %q", it.s) }, "list each flag once.") {
				vs.SchedulerFlags = append(vs.SchedulerFlags, it.s)
			}
		}
	}
	if pb := p.single(bd, "persistence"); pb != nil {
		vs.Persistence = p.persistence(pb, vs.Family)
	}
	if a := bd.attr("one_packet"); setBool(d, &vs.OnePacket, a) && vs.OnePacket && (vs.Protocol == TCP || vs.Protocol == SCTP) {
		p.errf(a.Expr.Range(), "one_packet on a "+string(vs.Protocol)+" service", "one_packet schedules each UDP datagram on its own; it has no meaning for %s. Hint: remove one_packet or set protocol = \"udp\".", vs.Protocol)
	}
	setEnum(d, &vs.Forward, bd.attr("forward"), NAT, DR, TUN)
	if a := bd.attr("on_failure"); setEnum(d, &vs.OnFailure, a, Remove, Drain) && a != nil && vs.OnFailure == Remove {
		p.removeSet[name] = a.Expr.Range()
	}
	quorumA := bd.attr("quorum")
	setInt(d, &vs.Quorum, quorumA, 0, maxU32)
	if a := bd.attr("panic_threshold"); a != nil {
		if s, ok := p.strExpr("panic_threshold", a.Expr); ok {
			n, err := strconv.ParseUint(strings.TrimSuffix(s, "%"), 10, 8)
			if !strings.HasSuffix(s, "%") || err != nil || n > 100 {
				p.errf(a.Expr.Range(), "Invalid panic_threshold", "panic_threshold must be a percentage of the real servers from \"0%%\" to \"100%%\", got %q. Hint: write it as \"50%%\" (below half of the real servers healthy, route to all); \"0%%\" turns it off.", s)
			} else {
				vs.PanicThreshold = uint8(n)
			}
		}
	}
	checkOK := true
	if cb := p.single(bd, "check"); cb != nil {
		vs.Check, checkOK = p.check(cb)
		if vs.Check != nil && vs.Check.Type == CheckCommand && p.cmdAttr != nil {
			p.noteScript(fmt.Sprintf("virtual_server %q check", vs.Name), p.cmdAttr)
		}
	}
	if sb := p.single(bd, "sorry_server"); sb != nil {
		sbd := p.open(sb, sb.Body, sorrySchema)
		ss := &SorryServer{Forward: vs.Forward}
		setEnum(d, &ss.Forward, sbd.attr("forward"), NAT, DR, TUN)
		if a := p.required(sbd, "address", `add address = "192.0.2.99:80".`); a != nil {
			if s, ok := p.strExpr("address", a.Expr); ok {
				if ap, ok := p.addrPort("address", item{s, a.Expr.Range()}, true); ok && p.usable("sorry_server address", item{s, a.Expr.Range()}, ap.Addr(), roleBackend) {
					ss.Address = p.backendPort(&vs, keyOK, ap, ss.Forward, a.Expr.Range(), "sorry_server")
				}
			}
		}
		vs.SorryServer = ss
	}

	rbs := bd.blocks["real_server"]
	rsNames, rsAddrs := make(map[string]int, len(rbs)), make(map[netip.AddrPort]int, len(rbs))
	if len(rbs) > 0 {
		vs.RealServers = make([]RealServer, 0, len(rbs))
	}
	allRS := true
	var weights uint64
	for _, rb := range rbs {
		rs, ok := p.realServer(rb, &vs, keyOK, checkOK, rsNames, rsAddrs)
		allRS = allRS && ok
		weights += uint64(rs.Weight)
		vs.RealServers = append(vs.RealServers, rs)
	}
	if quorumA != nil && allRS && uint64(vs.Quorum) > weights {
		p.errf(quorumA.Expr.Range(), "Quorum can never be met", "quorum %d is more than the sum of all real-server weights (%d). Hint: lower quorum or raise the weights.", vs.Quorum, weights)
	}

	unique(p, p.vsNames, name, b.LabelRanges[0], "Duplicate virtual_server name", func() string { return fmt.Sprintf("virtual_server %q", name) }, "give each virtual_server a different name.")
	if keyOK {
		rng := b.LabelRanges[0]
		if addrA != nil {
			rng = addrA.Expr.Range()
		} else if fwA != nil {
			rng = fwA.Expr.Range()
		}
		k := vs.Key()
		unique(p, p.vsKeys, k.String(), rng, "Duplicate virtual service", func() string { return fmt.Sprintf("service %s", k) }, "IPVS has one service per protocol, address and port (or fwmark and family); merge the virtual_servers.")
	}
	if _, dup := p.vsRange[name]; !dup {
		p.vsRange[name] = b.DefRange
	}
	p.c.VirtualServers = append(p.c.VirtualServers, vs)
}

func (p *parser) vipList() string {
	var all []string
	for _, v := range p.c.VRRP {
		for _, a := range v.Addresses {
			all = append(all, a.Addr().String())
		}
	}
	if len(all) == 0 {
		return "none defined"
	}
	return strings.Join(all, ", ")
}

// backendPort applies the virtual server's port and checks family and
// port rules for a real or sorry server.
func (p *parser) backendPort(vs *VirtualServer, keyOK bool, ap netip.AddrPort, fwd Forward, rng hcl.Range, what string) netip.AddrPort {
	if !keyOK {
		return ap
	}
	fam := FamilyOf(ap.Addr())
	if fam != vs.Family && fwd != TUN {
		p.errf(rng, "Address family mismatch", "%s %s is %s but the virtual server is %s; only forward = \"tun\" can mix families. Hint: use an %s address, or forward = \"tun\".", what, ap.Addr(), fam, vs.Family, vs.Family)
	}
	vport := vs.Address.Port() // 0 for fwmark services
	switch {
	case ap.Port() == 0:
		return netip.AddrPortFrom(ap.Addr(), vport)
	case fwd != NAT && ap.Port() != vport && vs.FWMark != 0:
		p.errf(rng, "Port on a "+strings.ToUpper(string(fwd))+" real server", "%s %s: a %s real server of a fwmark service takes no port, since %s cannot rewrite ports. Hint: write the address without a port, or use forward = \"nat\".", what, ap, fwd, strings.ToUpper(string(fwd)))
	case fwd != NAT && ap.Port() != vport:
		p.errf(rng, "Port differs from the virtual service", "%s %s: IPVS cannot rewrite ports in %s mode, so the real server must listen on the virtual port %d. Hint: write the address without a port (it defaults to %d), or use forward = \"nat\".", what, ap, strings.ToUpper(string(fwd)), vport, vport)
	}
	return ap
}

func (p *parser) realServer(b *hcl.Block, vs *VirtualServer, keyOK, checkOK bool, names map[string]int, addrs map[netip.AddrPort]int) (RealServer, bool) {
	name, _ := p.label(b)
	bd := p.open(b, b.Body, rsSchema)
	d := &p.decoder
	rs := RealServer{Name: name, Weight: 1, Forward: vs.Forward, Check: vs.Check}
	setEnum(d, &rs.Forward, bd.attr("forward"), NAT, DR, TUN)
	n := len(d.diags)
	setInt(d, &rs.Weight, bd.attr("weight"), 0, 65535)
	setInt(d, &rs.UpperThreshold, bd.attr("upper_threshold"), 0, maxU32)
	if a := bd.attr("lower_threshold"); setInt(d, &rs.LowerThreshold, a, 0, maxU32) && rs.LowerThreshold > 0 {
		switch {
		case rs.UpperThreshold == 0:
			p.errf(a.Expr.Range(), "lower_threshold without upper_threshold", "lower_threshold re-enables a server that reached upper_threshold; without upper_threshold it does nothing. Hint: set upper_threshold or remove lower_threshold.")
		case rs.LowerThreshold > rs.UpperThreshold:
			p.errf(a.Expr.Range(), "lower_threshold above upper_threshold", "lower_threshold %d is more than upper_threshold %d. Hint: lower_threshold must be at most upper_threshold.", rs.LowerThreshold, rs.UpperThreshold)
		}
	}
	ok := len(d.diags) == n
	if cb := p.single(bd, "check"); cb != nil {
		rs.Check, checkOK = p.check(cb)
		if rs.Check != nil && rs.Check.Type == CheckCommand && p.cmdAttr != nil {
			p.noteScript(fmt.Sprintf("virtual_server %q real_server %q check", vs.Name, rs.Name), p.cmdAttr)
		}
	}
	var addrRange hcl.Range
	if a := p.required(bd, "address", `add address = "192.0.2.11:80" (or just the IP to use the virtual server's port).`); a != nil {
		addrRange = a.Expr.Range()
		if s, good := p.strExpr("address", a.Expr); good {
			if ap, good := p.addrPort("address", item{s, addrRange}, true); good && p.usable("real_server address", item{s, addrRange}, ap.Addr(), roleBackend) {
				rs.Address = p.backendPort(vs, keyOK, ap, rs.Forward, addrRange, "real_server")
				if keyOK {
					unique(p, addrs, rs.Address, addrRange, "Duplicate real server", func() string { return fmt.Sprintf("real server %s", rs.Address) }, "list each real server address:port once per virtual_server.")
				}
			} else {
				ok = false
			}
		} else {
			ok = false
		}
	} else {
		ok = false
	}
	if ok && keyOK && checkOK && rs.Check != nil && rs.Check.Type != CheckCommand && rs.Check.Port == 0 && rs.Address.Port() == 0 {
		p.errf(addrRange, "Check has no port", "real server %s has no port (fwmark service), so its %s check does not know where to connect. Hint: set port in the check block, or give the real server a port.", rs.Address.Addr(), rs.Check.Type)
	}
	unique(p, names, name, b.LabelRanges[0], "Duplicate real_server name", func() string { return fmt.Sprintf("real_server %q", name) }, "give each real_server of a virtual_server a different name.")
	return rs, ok
}

func (p *parser) persistence(b *hcl.Block, fam Family) *Persistence {
	bd := p.open(b, b.Body, persistenceSchema)
	ps := &Persistence{Timeout: 300 * time.Second, PrefixLen: 32}
	if fam == IPv6 {
		ps.PrefixLen = 128
	}
	setDur(&p.decoder, &ps.Timeout, bd.attr("timeout"), time.Second, maxTimeout, time.Second)
	a := bd.attr("netmask")
	if a == nil || fam == "" {
		return ps
	}
	v, ok := p.eval("netmask", a.Expr)
	if !ok {
		return ps
	}
	bits := 32
	if fam == IPv6 {
		bits = 128
	}
	bad := func(got string) {
		hint := `a prefix length 1..32, as in netmask = 24 or "/24", or a dotted mask such as "255.255.255.0"`
		if fam == IPv6 {
			hint = `a prefix length 1..128, as in netmask = 64 or "/64"`
		}
		p.errf(a.Expr.Range(), "Invalid netmask", "netmask %s is not valid for an %s service. Hint: write %s.", got, fam, hint)
	}
	switch {
	case v.Type() == cty.Number:
		bf := v.AsBigFloat()
		n, _ := bf.Int64()
		if !bf.IsInt() || n < 1 || n > int64(bits) {
			bad(bf.Text('g', 20))
			return ps
		}
		ps.PrefixLen = int(n)
	case v.Type() == cty.String:
		s := v.AsString()
		if rest, isLen := strings.CutPrefix(s, "/"); isLen {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 1 || n > bits {
				bad(strconv.Quote(s))
				return ps
			}
			ps.PrefixLen = n
			return ps
		}
		m, err := netip.ParseAddr(s)
		if err != nil || fam != IPv4 || !m.Is4() {
			bad(strconv.Quote(s))
			return ps
		}
		n, contiguous := maskLen(m)
		if !contiguous || n == 0 {
			bad(strconv.Quote(s))
			return ps
		}
		ps.PrefixLen = n
	default:
		p.wrongType("netmask", a.Expr, v, "a number or a string", `write netmask = 24, "/24" or "255.255.255.0".`)
	}
	return ps
}

// maskLen returns the prefix length of a dotted IPv4 netmask.
func maskLen(m netip.Addr) (int, bool) {
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&(1<<31) != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}

// checkAttrs lists the attributes each check type accepts.
var checkAttrs = map[CheckType][]string{
	CheckTCP:     {"interval", "timeout", "rise", "fall", "port", "connect_address", "source_address", "half_open"},
	CheckHTTP:    {"interval", "timeout", "rise", "fall", "port", "connect_address", "source_address", "reuse_connection", "keepalive_requests", "path", "host", "status", "digest", "regex"},
	CheckHTTPS:   {"interval", "timeout", "rise", "fall", "port", "connect_address", "source_address", "reuse_connection", "keepalive_requests", "path", "host", "status", "digest", "regex", "tls"},
	CheckCommand: {"interval", "timeout", "rise", "fall", "command"},
}

func (p *parser) check(b *hcl.Block) (*Check, bool) {
	typ := CheckType(b.Labels[0])
	allowed, ok := checkAttrs[typ]
	if !ok {
		p.errf(b.LabelRanges[0], "Unknown check type", "check type %q is not known. Hint: use check \"tcp\", \"http\", \"https\" or \"command\".", typ)
		return nil, false
	}
	bd := p.open(b, b.Body, checkSchema)
	d := &p.decoder
	n := len(d.diags)
	// Reported in the file's order, the same each time past maxErrors.
	slices.SortFunc(bd.attrs, func(a, b hcl.Attribute) int { return a.NameRange.Start.Byte - b.NameRange.Start.Byte })
	bd.attrs = slices.DeleteFunc(bd.attrs, func(a hcl.Attribute) bool {
		if slices.Contains(allowed, a.Name) {
			return false
		}
		p.errf(a.NameRange, "Attribute not valid for a "+string(typ)+" check", "%s is not valid in a %s check. Hint: a %s check takes %s.", a.Name, typ, typ, strings.Join(allowed, ", "))
		return true
	})
	for _, tb := range bd.blocks["tls"] {
		if typ != CheckHTTPS {
			p.errf(tb.TypeRange, "Block not valid for a "+string(typ)+" check", "tls is valid only in an https check. Hint: remove the tls block or use check \"https\".")
		}
	}
	c := &Check{Type: typ, Interval: 2 * time.Second, Rise: 2, Fall: 2}
	p.timing(bd, &c.Interval, &c.Timeout)
	setInt(d, &c.Rise, bd.attr("rise"), 1, 100)
	setInt(d, &c.Fall, bd.attr("fall"), 1, 100)
	setInt(d, &c.Port, bd.attr("port"), 1, 65535)
	if a := bd.attr("connect_address"); a != nil {
		c.ConnectAddress, _ = p.addrAttr(a)
	}
	if a := bd.attr("source_address"); a != nil {
		if ip, ok := p.addrAttr(a); ok {
			c.SourceAddress = ip
			if c.ConnectAddress.IsValid() && FamilyOf(ip) != FamilyOf(c.ConnectAddress) {
				p.errf(a.Expr.Range(), "Address family mismatch", "source_address %s and connect_address %s are of different families. Hint: use addresses of one family.", ip, c.ConnectAddress)
			}
		}
	}
	setBool(d, &c.HalfOpen, bd.attr("half_open"))
	setBool(d, &c.ReuseConnection, bd.attr("reuse_connection"))
	if a := bd.attr("keepalive_requests"); a != nil {
		if !c.ReuseConnection {
			p.errf(a.NameRange, "keepalive_requests without reuse_connection", "keepalive_requests counts the probes on a kept connection, and this check opens a new connection per probe. Hint: add reuse_connection = true, or remove keepalive_requests.")
		}
		setInt(d, &c.KeepaliveRequests, a, 1, 1000000)
	} else if c.ReuseConnection {
		c.KeepaliveRequests = 10
	}
	if typ == CheckHTTP || typ == CheckHTTPS {
		c.Path = "/"
		if a := bd.attr("path"); setStr(d, &c.Path, a) && !strings.HasPrefix(c.Path, "/") {
			p.errf(a.Expr.Range(), "Invalid path", "path %q must start with '/'. Hint: write path = \"/%s\".", c.Path, c.Path)
		}
		setStr(d, &c.Host, bd.attr("host"))
		c.Status = []StatusRange{{200, 299}}
		if a := bd.attr("status"); a != nil {
			c.Status = p.status(a)
		}
		if a := bd.attr("digest"); a != nil {
			if s, ok := p.strExpr("digest", a.Expr); ok {
				c.Digest = p.digest(s, a.Expr.Range())
			}
		}
		if a := bd.attr("regex"); setStr(d, &c.Regex, a) {
			if _, err := regexp.Compile(c.Regex); err != nil {
				p.errf(a.Expr.Range(), "Invalid regex", "regex does not compile: %v. Hint: use Go (RE2) syntax; in HCL strings, backslashes are doubled.", err)
			}
		}
	}
	if typ == CheckHTTPS {
		if tb := p.single(bd, "tls"); tb != nil {
			tbd := p.open(tb, tb.Body, tlsSchema)
			setStr(d, &c.TLS.ServerName, tbd.attr("server_name"))
			setStr(d, &c.TLS.CAFile, tbd.attr("ca_file"))
			if a := tbd.attr("insecure_skip_verify"); setBool(d, &c.TLS.InsecureSkipVerify, a) && c.TLS.InsecureSkipVerify && c.TLS.CAFile != "" {
				p.errf(a.Expr.Range(), "ca_file with insecure_skip_verify", "insecure_skip_verify turns certificate checks off, so ca_file would be ignored. Hint: remove one of them.")
			}
		}
	}
	p.cmdAttr = nil
	if typ == CheckCommand {
		if a := p.required(bd, "command", `add command = ["/usr/local/bin/check", "arg"].`); a != nil {
			c.Command, _ = p.argv(a, true)
			p.cmdAttr = a
		}
	}
	return c, len(d.diags) == n
}

func (p *parser) status(a *hcl.Attribute) []StatusRange {
	items, _ := p.strList(a)
	if len(items) == 0 {
		p.errf(a.Expr.Range(), "No status codes", "status must list at least one code or range. Hint: write status = [\"200-299\"], or remove it for that default.")
		return nil
	}
	var out []StatusRange
	for _, it := range items {
		lo, hi, isRange := strings.Cut(it.s, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := strconv.Atoi(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
			p.errf(it.rng, "Invalid status", "status: %q is not an HTTP status code or range. Hint: write codes 100..599 as \"200\" or \"300-399\", low to high.", it.s)
			continue
		}
		out = append(out, StatusRange{a, b})
	}
	return out
}

func (p *parser) digest(s string, rng hcl.Range) Digest {
	algo, sum, _ := strings.Cut(s, ":")
	size := map[string]int{"md5": 16, "sha256": 32}[algo]
	b, err := hex.DecodeString(sum)
	if size == 0 || err != nil || len(b) != size {
		p.errf(rng, "Invalid digest", "digest %q is not md5:<32 hex digits> or sha256:<64 hex digits>. Hint: write, for example, \"sha256:\" followed by the output of sha256sum.", s)
		return Digest{}
	}
	return Digest{Algorithm: algo, Sum: b}
}
