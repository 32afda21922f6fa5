package keepalived

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/tandem-lb/tandem/conf/importer"
)

const maxRange = 256 // addresses one range of a virtual_server_group expands to

func (t *tr) vsGroup(s *stmt) {
	if len(s.args) == 0 {
		t.invalid(s, "virtual_server_group without a name: ignored")
		return
	}
	if t.vsGroups == nil {
		t.vsGroups = map[string][]vsAddr{}
	}
	var out []vsAddr
	for _, e := range s.block {
		if e.kw == "fwmark" {
			if n, ok := t.intArg(e, 1, 4294967295); ok {
				out = append(out, vsAddr{fwmark: n})
			}
			continue
		}
		if len(e.args) < 1 {
			t.invalid(e, "an entry needs an address and a port: ignored")
			continue
		}
		port, err := strconv.Atoi(e.args[0])
		if err != nil || port < 1 || port > 65535 {
			t.invalid(e, fmt.Sprintf("%q is not a port: ignored", clip(e.args[0])))
			continue
		}
		if len(e.args) > 1 {
			t.invalid(e, "extra words ignored")
		}
		addrs, ok := t.expandRange(e)
		if !ok {
			continue
		}
		for _, a := range addrs {
			out = append(out, vsAddr{addr: a, port: port})
		}
	}
	t.vsGroups[s.args[0]] = out
}

// expandRange reads ADDR or ADDR-LAST (the last byte, or the last group
// of an IPv6 address, runs to LAST).
func (t *tr) expandRange(e *stmt) ([]netip.Addr, bool) {
	a, last, isRange := strings.Cut(e.kw, "-")
	ip, err := netip.ParseAddr(a)
	if err != nil || ip.Zone() != "" {
		t.invalid(e, fmt.Sprintf("%q is not an address: ignored", clip(e.kw)))
		return nil, false
	}
	ip = ip.Unmap()
	if !isRange {
		return []netip.Addr{ip}, true
	}
	base := 10
	if ip.Is6() {
		base = 16
	}
	end, err := strconv.ParseUint(last, base, 16)
	b := ip.AsSlice()
	var start uint64
	if ip.Is4() {
		start = uint64(b[3])
	} else {
		start = uint64(b[14])<<8 | uint64(b[15])
	}
	if err != nil || end < start || (ip.Is4() && end > 255) || end-start >= maxRange {
		t.invalid(e, fmt.Sprintf("%q is not a range of at most %d addresses: ignored", clip(e.kw), maxRange))
		return nil, false
	}
	var out []netip.Addr
	for i := start; i <= end; i++ {
		if ip.Is4() {
			b[3] = byte(i)
		} else {
			b[14], b[15] = byte(i>>8), byte(i)
		}
		x, _ := netip.AddrFromSlice(b)
		out = append(out, x)
	}
	t.changed(nil, e, fmt.Sprintf("range expanded into %d virtual servers", len(out)))
	return out, true
}

var vsKnown = map[string]string{
	"delay_loop": "", "lb_algo": "", "lvs_sched": "", "lb_kind": "", "lvs_method": "", "persistence_timeout": "",
	"persistence_granularity": "", "protocol": "", "sorry_server": "", "sorry_server_lvs_method": "", "quorum": "",
	"inhibit_on_failure": "", "ops": "", "real_server": "", "hashed": "", "sh-port": "", "sh-fallback": "",
	"mh-port": "", "mh-fallback": "", "flag-1": "", "flag-2": "", "flag-3": "", "retry": "", "delay_before_retry": "",
	"connect_timeout": "", "virtualhost": "",
}

var vsNot = map[string]string{
	"quorum_up":            "tandem has no quorum hooks; track_virtual_servers in a vrrp reacts to a lost quorum",
	"quorum_down":          "tandem has no quorum hooks; track_virtual_servers in a vrrp reacts to a lost quorum",
	"hysteresis":           "tandem's quorum has no hysteresis",
	"alpha":                "tandem's own start state applies: a real server counts as down until its check passes rise times",
	"omega":                "tandem leaves the table in place on exit",
	"ha_suspend":           "tandem programs IPVS on both directors whatever their VRRP state",
	"smtp_alert":           "tandem sends no e-mail",
	"persistence_engine":   "not supported",
	"sorry_server_inhibit": "the sorry server is added only while the quorum is lost",
	"virtualhost":          "",
	"warmup":               "tandem jitters the first probes by itself",
	"laddr_group_name":     "DPVS (FNAT) is not supported",
	"daddr_group_name":     "DPVS is not supported",
	"syn_proxy":            "DPVS is not supported",
	"vip_bind_dev":         "DPVS is not supported",
	"est_timeout":          "DPVS is not supported",
	"bps":                  "DPVS is not supported",
	"limit_proportion":     "DPVS is not supported",
	"hash_target":          "DPVS is not supported",
	"tunnel_group":         "DPVS is not supported",
	"nb_get_retry":         "",
	"notify_up":            "",
	"notify_down":          "",
}

