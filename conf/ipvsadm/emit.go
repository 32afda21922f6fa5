package ipvsadm

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/conf/importer"
	"github.com/zclconf/go-cty/cty"
)

func addComment(b *hclwrite.Body, text string) {
	b.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# " + clean(text, 600) + "\n")}})
}

func addComments(b *hclwrite.Body, cs []comment) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].line < cs[j].line })
	for _, c := range cs {
		addComment(b, c.text)
	}
}

func strList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

// emit writes the cluster file.
func (im *imp) emit() ([]byte, error) {
	hasNAT := false
	for _, s := range im.order {
		for _, d := range s.dests {
			hasNAT = hasNAT || d.fwd == "nat"
		}
	}
	// Every virtual address must be covered: without VRRP in the input,
	// each is a static VIP.
	for _, s := range im.order {
		if s.proto == "" {
			continue
		}
		if v := im.vip(s.addr.Addr()); v != nil && v.line == 0 {
			v.line = s.line
			msg := "the VIP " + s.addr.Addr().String() + " is not added by the input: it becomes a static_vips entry, which tandem expects configured on the director outside it (for a pair, a vrrp instance moves it: template at the end of the file)"
			if s.addr.Addr().Is6() {
				msg += "; add an IPv6 one deprecated (ip addr add VIP/64 dev IF preferred_lft 0)"
			}
			im.report(s.line, "vip", importer.Changed, msg)
		}
	}

	var out bytes.Buffer
	top := hclwrite.NewEmptyFile()
	tb := top.Body()
	addComment(tb, "Cluster file imported by tandem from "+im.file+" (ipvsadm).")
	addComment(tb, "Lines that did not carry over are comments at their place; check it with `tandem check`.")
	tb.AppendNewline()

	dir := tb.AppendNewBlock("director", nil).Body()
	switch im.ipForward {
	case "auto":
		if hasNAT {
			im.report(im.fwdLine, "ip_forward", importer.Changed, "ip_forward = \"auto\" (tandem's default) turns forwarding on because the file has NAT real servers, and leaves it alone otherwise")
			addComment(dir, fmt.Sprintf("%s:%d turned ip_forward on; \"auto\" does it while NAT real servers exist.", im.file, im.fwdLine))
			dir.SetAttributeValue("ip_forward", cty.StringVal("auto"))
		} else {
			im.report(im.fwdLine, "ip_forward", importer.Changed, "no NAT real server: ip_forward = \"on\" keeps forwarding on as the script did")
			dir.SetAttributeValue("ip_forward", cty.StringVal("on"))
		}
	case "off":
		dir.SetAttributeValue("ip_forward", cty.StringVal("off"))
	}
	switch im.redirects {
	case "false":
		dir.SetAttributeValue("send_redirects", cty.False)
	case "true":
		dir.SetAttributeValue("send_redirects", cty.True)
	default:
		if len(im.order) > 0 {
			im.report(0, "send_redirects", importer.Changed, "the input leaves ICMP redirects alone; tandem's default send_redirects = false turns them off on all, default and the node's interfaces (what NAT needs)")
		}
	}
	if len(im.masquerade) > 0 {
		var ps []string
		for _, p := range im.masquerade {
			ps = append(ps, p.String())
		}
		dir.SetAttributeValue("masquerade", strList(ps))
	}
	var vips []string
	for _, v := range im.vips {
		vips = append(vips, v.addr.String())
	}
	if len(vips) > 0 {
		dir.SetAttributeValue("static_vips", strList(vips))
	}
	if im.haveTO {
		to := dir.AppendNewBlock("timeouts", nil).Body()
		for i, k := range []string{"tcp", "tcp_fin", "udp"} {
			if im.timeouts[i] > 0 {
				to.SetAttributeValue(k, cty.StringVal(strconv.Itoa(im.timeouts[i])+"s"))
			}
		}
	}
	addComments(dir, im.dirCmts)
	tb.AppendNewline()

	node := tb.AppendNewBlock("node", []string{im.node}).Body()
	if len(im.ifaces) > 0 {
		node.SetAttributeValue("interfaces", strList(im.ifaces))
	}
	addComments(node, im.nodeCmts)
	out.Write(top.Bytes())

	// Each virtual server is checked alone (with its VIP static), so that
	// one tandem refuses becomes comments instead of spoiling the file.
	head := fmt.Sprintf("node %q {\n}\n", im.node)
	for _, s := range im.order {
		f := hclwrite.NewEmptyFile()
		b := f.Body()
		b.AppendNewline()
		addComments(b, s.pre)
		pre := f.Bytes()
		vf := hclwrite.NewEmptyFile()
		im.service(vf.Body(), s)
		block := vf.Bytes()
		mini := head
		if s.proto != "" {
			mini = fmt.Sprintf("director {\n  static_vips = [%q]\n}\n", s.addr.Addr().String()) + head
		}
		out.Write(pre)
		if _, diags := conf.Parse(append([]byte(mini), block...), "check.hcl"); diags.HasErrors() {
			d := diags[0]
			msg := "tandem refuses the translated service (" + d.Summary + ": " + d.Detail + "): left as a comment"
			out.WriteString("# " + im.report(s.line, "virtual_server", importer.Invalid, msg) + "\n")
			out.Write(commentOut(block))
			continue
		}
		out.Write(block)
	}
	if len(im.top) > 0 {
		f := hclwrite.NewEmptyFile()
		f.Body().AppendNewline()
		addComments(f.Body(), im.top)
		out.Write(f.Bytes())
	}
	if len(im.vips) > 0 {
		out.WriteString("\n" + im.vrrpTemplate())
		im.report(0, "vrrp", importer.Changed, "the input runs one director without VRRP: its VIPs are static_vips; for a pair, VRRP is the next step (a vrrp block template is at the end of the file)")
	}
	if im.dropped > 0 {
		im.findings = append(im.findings, importer.Finding{File: im.file, Severity: importer.NotTranslated, Message: fmt.Sprintf("%d more findings left out", im.dropped)})
	}
	key := func(f importer.Finding) int { // input order, whole-file findings last
		if f.Line == 0 {
			return MaxInput + 1
		}
		return f.Line
	}
	sort.SliceStable(im.findings, func(i, j int) bool { return key(im.findings[i]) < key(im.findings[j]) })
	res := hclwrite.Format(out.Bytes())
	if _, diags := conf.Parse(res, im.file+".hcl"); diags.HasErrors() {
		// Not expected: every part was checked. Keep the output loadable.
		d := diags[0]
		im.findings = append(im.findings, importer.Finding{File: im.file, Severity: importer.Invalid, Message: clean("the translation does not load ("+d.Summary+": "+d.Detail+"): everything left as comments", 400)})
		res = append([]byte(head), commentOut(res)...)
	}
	return res, nil
}

