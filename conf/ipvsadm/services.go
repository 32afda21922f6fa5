package ipvsadm

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tandem-lb/tandem/conf/importer"
)

// schedulers are the IPVS schedulers tandem takes (conf/README.md).
var schedulers = map[string]bool{
	"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true, "dh": true,
	"sh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "mh": true, "twos": true,
}

// ports are the service names ipvsadm -S prints without -n that are
// translated (with a finding); any other name is not.
var ports = map[string]uint16{
	"ftp": 21, "ssh": 22, "smtp": 25, "domain": 53, "http": 80, "www": 80, "pop3": 110,
	"ntp": 123, "imap": 143, "imap2": 143, "snmp": 161, "ldap": 389, "https": 443,
	"submission": 587, "ldaps": 636, "imaps": 993, "pop3s": 995, "mysql": 3306,
	"postgresql": 5432, "sip": 5060, "http-alt": 8080, "webcache": 8080,
}

// ipvsadm translates one ipvsadm invocation (args without the program).
func (im *imp) ipvsadm(no int, args []string, t, above string, adjacent bool) {
	if t == "" {
		t = strings.Join(args, " ")
	}
	inv, err := parseArgs(args)
	if err != nil {
		im.note(atTop, no, "ipvsadm", importer.Invalid, err.Error()+" (ipvsadm refuses it): not translated: "+quoteLine(t))
		return
	}
	kw := "ipvsadm " + display(inv.cmd)
	if im.depth > 0 && inv.cmd != "C" {
		im.note(atTop, no, kw, importer.Changed, fmt.Sprintf("inside the shell block of line %d: translated as if it always runs", im.blockLine))
	}
	switch inv.cmd {
	case "C":
		im.note(atTop, no, kw, importer.NotTranslated, "tandem never flushes: it owns only the services of the cluster file, leaves any other alone and reports it")
	case "A", "E":
		im.addService(no, inv, kw, above, adjacent)
	case "a", "e":
		im.addDest(no, inv, kw)
	case "D", "d":
		im.note(atTop, no, kw, importer.NotTranslated, "the cluster file is the whole table: leave the service or real server out of it instead: "+quoteLine(t))
	case "set":
		im.setTimeouts(no, inv, kw)
	case "start-daemon", "stop-daemon":
		im.note(atDirector, no, kw, importer.NotTranslated, "connection sync follows VRRP in tandem: add a director.conn_sync block with the vrrp instance of the pair: "+quoteLine(t))
	default:
		im.note(atTop, no, kw, importer.NotTranslated, "not a configuration command: "+quoteLine(t))
	}
}

// serviceKey reads -t/-u/--sctp-service/-f; ok false when it reported.
func (im *imp) serviceKey(no int, inv *invocation, kw string) (s service, ok bool) {
	n := 0
	for _, o := range []string{"t", "u", "sctp", "f"} {
		if inv.has(o) {
			n++
		}
	}
	if n != 1 {
		im.note(atTop, no, kw, importer.Invalid, "needs exactly one of -t, -u, --sctp-service, -f (ipvsadm refuses it): not translated")
		return s, false
	}
	s.netmask = -1
	if inv.has("f") {
		v := inv.val("f")
		m, err := strconv.ParseUint(v, 10, 32)
		if err != nil || m == 0 {
			im.note(atTop, no, kw, importer.Invalid, "fwmark "+strconv.Quote(clip(v))+" is not a number 1..4294967295: not translated")
			return s, false
		}
		s.fwmark, s.v6 = uint32(m), inv.has("6")
		fam := "v4"
		if s.v6 {
			fam = "v6"
		}
		s.key = "fwmark|" + fam + "|" + strconv.FormatUint(m, 10)
		return s, true
	}
	for _, p := range []struct{ o, proto string }{{"t", "tcp"}, {"u", "udp"}, {"sctp", "sctp"}} {
		if inv.has(p.o) {
			s.proto = p.proto
			a, port, why, sev := im.hostPort(no, inv.val(p.o), kw)
			if why != "" {
				im.note(atTop, no, kw, sev, why)
				return s, false
			}
			if port == 0 {
				im.note(atTop, no, kw, importer.NotTranslated, "service on port 0 (every port, with -p): tandem needs a port 1..65535; use a fwmark service")
				return s, false
			}
			if why := badServiceAddr(a); why != "" {
				im.note(atTop, no, kw, importer.Invalid, "virtual address "+a.String()+" "+why+": not translated")
				return s, false
			}
			s.addr = netip.AddrPortFrom(a, port)
			s.v6 = a.Is6()
			s.key = s.proto + "|" + s.addr.String()
		}
	}
	return s, true
}