var scheds = map[string]bool{"rr": true, "wrr": true, "lc": true, "wlc": true, "lblc": true, "lblcr": true, "dh": true, "sh": true, "sed": true, "nq": true, "fo": true, "ovf": true, "mh": true, "twos": true}

// vsDefaults are what real servers and checks inherit from their
// virtual server.
type vsDefaults struct {
	delayMS   int64
	retry     *int64
	retryLine *stmt
	connMS    *int64
	vhost     string
	inhibit   bool
}

func (t *tr) virtualServer(s *stmt) {
	var addrs []vsAddr
	switch {
	case len(s.args) >= 1 && s.args[0] == "fwmark":
		if len(s.args) != 2 {
			t.invalid(s, "fwmark needs one number")
			return
		}
		n, err := strconv.ParseInt(s.args[1], 10, 64)
		if err != nil || n < 1 || n > 4294967295 {
			t.invalid(s, "fwmark must be 1..4294967295: ignored")
			return
		}
		addrs = []vsAddr{{fwmark: n}}
	case len(s.args) >= 1 && s.args[0] == "group":
		if len(s.args) != 2 {
			t.invalid(s, "group needs one name")
			return
		}
		g, ok := t.vsGroups[s.args[1]]
		if !ok {
			t.invalid(s, fmt.Sprintf("no virtual_server_group %q (it must come before): ignored", clip(s.args[1])))
			return
		}
		t.changed(nil, s, fmt.Sprintf("virtual_server_group %s: one virtual server for each of its %d entries", clip(s.args[1]), len(g)))
		addrs = g
	case len(s.args) == 2:
		ip, err := netip.ParseAddr(s.args[0])
		port, perr := strconv.Atoi(s.args[1])
		if err != nil || ip.Zone() != "" || perr != nil || port < 1 || port > 65535 {
			t.invalid(s, "expected ADDRESS PORT: ignored")
			return
		}
		addrs = []vsAddr{{addr: ip.Unmap(), port: port}}
	default:
		t.invalid(s, "expected ADDRESS PORT, fwmark N or group NAME: ignored")
		return
	}
	label := ""
	if c := t.comments[s.file][s.line-1]; c != "" && nameOK.MatchString(c) {
		label = c
	}
	for i, a := range addrs {
		if a.fwmark == 0 && (a.addr.IsUnspecified() || a.addr.IsLoopback() || a.addr.IsMulticast() || a.addr == netip.MustParseAddr("255.255.255.255")) {
			t.invalid(s, fmt.Sprintf("%s can never be a virtual server: ignored", a.addr))
			continue
		}
		// only the first of a group's expansion reports the findings
		r := t.r
		if i > 0 {
			t.r = &reporter{}
		}
		t.oneVS(s, a, label)
		t.r = r
	}
}

func vsName(a vsAddr) string {
	if a.fwmark != 0 {
		return fmt.Sprintf("vs_fwmark_%d", a.fwmark)
	}
	return "vs_" + strings.ReplaceAll(a.addr.String(), ":", "-") + "_" + strconv.Itoa(a.port)
}