func commentOut(b []byte) []byte {
	var out bytes.Buffer
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l = strings.TrimRight(l, " "); l == "" {
			out.WriteString("#\n")
			continue
		}
		out.WriteString("# " + l + "\n")
	}
	return out.Bytes()
}

func (im *imp) service(tb *hclwrite.Body, s *service) {
	b := tb.AppendNewBlock("virtual_server", []string{s.name}).Body()
	if s.proto == "" {
		b.SetAttributeValue("fwmark", cty.NumberUIntVal(uint64(s.fwmark)))
		fam := "ipv4"
		if s.v6 {
			fam = "ipv6"
		}
		b.SetAttributeValue("family", cty.StringVal(fam))
	} else {
		b.SetAttributeValue("address", cty.StringVal(s.addr.String()))
		b.SetAttributeValue("protocol", cty.StringVal(s.proto))
	}
	b.SetAttributeValue("scheduler", cty.StringVal(s.sched))
	if len(s.flags) > 0 {
		b.SetAttributeValue("scheduler_flags", strList(s.flags))
	}
	if s.ops {
		b.SetAttributeValue("one_packet", cty.True)
	}
	fwd := "dr" // ipvsadm's default (-g)
	if len(s.dests) > 0 {
		fwd = s.dests[0].fwd
	}
	b.SetAttributeValue("forward", cty.StringVal(fwd))
	if s.persist {
		b.AppendNewline()
		p := b.AppendNewBlock("persistence", nil).Body()
		t := s.timeout
		if t == 0 {
			t = 300
		}
		p.SetAttributeValue("timeout", cty.StringVal(strconv.Itoa(t)+"s"))
		if s.netmask > 0 {
			p.SetAttributeValue("netmask", cty.NumberIntVal(int64(s.netmask)))
		}
	}
	if len(s.comments) > 0 {
		b.AppendNewline()
		addComments(b, s.comments)
	}
	for _, d := range s.dests {
		b.AppendNewline()
		r := b.AppendNewBlock("real_server", []string{d.name}).Body()
		if d.port != 0 {
			r.SetAttributeValue("address", cty.StringVal(netip.AddrPortFrom(d.addr, d.port).String()))
		} else {
			r.SetAttributeValue("address", cty.StringVal(d.addr.String()))
		}
		r.SetAttributeValue("weight", cty.NumberIntVal(int64(d.weight)))
		if d.fwd != fwd {
			r.SetAttributeValue("forward", cty.StringVal(d.fwd))
		}
		if d.ux > 0 {
			r.SetAttributeValue("upper_threshold", cty.NumberUIntVal(uint64(d.ux)))
		}
		if d.ly > 0 {
			r.SetAttributeValue("lower_threshold", cty.NumberUIntVal(uint64(d.ly)))
		}
	}
}

// vrrpTemplate is a commented vrrp block for the VIPs, the operator's next
// step towards a pair.
func (im *imp) vrrpTemplate() string {
	iface := ""
	var addrs []string
	for _, v := range im.vips {
		if v.addr.Is6() != im.vips[0].addr.Is6() {
			continue // an instance holds one family
		}
		if iface == "" {
			iface = v.iface
		}
		bits := v.bits
		if bits < 0 {
			bits = v.addr.BitLen()
		}
		addrs = append(addrs, strconv.Quote(netip.PrefixFrom(v.addr, bits).String()))
		if len(addrs) == 20 {
			break
		}
	}
	if iface == "" {
		iface = "eth0"
	}
	return strings.Join([]string{
		"# One director, without VRRP: the VIPs above are static_vips. For a pair,",
		"# add node \"director2\", remove the VIPs from static_vips, and let a vrrp",
		"# instance move them (write each VIP's real prefix length; one family per",
		"# instance):",
		"#",
		"# vrrp \"vip\" {",
		"#   vrid      = 51",
		"#   interface = " + strconv.Quote(iface),
		"#   addresses = [" + strings.Join(addrs, ", ") + "]",
		"# }",
		"",
	}, "\n")
}