// hostPort reads ADDR[:PORT] or [V6ADDR][:PORT]; port 0 when absent.
func (im *imp) hostPort(no int, s, kw string) (netip.Addr, uint16, string, importer.Severity) {
	a, p, why := im.hostPort1(no, s, kw)
	sev := importer.NotTranslated
	if strings.Contains(why, "ipvsadm refuses") || strings.Contains(why, "closing ]") || strings.Contains(why, "is not [ADDR]") {
		sev = importer.Invalid
	}
	return a, p, why, sev
}

func (im *imp) hostPort1(no int, s, kw string) (netip.Addr, uint16, string) {
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return netip.Addr{}, 0, "address " + strconv.Quote(clip(s)) + " has no closing ]: not translated"
		}
		host, port = s[1:i], strings.TrimPrefix(s[i+1:], ":")
		if s[i+1:] != "" && !strings.HasPrefix(s[i+1:], ":") {
			return netip.Addr{}, 0, "address " + strconv.Quote(clip(s)) + " is not [ADDR]:PORT: not translated"
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		if host != "" && !strings.ContainsAny(host, ":%") && strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-") == "" && strings.Trim(host, "0123456789.") != "" {
			return a, 0, "host name " + strconv.Quote(clip(host)) + ": tandem resolves no names; save the table with ipvsadm -Sn (numeric) and import that"
		}
		return a, 0, "address " + strconv.Quote(clip(host)) + " is not an IP address (ipvsadm refuses it): not translated"
	}
	a = a.Unmap()
	if port == "" {
		return a, 0, ""
	}
	if p, err := strconv.ParseUint(port, 10, 16); err == nil {
		return a, uint16(p), ""
	}
	if isDigits(port) {
		return a, 0, "port " + strconv.Quote(clip(port)) + " is not 0..65535 (ipvsadm refuses it): not translated"
	}
	if p, ok := ports[strings.ToLower(port)]; ok {
		im.note(atTop, no, kw, importer.Changed, fmt.Sprintf("service name %q read as port %d (the usual /etc/services entry); prefer ipvsadm -Sn", port, p))
		return a, p, ""
	}
	return a, 0, "port " + strconv.Quote(clip(port)) + " is not a number: tandem resolves no service names; save the table with ipvsadm -Sn and import that"
}

func (im *imp) addService(no int, inv *invocation, kw, above string, adjacent bool) {
	for _, o := range inv.order {
		switch o {
		case "A", "E", "t", "u", "sctp", "f", "s", "p", "M", "b", "o", "6", "n":
		case "pe":
			im.note(atTop, no, kw, importer.NotTranslated, "--pe "+clip(inv.val("pe"))+": tandem has no persistence engines")
		default:
			im.note(atTop, no, kw, importer.Invalid, display(o)+" does not belong to "+display(inv.cmd)+" (ipvsadm refuses it): not translated")
			return
		}
	}
	k, ok := im.serviceKey(no, inv, kw)
	if !ok {
		return
	}
	s := im.services[k.key]
	switch {
	case s != nil && inv.cmd == "A":
		im.note(atTop, no, kw, importer.Invalid, "the service already exists (ipvsadm refuses it: File exists): not translated")
		return
	case s == nil && inv.cmd == "E":
		im.note(atTop, no, kw, importer.Invalid, "no such service (ipvsadm refuses it): not translated")
		return
	case s == nil:
		if len(im.order) >= 100000 {
			im.note(atTop, no, kw, importer.NotTranslated, "more than 100000 services: not translated")
			return
		}
		s = &k
		s.line = no
		s.sched = "wlc"
		s.name = im.serviceName(s, above, adjacent)
		s.pre, im.top = im.top, nil
		im.services[s.key] = s
		im.order = append(im.order, s)
	}
	if inv.has("s") {
		sc := inv.val("s")
		if schedulers[sc] {
			s.sched = sc
		} else {
			s.comments = append(s.comments, comment{no, im.report(no, kw, importer.NotTranslated, "scheduler "+strconv.Quote(clip(sc))+" is not one tandem knows: "+s.sched+" kept")})
		}
	}
	if inv.has("p") {
		s.persist = true
		if v := inv.val("p"); v != "" {
			t, err := strconv.Atoi(v)
			if err != nil || t < 1 || t > 2147483 {
				s.comments = append(s.comments, comment{no, im.report(no, kw, importer.Invalid, "persistence timeout "+strconv.Quote(clip(v))+" is not 1..2147483 seconds: 300s kept")})
			} else {
				s.timeout = t
			}
		}
	}
	if inv.has("M") {
		v := inv.val("M")
		bits := -1
		if a, err := netip.ParseAddr(v); err == nil && a.Is4() && !s.v6 {
			bits = maskBits(a)
		} else if n, err := strconv.Atoi(strings.TrimPrefix(v, "/")); err == nil {
			bits = n
		}
		max := 32
		if s.v6 {
			max = 128
		}
		switch {
		case bits < 1 || bits > max:
			s.comments = append(s.comments, comment{no, im.report(no, kw, importer.Invalid, "netmask "+strconv.Quote(clip(v))+" is not a mask the service's family takes: not translated")})
		case !s.persist:
			s.comments = append(s.comments, comment{no, im.report(no, kw, importer.NotTranslated, "netmask without -p: it only groups persistent clients")})
		default:
			s.netmask = bits
		}
	}
	if inv.has("o") {
		s.ops = true
	}
	if inv.has("b") {
		s.flags = nil
		for _, f := range strings.Split(inv.val("b"), ",") {
			if f = strings.TrimSpace(f); f != "" && len(s.flags) < 8 {
				s.flags = append(s.flags, f)
			}
		}
	}
	im.fixService(s, no, kw)
}