func (t *tr) oneVS(s *stmt, a vsAddr, label string) {
	want := vsName(a)
	if label != "" {
		want = label
	}
	name := t.name("virtual_server", want)
	b := &blk{typ: "virtual_server", labels: []string{name}}
	if a.fwmark != 0 {
		a.addr = fwmarkFamily(s)
	}
	vs := &vserver{b: b, addr: a, file: s.file}
	if a.fwmark != 0 {
		b.set("fwmark", num(a.fwmark))
		if a.addr.IsValid() && a.addr.Is6() {
			b.set("family", str("ipv6"))
		}
	} else {
		b.set("address", str(netip.AddrPortFrom(a.addr, uint16(a.port)).String()))
	}
	for _, n := range []string{"family", "protocol", "scheduler", "scheduler_flags", "one_packet", "forward", "on_failure", "quorum"} {
		if _, set := b.get(n); !set { // their places, in this order
			b.set(n, cty.NilVal)
		}
	}
	d := vsDefaults{delayMS: 60000}
	var flags []string
	forward := "nat"
	var rss []*stmt
	seen := map[string]int{}
	for _, c := range s.block {
		t.once(seen, c)
		switch c.kw {
		case "delay_loop":
			if ms, ok := t.secArg(c, 10, 3600000); ok {
				d.delayMS = ms
			}
		case "lb_algo", "lvs_sched":
			if v, ok := t.arg(c); ok {
				switch {
				case scheds[v]:
					b.set("scheduler", str(v))
				case scheds[strings.ToLower(v)]:
					// keepalived ignores it: an import runs what ran.
					t.invalid(c, fmt.Sprintf("unknown scheduler %q: keepalived takes lower-case names only and ran wlc: wlc used (write %s if that was meant)", clip(v), strings.ToLower(v)))
				default:
					t.invalid(c, fmt.Sprintf("unknown scheduler %q: wlc used", clip(v)))
				}
			}
		case "lb_kind", "lvs_method":
			if v, ok := t.arg(c); ok {
				if m, ok := t.method(b, c, v); ok {
					forward = m
					b.set("forward", str(forward))
				}
			}
		case "persistence_timeout":
			if n, ok := t.intArg(c, 1, 2147483); ok {
				b.child("persistence").set("timeout", dur(n*1000))
			}
		case "persistence_granularity":
			if v, ok := t.arg(c); ok {
				if m, ok := netmask(v, a); ok {
					b.child("persistence").set("netmask", m)
				} else {
					t.invalid(c, fmt.Sprintf("%q is not a netmask", clip(v)))
				}
			}
		case "protocol":
			if v, ok := t.arg(c); ok {
				p := strings.ToLower(v)
				if p != "tcp" && p != "udp" && p != "sctp" {
					t.invalid(c, fmt.Sprintf("unknown protocol %q: ignored", clip(v)))
					continue
				}
				if a.fwmark != 0 {
					t.changed(b, c, "a fwmark service has no protocol: the firewall rule selects the packets")
					continue
				}
				b.set("protocol", str(p))
			}
		case "sorry_server":
			t.sorry(b, c, a)
		case "sorry_server_lvs_method":
			if v, ok := t.arg(c); ok {
				switch strings.ToUpper(v) {
				case "NAT", "DR", "TUN":
					b.child("sorry_server").set("forward", str(strings.ToLower(v)))
				default:
					t.invalid(c, fmt.Sprintf("unknown forwarding method %q", clip(v)))
				}
			}
		case "quorum":
			if n, ok := t.intArg(c, 0, 4294967295); ok {
				vs.quorum, vs.qline = n, c.line
				b.set("quorum", num(n))
			}
		case "inhibit_on_failure":
			d.inhibit = true
			b.set("on_failure", str("drain"))
		case "ops":
			b.set("one_packet", cty.True)
		case "hashed", "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			flags = append(flags, c.kw)
		case "retry", "nb_get_retry", "delay_before_retry", "connect_timeout", "virtualhost":
			t.checkDefault(&d, b, c)
		case "real_server":
			rss = append(rss, c)
		case "notify_up", "notify_down":
			t.skip(b, c, "tandem has no real-server hooks; it logs and counts transitions (metrics)")
		case "ip_family":
			if a.fwmark == 0 {
				t.skip(b, c, "the family follows the address")
			} else if v, ok := t.arg(c); ok && v != "inet" && v != "inet6" {
				t.invalid(c, fmt.Sprintf("unknown address family %q: inet used", clip(v)))
			}
		default:
			if why, ok := vsNot[c.kw]; ok && why != "" {
				if c.kw == "alpha" || c.kw == "omega" || c.kw == "ha_suspend" || c.kw == "hysteresis" {
					t.changed(b, c, why)
				} else {
					t.skip(b, c, why)
				}
				continue
			}
			t.unknown(b, c, vsKnown, vsNot)
		}
	}
	if p, _ := b.get("protocol"); p == cty.NilVal && a.fwmark == 0 {
		// keepalived 2 runs a service without a protocol as UDP (the
		// kernel's default for protocol 0): an import runs what ran.
		b.set("protocol", str("udp"))
		t.changed(b, s, "no protocol: keepalived runs the service as UDP: protocol = \"udp\" (write tcp if that was meant, as keepalived would need protocol TCP)")
	}
	sched, _ := b.get("scheduler")
	sn := "wlc"
	if sched != cty.NilVal {
		sn = sched.AsString()
	}
	var sf []string
	for _, f := range flags {
		fl := f
		switch f {
		case "hashed":
			continue
		case "flag-1":
			fl = sn + "-fallback"
		case "flag-2":
			fl = sn + "-port"
		case "flag-3":
			t.r.add(s.file, s.line, f, importer.NotTranslated, "flag-3 has no meaning for the schedulers tandem knows")
			continue
		}
		if !strings.HasPrefix(fl, sn+"-") || (sn != "sh" && sn != "mh") {
			t.r.add(s.file, s.line, f, importer.Changed, fmt.Sprintf("%s has no meaning with scheduler %s: dropped", f, sn))
			continue
		}
		if !contains(sf, fl) {
			sf = append(sf, fl)
		}
	}
	if len(sf) > 0 {
		b.set("scheduler_flags", strs(sf))
	}
	seenRS := map[string]bool{}
	for _, c := range rss {
		t.realServer(vs, c, d, forward, seenRS)
	}
	if vs.quorum > 0 && vs.quorum > vs.weights {
		t.r.add(s.file, vs.qline, "quorum", importer.Changed, fmt.Sprintf("quorum %d is more than the real servers weigh (%d): tandem refuses that, so it is %d", vs.quorum, vs.weights, vs.weights))
		if vs.weights == 0 {
			b.del("quorum")
		} else {
			b.set("quorum", num(vs.weights))
		}
	}
	t.vss = append(t.vss, vs)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (t *tr) delayBeforeRetry(b *blk, c *stmt, delayMS int64) {
	t.changed(b, c, fmt.Sprintf("tandem probes again at the check's interval (%s), not after delay_before_retry", fmtMS(delayMS)))
}

func netmask(v string, a vsAddr) (cty.Value, bool) {
	v = strings.TrimPrefix(v, "/")
	if n, err := strconv.Atoi(v); err == nil {
		max := 32
		if a.addr.IsValid() && a.addr.Is6() {
			max = 128
		}
		if n >= 1 && n <= max {
			return num(int64(n)), true
		}
		return cty.NilVal, false
	}
	m, err := netip.ParseAddr(v)
	if err != nil || !m.Is4() || (a.addr.IsValid() && a.addr.Is6()) {
		return cty.NilVal, false
	}
	b := m.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if x == 0 || (^x)&(^x+1) != 0 { // not contiguous
		return cty.NilVal, false
	}
	return str(m.String()), true
}

// fwmarkFamily is the address family of the fwmark service s, which has
// no address to give it, as the unspecified address of that family:
// keepalived's ip_family, or else its sorry server's family, or else its
// first real server's; IPv4 when none says.
func fwmarkFamily(s *stmt) netip.Addr {
	for _, kw := range []string{"ip_family", "sorry_server", "real_server"} {
		for _, c := range s.block {
			if c.kw != kw || len(c.args) == 0 {
				continue
			}
			v := c.args[0]
			if kw == "ip_family" {
				v = map[string]string{"inet": "0.0.0.0", "inet6": "::"}[v]
			}
			if ip, err := netip.ParseAddr(v); err == nil && ip.Unmap().Is4() {
				return netip.IPv4Unspecified()
			} else if err == nil {
				return netip.IPv6Unspecified()
			}
		}
	}
	return netip.IPv4Unspecified()
}

// method reads a forwarding method (lb_kind, lvs_method) as keepalived
// does: NAT, DR or TUN, in capitals. Anything else is a finding, and the
// default stays (keepalived's NAT for a virtual server, the virtual
// server's for a real server); false then.
func (t *tr) method(b *blk, c *stmt, v string) (string, bool) {
	switch v {
	case "NAT", "DR", "TUN":
		return strings.ToLower(v), true
	}
	switch u := strings.ToUpper(v); u {
	case "NAT", "DR", "TUN":
		// keepalived ignores it: an import runs what ran.
		t.invalid(c, fmt.Sprintf("unknown forwarding method %q: keepalived takes NAT, DR or TUN in capitals and ignored it: ignored (write %s if that was meant)", clip(v), u))
	case "FNAT":
		t.skip(b, c, "FNAT (DPVS) is not supported: ignored")
	default:
		t.invalid(c, fmt.Sprintf("unknown forwarding method %q: ignored", clip(v)))
	}
	return "", false
}

func (t *tr) sorry(b *blk, c *stmt, a vsAddr) {
	if len(c.args) < 1 {
		t.invalid(c, "missing address")
		return
	}
	ip, err := netip.ParseAddr(c.args[0])
	switch {
	case err != nil || ip.Zone() != "":
		t.invalid(c, fmt.Sprintf("%q is not an address: ignored", clip(c.args[0])))
		return
	case ip.Unmap().IsLoopback():
		t.invalid(c, fmt.Sprintf("%s is the director itself, which IPVS does not forward to: ignored; serve the sorry page from another address", ip.Unmap()))
		return
	case !backendOK(ip.Unmap()):
		t.invalid(c, fmt.Sprintf("%s can never be a sorry server: ignored", ip.Unmap()))
		return
	}
	ip = ip.Unmap()
	if ip.Is4() != a.addr.Is4() {
		t.invalid(c, "the sorry server's family differs from the virtual server's: ignored")
		return
	}
	addr := ip.String()
	if len(c.args) >= 2 && a.fwmark == 0 {
		p, err := strconv.Atoi(c.args[1])
		if err != nil || p < 1 || p > 65535 {
			t.invalid(c, "not a port: the virtual server's used")
		} else {
			addr = netip.AddrPortFrom(ip, uint16(p)).String()
		}
	}
	if len(c.args) > 2 {
		t.invalid(c, "extra words ignored")
	}
	b.child("sorry_server").set("address", str(addr))
}

func backendOK(ip netip.Addr) bool {
	return !(ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip == netip.MustParseAddr("255.255.255.255"))
}

var rsKnown = map[string]string{
	"weight": "", "inhibit_on_failure": "", "uthreshold": "", "lthreshold": "", "TCP_CHECK": "", "HTTP_GET": "",
	"SSL_GET": "", "MISC_CHECK": "", "lvs_method": "", "retry": "", "delay_before_retry": "", "connect_timeout": "",
	"virtualhost": "", "delay_loop": "",
}

var rsNot = map[string]string{
	"notify_up":        "tandem has no real-server hooks; it logs and counts transitions (metrics)",
	"notify_down":      "tandem has no real-server hooks; it logs and counts transitions (metrics)",
	"smtp_alert":       "tandem sends no e-mail",
	"alpha":            "tandem's own start state applies: a real server counts as down until its check passes rise times",
	"SMTP_CHECK":       "tandem has no SMTP check; a command check can run one",
	"DNS_CHECK":        "tandem has no DNS check; a command check can run one",
	"BFD_CHECK":        "tandem has no BFD",
	"FILE_CHECK":       "tandem has no file check; a command check can read the file",
	"PING_CHECK":       "tandem has no ICMP check; a command check can run ping",
	"UDP_CHECK":        "tandem has no UDP check; a command check can run one",
	"warmup":           "tandem jitters the first probes by itself",
	"log_all_failures": "tandem logs check transitions",
}

func (t *tr) realServer(vs *vserver, s *stmt, d vsDefaults, forward string, seen map[string]bool) {
	if len(s.args) < 1 {
		t.invalid(s, "real_server needs an address: ignored")
		return
	}
	ip, err := netip.ParseAddr(s.args[0])
	if err != nil || ip.Zone() != "" {
		t.invalid(s, fmt.Sprintf("%q is not an address: ignored", clip(s.args[0])))
		return
	}
	ip = ip.Unmap()
	if !backendOK(ip) {
		t.invalid(s, fmt.Sprintf("%s can never be a real server: ignored", ip))
		return
	}
	port := 0
	if len(s.args) >= 2 {
		p, err := strconv.Atoi(s.args[1])
		if err != nil || p < 1 || p > 65535 {
			t.invalid(s, fmt.Sprintf("%q is not a port: ignored", clip(s.args[1])))
		} else {
			port = p
		}
	}
	if len(s.args) > 2 {
		t.invalid(s, "extra words ignored")
	}
	b := &blk{typ: "real_server"}
	fwd := forward
	for _, c := range s.block {
		if c.kw == "lvs_method" {
			if v, ok := t.arg(c); ok {
				if m, ok := t.method(b, c, v); ok {
					fwd = m
					if fwd != forward {
						b.set("forward", str(fwd))
					}
				}
			}
		}
	}
	a := vs.addr
	if ip.Is4() != a.addr.Is4() && fwd != "tun" {
		t.invalid(s, "the real server's family differs from the virtual server's (only tun may mix): ignored")
		return
	}
	checkPort := 0
	addr := ip.String()
	switch {
	case a.fwmark != 0:
		checkPort = port
	case (fwd == "dr" || fwd == "tun") && port != 0 && port != a.port:
		t.changed(nil, s, fmt.Sprintf("with %s IPVS cannot change the port: the real server takes the virtual port %d; the check still probes %d", fwd, a.port, port))
		checkPort = port
	case port != 0 && !(fwd == "dr" || fwd == "tun"):
		addr = netip.AddrPortFrom(ip, uint16(port)).String()
	}
	key := ip.String() + "/" + strconv.Itoa(port)
	if fwd == "dr" || fwd == "tun" || a.fwmark != 0 {
		key = ip.String()
	}
	if seen[key] {
		t.invalid(s, "the same real server again: ignored")
		return
	}
	seen[key] = true
	want := "rs_" + strings.ReplaceAll(ip.String(), ":", "-")
	if port != 0 {
		want += "_" + strconv.Itoa(port)
	}
	name := uniqueName(nameOf(want, "rs"), usedIn(vs.b))
	b.labels = []string{name}
	b.items = append([]*item{{name: "address", val: str(addr)}}, b.items...)
	weight := int64(1)
	var checks []*stmt
	seenKw := map[string]int{}
	for _, c := range s.block {
		t.once(seenKw, c)
		switch c.kw {
		case "lvs_method":
		case "weight":
			if n, ok := t.intArg(c, 0, 65535); ok {
				weight = n
				b.set("weight", num(n))
			}
		case "inhibit_on_failure":
			if !d.inhibit {
				t.changed(b, c, "tandem's on_failure is per virtual server: this real server is removed on failure like the others (set on_failure = \"drain\" on the virtual server to drain them all)")
			}
		case "uthreshold":
			if n, ok := t.intArg(c, 0, 4294967295); ok {
				b.set("upper_threshold", num(n))
			}
		case "lthreshold":
			if n, ok := t.intArg(c, 0, 4294967295); ok {
				b.set("lower_threshold", num(n))
			}
		case "TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK":
			checks = append(checks, c)
		case "retry", "nb_get_retry", "delay_before_retry", "connect_timeout", "virtualhost":
			t.checkDefault(&d, b, c)
		case "delay_loop":
			if ms, ok := t.secArg(c, 10, 3600000); ok {
				d.delayMS = ms
			}
		default:
			if why, ok := rsNot[c.kw]; ok {
				if c.kw == "alpha" {
					t.changed(b, c, why)
				} else {
					t.skip(b, c, why)
				}
				continue
			}
			t.unknown(b, c, rsKnown, rsNot)
		}
	}
	// thresholds: lower needs upper and at most it
	if lv, ok := b.get("lower_threshold"); ok {
		uv, uok := b.get("upper_threshold")
		if !uok || lv.GreaterThan(uv).True() {
			t.r.add(s.file, s.line, "lthreshold", importer.Changed, "lthreshold without a larger uthreshold: dropped (tandem needs lower <= upper)")
			b.del("lower_threshold")
		}
	}
	for i, c := range checks {
		if i > 0 {
			t.skip(b, c, "tandem has one check per real server: the first one is used")
			continue
		}
		if ck := t.check(b, c, d, checkPort); ck != nil {
			b.add(ck)
		}
	}
	vs.weights += weight
	vs.b.add(b)
}

func usedIn(b *blk) map[string]bool {
	m := map[string]bool{}
	for _, it := range b.items {
		if it.block != nil && len(it.block.labels) > 0 {
			m[it.block.labels[0]] = true
		}
	}
	return m
}

var checkKnown = map[string]string{
	"connect_ip": "", "connect_port": "", "connect_timeout": "", "bindto": "", "retry": "", "nb_get_retry": "",
	"delay_before_retry": "", "url": "", "virtualhost": "", "misc_path": "", "misc_timeout": "", "delay_loop": "",
	"user": "", "misc_dynamic": "", "warmup": "",
}

var checkNot = map[string]string{
	"bind_port":        "tandem chooses the probe's source port",
	"bind_if":          "tandem lets the kernel choose the interface",
	"fwmark":           "probes carry no firewall mark",
	"enable_sni":       "",
	"fast_recovery":    "",
	"http_protocol":    "tandem's checks speak HTTP/1.1",
	"log_all_failures": "tandem logs check transitions",
	"warmup":           "tandem jitters the first probes by itself",
	"alpha":            "tandem's own start state applies",
	"misc_dynamic":     "tandem does not set weights from the exit status",
	"user":             "tandem runs commands as itself",
	"ssl_verify":       "",
}

// check translates TCP_CHECK, HTTP_GET, SSL_GET and MISC_CHECK. keepalived
// marks a server down after retry+1 failures in a row and up after one
// success: fall = retry+1, rise = 1.
func (t *tr) check(rs *blk, s *stmt, d vsDefaults, port int) *blk {
	typ := map[string]string{"TCP_CHECK": "tcp", "HTTP_GET": "http", "SSL_GET": "https", "MISC_CHECK": "command"}[s.kw]
	b := &blk{typ: "check", labels: []string{typ}}
	for _, n := range []string{"command", "interval", "timeout", "rise", "fall", "port", "connect_address", "source_address", "path", "host", "status", "digest"} {
		b.set(n, cty.NilVal)
	}
	if port != 0 && typ != "command" {
		b.set("port", num(int64(port)))
	}
	connMS := int64(5000)
	if d.connMS != nil {
		connMS = *d.connMS
	}
	retry := int64(1)
	if typ == "command" {
		retry = 0
	}
	if d.retry != nil {
		retry = *d.retry
	}
	delay := d.delayMS
	vhost := d.vhost
	urls := 0
	hasCmd := false
	seen := map[string]int{}
	for _, c := range s.block {
		t.once(seen, c)
		switch {
		case c.kw == "connect_ip" && typ != "command":
			if a, ok := t.arg(c); ok {
				if ip, err := netip.ParseAddr(a); err == nil && ip.Zone() == "" {
					b.set("connect_address", str(ip.Unmap().String()))
				} else {
					t.invalid(c, fmt.Sprintf("%q is not an address", clip(a)))
				}
			}
		case c.kw == "connect_port" && typ != "command":
			if n, ok := t.intArg(c, 1, 65535); ok {
				b.set("port", num(n))
			}
		case c.kw == "bindto" && typ != "command":
			if a, ok := t.arg(c); ok {
				if ip, err := netip.ParseAddr(a); err == nil && ip.Zone() == "" {
					b.set("source_address", str(ip.Unmap().String()))
				} else {
					t.invalid(c, fmt.Sprintf("%q is not an address", clip(a)))
				}
			}
		case c.kw == "connect_timeout" || (c.kw == "misc_timeout" && typ == "command"):
			if ms, ok := t.secArg(c, 1, 3600000); ok {
				connMS = ms
			}
		case c.kw == "nb_get_retry" && typ != "http" && typ != "https":
			t.invalid(c, nbGetRetryIgnored)
		case c.kw == "retry" || c.kw == "nb_get_retry":
			if n, ok := t.intArg(c, 0, 99); ok {
				retry = n
			}
		case c.kw == "delay_before_retry":
			t.delayBeforeRetry(b, c, delay)
		case c.kw == "delay_loop":
			if ms, ok := t.secArg(c, 10, 3600000); ok {
				delay = ms
			}
		case c.kw == "virtualhost" && (typ == "http" || typ == "https"):
			vhost, _ = t.arg(c)
		case c.kw == "url" && (typ == "http" || typ == "https"):
			urls++
			if urls > 1 {
				t.skip(b, c, "tandem's http check has one path: the first url is used")
				continue
			}
			t.url(b, c)
		case c.kw == "misc_path" && typ == "command":
			if argv, ok := t.command(b, c); ok {
				b.set("command", strs(argv))
				hasCmd = true
			}
		case c.kw == "enable_sni" && typ == "https":
			// tandem always sends SNI (host or tls.server_name)
		default:
			if why, ok := checkNot[c.kw]; ok && why != "" {
				t.skip(b, c, why)
				continue
			}
			t.unknown(b, c, checkKnown, checkNot)
		}
	}
	if typ == "command" && !hasCmd {
		t.invalid(s, "MISC_CHECK without misc_path: not translated")
		for _, l := range commented(b) {
			rs.note(l)
		}
		return nil
	}
	if hv, _ := b.get("host"); hv == cty.NilVal && vhost != "" && (typ == "http" || typ == "https") {
		b.set("host", str(vhost))
	}
	if typ == "https" {
		b.child("tls").set("insecure_skip_verify", cty.True)
		t.changed(b, s, "keepalived's SSL_GET does not verify the certificate: insecure_skip_verify = true keeps that; set tls.ca_file to verify")
	}
	b.set("interval", dur(delay))
	if connMS > delay {
		t.changed(b, s, fmt.Sprintf("the timeout %s is longer than the interval: tandem needs timeout <= interval, so it is %s", fmtMS(connMS), fmtMS(delay)))
		connMS = delay
	}
	b.set("timeout", dur(connMS))
	b.set("rise", num(1))
	fall := retry + 1
	if fall > 100 {
		fall = 100
	}
	b.set("fall", num(fall))
	return b
}

func (t *tr) url(b *blk, u *stmt) {
	for _, c := range u.block {
		switch c.kw {
		case "path":
			if a, ok := t.arg(c); ok {
				if !strings.HasPrefix(a, "/") {
					t.changed(b, c, "the path must start with /: one is added")
					a = "/" + a
				}
				b.set("path", str(a))
			}
		case "status_code":
			var st []string
			for _, a := range c.args {
				lo, hi, isR := strings.Cut(a, "-")
				l, e1 := strconv.Atoi(lo)
				h, e2 := l, error(nil)
				if isR {
					h, e2 = strconv.Atoi(hi)
				}
				if e1 != nil || e2 != nil || l < 100 || h > 599 || h < l {
					t.invalid(c, fmt.Sprintf("%q is not a status code or range: ignored", clip(a)))
					continue
				}
				st = append(st, a)
			}
			if len(st) > 0 {
				b.set("status", strs(st))
			}
		case "digest":
			if a, ok := t.arg(c); ok {
				if _, err := hex.DecodeString(a); err == nil && len(a) == 32 {
					b.set("digest", str("md5:"+strings.ToLower(a)))
				} else {
					t.invalid(c, "not an MD5 digest (32 hex digits): ignored")
				}
			}
		case "virtualhost":
			if a, ok := t.arg(c); ok {
				b.set("host", str(a))
			}
		case "regex":
			if a, ok := t.arg(c); ok {
				if _, err := regexp.Compile(a); err != nil {
					t.skip(b, c, "not a Go (RE2) regular expression")
					continue
				}
				b.set("regex", str(a))
				t.changed(b, c, "tandem uses Go's RE2 syntax, not PCRE: check the expression")
			}
		default:
			t.skip(b, c, "not supported in tandem's http check")
		}
	}
}

// nbGetRetryIgnored is the finding of an nb_get_retry that keepalived
// ignores: it reads it in HTTP_GET and SSL_GET only (many a TCP_CHECK
// carries one that never had an effect). An import runs what ran.
const nbGetRetryIgnored = "keepalived reads nb_get_retry only in HTTP_GET and SSL_GET and ignored it here: ignored (write retry if that was meant)"

// checkDefault reads a check setting a virtual server gives its real
// servers' checks, or a real server its own: retries, the delay between
// them, the connect timeout, the virtual host.
func (t *tr) checkDefault(d *vsDefaults, b *blk, c *stmt) {
	switch c.kw {
	case "nb_get_retry":
		t.invalid(c, nbGetRetryIgnored)
	case "retry":
		if n, ok := t.intArg(c, 0, 99); ok {
			d.retry, d.retryLine = &n, c
		}
	case "delay_before_retry":
		t.delayBeforeRetry(b, c, d.delayMS)
	case "connect_timeout":
		if ms, ok := t.secArg(c, 1, 3600000); ok {
			d.connMS = &ms
		}
	case "virtualhost":
		d.vhost, _ = t.arg(c)
	}
}