// fixService brings flags and one_packet to what tandem takes for the
// service's scheduler and protocol, reporting what it drops.
func (im *imp) fixService(s *service, no int, kw string) {
	var keep []string
	seen := map[string]bool{}
	for _, f := range s.flags {
		var bit string
		switch f {
		case "flag-1", "sh-fallback", "mh-fallback":
			bit = "fallback"
		case "flag-2", "sh-port", "mh-port":
			bit = "port"
		}
		name := s.sched + "-" + bit
		switch {
		case bit == "":
			s.comments = append(s.comments, comment{no, im.report(no, kw, importer.NotTranslated, "scheduler flag "+strconv.Quote(clip(f))+" is not one tandem takes")})
		case s.sched != "sh" && s.sched != "mh":
			s.comments = append(s.comments, comment{no, im.report(no, kw, importer.NotTranslated, "scheduler flag "+strconv.Quote(clip(f))+" means nothing to "+s.sched+" (only sh and mh have flags)")})
		case seen[name]:
		default:
			if f != name {
				im.report(no, kw, importer.Changed, fmt.Sprintf("scheduler flag %q is %q for %s (the same kernel flag)", f, name, s.sched))
			}
			seen[name] = true
			keep = append(keep, name)
		}
	}
	s.flags = keep
	if s.ops && s.proto != "udp" {
		what := s.proto
		if what == "" {
			what = "fwmark"
		}
		s.comments = append(s.comments, comment{no, im.report(no, kw, importer.NotTranslated, "-o (one-packet scheduling) on a "+what+" service: tandem takes it on udp services only")})
		s.ops = false
	}
}

func (im *imp) serviceName(s *service, above string, adjacent bool) string {
	if im.names == nil {
		im.names = map[string]bool{}
	}
	if adjacent && validName(above) && !im.names[above] {
		im.names[above] = true
		return above
	}
	var n string
	if s.proto == "" {
		n = fmt.Sprintf("vs_fwmark_%d", s.fwmark)
		if s.v6 {
			n += "_v6"
		}
	} else {
		n = "vs_" + s.proto + "_" + nameSafe(s.addr.Addr().String()) + "_" + strconv.Itoa(int(s.addr.Port()))
	}
	base := n
	for i := 2; im.names[n]; i++ {
		n = base + "_" + strconv.Itoa(i)
	}
	im.names[n] = true
	return n
}

func nameSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

func (im *imp) addDest(no int, inv *invocation, kw string) {
	for _, o := range inv.order {
		switch o {
		case "a", "e", "t", "u", "sctp", "f", "6", "r", "g", "i", "m", "w", "x", "y", "n":
		case "tun-type", "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum":
			im.note(atTop, no, kw, importer.NotTranslated, display(o)+": tandem's tun real servers use plain IPIP")
		default:
			im.note(atTop, no, kw, importer.Invalid, display(o)+" does not belong to "+display(inv.cmd)+" (ipvsadm refuses it): not translated")
			return
		}
	}
	k, ok := im.serviceKey(no, inv, kw)
	if !ok {
		return
	}
	s := im.services[k.key]
	if s == nil {
		im.note(atTop, no, kw, importer.Invalid, "no such service (not added before, or not translated): not translated")
		return
	}
	cmt := func(sev importer.Severity, msg string) {
		s.comments = append(s.comments, comment{no, im.report(no, kw, sev, msg)})
	}
	if !inv.has("r") {
		cmt(importer.Invalid, "no -r real server (ipvsadm refuses it): not translated")
		return
	}
	a, port, why, sev := im.hostPort(no, inv.val("r"), kw)
	if why != "" {
		cmt(sev, why)
		return
	}
	if why := badServiceAddr(a); why != "" {
		cmt(importer.Invalid, "real server "+a.String()+" "+why+": not translated")
		return
	}
	d := &dest{line: no, addr: a, fwd: "dr", weight: 1}
	for _, o := range inv.order { // the last forwarding flag wins, as in ipvsadm
		switch o {
		case "g":
			d.fwd = "dr"
		case "i":
			d.fwd = "tun"
		case "m":
			d.fwd = "nat"
		}
	}
	if a.Is6() != s.v6 && d.fwd != "tun" {
		cmt(importer.Invalid, "real server "+a.String()+" is not of the service's address family (only tun mixes them): not translated")
		return
	}
	switch {
	case s.proto == "" && port != 0 && d.fwd != "nat":
		cmt(importer.Changed, fmt.Sprintf("port %d dropped: a %s real server of a fwmark service keeps each packet's port", port, d.fwd))
		port = 0
	case s.proto != "" && port == 0:
		port = s.addr.Port()
	case s.proto != "" && d.fwd != "nat" && port != s.addr.Port():
		cmt(importer.Changed, fmt.Sprintf("port %d is the virtual port %d: %s cannot change ports (the kernel ignores it)", port, s.addr.Port(), d.fwd))
		port = s.addr.Port()
	}
	d.port = port
	if inv.has("w") {
		w, err := strconv.Atoi(inv.val("w"))
		if err != nil || w < 0 || w > 65535 {
			cmt(importer.Invalid, "weight "+strconv.Quote(clip(inv.val("w")))+" is not 0..65535 (ipvsadm refuses it): not translated")
			return
		}
		d.weight = w
	}
	for _, th := range []struct {
		o string
		p *uint32
	}{{"x", &d.ux}, {"y", &d.ly}} {
		if inv.has(th.o) {
			v, err := strconv.ParseUint(inv.val(th.o), 10, 32)
			if err != nil {
				cmt(importer.Invalid, "threshold "+strconv.Quote(clip(inv.val(th.o)))+" is not a number 0..4294967295: not translated")
				return
			}
			*th.p = uint32(v)
		}
	}
	if d.ly > 0 && (d.ux == 0 || d.ly > d.ux) {
		cmt(importer.NotTranslated, fmt.Sprintf("lower threshold %d without an upper threshold at least as high: dropped", d.ly))
		d.ly = 0
	}
	var old *dest
	for _, e := range s.dests {
		if e.addr == d.addr && e.port == d.port {
			old = e
		}
	}
	switch {
	case old != nil && inv.cmd == "a":
		cmt(importer.Invalid, "the real server already exists (ipvsadm refuses it: File exists): not translated")
		return
	case old == nil && inv.cmd == "e":
		cmt(importer.Invalid, "no such real server (ipvsadm refuses it): not translated")
		return
	case old != nil: // -e: the options given replace the old ones
		if !inv.has("w") {
			d.weight = old.weight
		}
		d.name = old.name
		*old = *d
		return
	}
	if len(s.dests) >= 100000 {
		cmt(importer.NotTranslated, "more than 100000 real servers: not translated")
		return
	}
	d.name = "rs_" + nameSafe(a.String())
	if port != 0 {
		d.name += "_" + strconv.Itoa(int(port))
	}
	s.dests = append(s.dests, d)
}

func (im *imp) setTimeouts(no int, inv *invocation, kw string) {
	vals := inv.opts["set"]
	for i, v := range vals {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 2147483 {
			im.note(atDirector, no, kw, importer.Invalid, "timeout "+strconv.Quote(clip(v))+" is not 0..2147483 seconds: not translated")
			return
		}
		im.timeouts[i] = n
	}
	im.haveTO = true
}
