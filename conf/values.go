package conf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// decoder collects diagnostics while values are decoded and checked. Every
// helper reports its own errors and returns ok=false on failure, so callers
// go on with the next attribute and all errors of a file are reported.
type decoder struct {
	diags   hcl.Diagnostics
	dropped int // errors past maxErrors, counted but not kept
	// lazy parses the top-level blocks' bodies of a file the fast path
	// parsed, as they are opened; nil for hclsyntax's.
	lazy *lazyBodies
	// plain turns off the shortcuts that skip hcl's Content and the
	// evaluation of plain strings (body.quick, plainString): the tests'
	// reference decoder, which the fast path is compared with.
	plain bool
}

func (d *decoder) errf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.add(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

// item is a decoded list element with its position.
type item struct {
	s   string
	rng hcl.Range
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// literal reports, at its position, the first part of e that is not a
// value written out (see nonLiteral).
func (d *decoder) literal(name string, e hcl.Expression) bool {
	bad := nonLiteral(e)
	if bad == nil {
		return true
	}
	d.errf(bad.Range(), "Expressions are not supported", "%s must be a literal value, written out (no variables, functions, interpolation, conditionals or arithmetic). Hint: write the value itself.", name)
	return false
}

// exprMap returns the items of a map written out as { key = value }. A
// map given as an expression (a variable, a function, a for) is reported
// as such and yields no items and no error diagnostics, so that callers
// do not report it twice; keys and values are checked as they are
// decoded, each at its own position.
func (d *decoder) exprMap(a *hcl.Attribute) ([]hcl.KeyValuePair, hcl.Diagnostics) {
	if _, ok := a.Expr.(*hclsyntax.ObjectConsExpr); !ok && !d.literal(a.Name, a.Expr) {
		return nil, nil
	}
	return hcl.ExprMap(a.Expr)
}

func (d *decoder) eval(name string, e hcl.Expression) (cty.Value, bool) {
	if v, ok := plainString(e); ok && !d.plain {
		return v, true
	}
	if !d.literal(name, e) {
		return cty.NilVal, false
	}
	v, diags := e.Value(nil)
	for _, diag := range diags {
		addHint(diag)
	}
	if diags.HasErrors() {
		d.add(diags...)
		return cty.NilVal, false
	}
	if v.IsNull() {
		d.errf(e.Range(), "Invalid value", "%s must not be null. Hint: remove the attribute to use its default.", name)
		return cty.NilVal, false
	}
	if !v.IsWhollyKnown() {
		d.errf(e.Range(), "Invalid value", "%s must be a constant value. Hint: write the value itself.", name)
		return cty.NilVal, false
	}
	return v, true
}

// plainString returns the value of a quoted string without templates
// (for hclsyntax, a template of one string literal), as e.Value would
// return it, but without rendering the template.
func plainString(e hcl.Expression) (cty.Value, bool) {
	t, ok := e.(*hclsyntax.TemplateExpr)
	if !ok || len(t.Parts) != 1 {
		return cty.NilVal, false
	}
	l, ok := t.Parts[0].(*hclsyntax.LiteralValueExpr)
	if !ok || l.Val.Type() != cty.String || l.Val.IsNull() || !l.Val.IsKnown() || l.Val.IsMarked() {
		return cty.NilVal, false
	}
	return l.Val, true
}

// plainStrings returns the items of a list of quoted strings without
// templates, the usual list, as strList would, but without evaluating
// the list.
func plainStrings(e hcl.Expression) ([]item, bool) {
	t, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil, false
	}
	out := make([]item, 0, len(t.Exprs))
	for _, el := range t.Exprs {
		v, ok := plainString(el)
		if !ok {
			return nil, false
		}
		out = append(out, item{v.AsString(), el.Range()})
	}
	return out, true
}

func (d *decoder) wrongType(name string, e hcl.Expression, v cty.Value, want, hint string) {
	d.errf(e.Range(), "Incorrect attribute value type",
		"Inappropriate value for %s: %s required, got %s. Hint: %s", name, want, v.Type().FriendlyName(), hint)
}

func (d *decoder) strExpr(name string, e hcl.Expression) (string, bool) {
	v, ok := d.eval(name, e)
	if !ok {
		return "", false
	}
	if v.Type() != cty.String {
		d.wrongType(name, e, v, "a string", `quote the value, as in `+name+` = "...".`)
		return "", false
	}
	return v.AsString(), true
}

func (d *decoder) boolean(a *hcl.Attribute) (bool, bool) {
	v, ok := d.eval(a.Name, a.Expr)
	if !ok {
		return false, false
	}
	if v.Type() != cty.Bool {
		d.wrongType(a.Name, a.Expr, v, "a bool", "write "+a.Name+" = true or "+a.Name+" = false, without quotes.")
		return false, false
	}
	return v.True(), true
}

func (d *decoder) intExpr(name string, e hcl.Expression, lo, hi int64) (int64, bool) {
	v, ok := d.eval(name, e)
	if !ok {
		return 0, false
	}
	if v.Type() != cty.Number {
		d.wrongType(name, e, v, "a number", "write a whole number without quotes, as in "+name+" = "+itoa(lo)+".")
		return 0, false
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		d.errf(e.Range(), "Invalid number", "%s must be a whole number between %d and %d, got %s. Hint: drop the fraction.", name, lo, hi, bf.Text('g', 20))
		return 0, false
	}
	n, acc := bf.Int64()
	if acc != 0 || n < lo || n > hi {
		d.errf(e.Range(), "Value out of range", "%s must be between %d and %d, got %s. Hint: %s", name, lo, hi, bf.Text('g', 20), rangeHint(name))
		return 0, false
	}
	return n, true
}

// strList decodes a list of strings, keeping each element's position.
func (d *decoder) strList(a *hcl.Attribute) ([]item, bool) {
	if items, ok := plainStrings(a.Expr); ok && !d.plain {
		return items, true
	}
	v, ok := d.eval(a.Name, a.Expr)
	if !ok {
		return nil, false
	}
	t := v.Type()
	if !t.IsTupleType() && !t.IsListType() && !t.IsSetType() {
		d.wrongType(a.Name, a.Expr, v, "a list of strings", `write `+a.Name+` = ["...", "..."].`)
		return nil, false
	}
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() || len(exprs) != v.LengthInt() {
		// Not a literal list: check the values, positioned at the attribute.
		var out []item
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if ev.IsNull() || ev.Type() != cty.String {
				d.errf(a.Expr.Range(), "Incorrect attribute value type", "Every element of %s must be a string. Hint: quote each element.", a.Name)
				return nil, false
			}
			out = append(out, item{ev.AsString(), a.Expr.Range()})
		}
		return out, true
	}
	out := make([]item, 0, len(exprs))
	ok = true
	for _, e := range exprs {
		s, good := d.strExpr(a.Name+" element", e)
		if !good {
			ok = false
			continue
		}
		out = append(out, item{s, e.Range()})
	}
	return out, ok
}

func strs(items []item) []string {
	if len(items) == 0 {
		return nil
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.s
	}
	return out
}

type integer interface {
	~int | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32
}

// setInt decodes a whole number in [lo, hi] into dst; it reports whether
// the attribute was present and valid.
func setInt[T integer](d *decoder, dst *T, a *hcl.Attribute, lo, hi int64) bool {
	if a == nil {
		return false
	}
	n, ok := d.intExpr(a.Name, a.Expr, lo, hi)
	if ok {
		*dst = T(n)
	}
	return ok
}

func setStr(d *decoder, dst *string, a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	s, ok := d.strExpr(a.Name, a.Expr)
	if ok {
		*dst = s
	}
	return ok
}

func setBool(d *decoder, dst *bool, a *hcl.Attribute) bool {
	if a == nil {
		return false
	}
	b, ok := d.boolean(a)
	if ok {
		*dst = b
	}
	return ok
}

// setEnum decodes one of the allowed strings into dst.
func setEnum[T ~string](d *decoder, dst *T, a *hcl.Attribute, allowed ...T) bool {
	if a == nil {
		return false
	}
	s, ok := d.strExpr(a.Name, a.Expr)
	if !ok {
		return false
	}
	for _, v := range allowed {
		if string(v) == s {
			*dst = v
			return true
		}
	}
	names := make([]string, len(allowed))
	for i, v := range allowed {
		names[i] = strconv.Quote(string(v))
	}
	d.errf(a.Expr.Range(), "Invalid value", "%s must be one of %s, got %q. Hint: values are lower case; pick one of those.", a.Name, strings.Join(names, ", "), s)
	return false
}

// setDur decodes a duration string in [lo, hi] into dst. When step is not
// zero, the duration must be a multiple of it.
func setDur(d *decoder, dst *time.Duration, a *hcl.Attribute, lo, hi, step time.Duration) bool {
	if a == nil {
		return false
	}
	s, ok := d.strExpr(a.Name, a.Expr)
	if !ok {
		return false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.errf(a.Expr.Range(), "Invalid duration", "%s: %q is not a duration. Hint: write a number with a unit, such as \"1s\", \"500ms\" or \"2m\".", a.Name, s)
		return false
	}
	if v < lo || v > hi {
		d.errf(a.Expr.Range(), "Value out of range", "%s must be between %s and %s, got %s. Hint: %s", a.Name, fmtDur(lo), fmtDur(hi), s, rangeHint(a.Name))
		return false
	}
	if step != 0 && v%step != 0 {
		d.errf(a.Expr.Range(), "Invalid duration", "%s must be a multiple of %s, got %s. Hint: round it to %s.", a.Name, fmtDur(step), s, fmtDur(v.Round(step)))
		return false
	}
	*dst = v
	return true
}

// rangeHints explain the limits of some numbers.
var rangeHints = map[string]string{
	"vrid":            "each virtual router on a link needs its own VRID from 1 to 255 (RFC 5798).",
	"priority":        "255 is reserved for the owner of the addresses, and no director owns a VIP that tandem moves; 0 means releasing mastership.",
	"weight":          "0 keeps the server but sends it no new connections.",
	"port":            "TCP, UDP and SCTP ports are 1 to 65535.",
	"fwmark":          "the mark set by the firewall rule (iptables -j MARK / nft meta mark set), 1 to 4294967295.",
	"advert_interval": "VRRPv3 advertises every 10ms to 40.95s, VRRPv2 every 1s to 255s.",
}

func rangeHint(name string) string {
	if h, ok := rangeHints[name]; ok {
		return h
	}
	if strings.HasPrefix(name, "priorities.") {
		return rangeHints["priority"]
	}
	return "use a value in that range."
}

func fmtDur(v time.Duration) string {
	if v == 0 {
		return "0s"
	}
	return v.String()
}

// --- addresses ---

func (d *decoder) addr(name string, it item) (netip.Addr, bool) {
	a, err := netip.ParseAddr(it.s)
	if err != nil {
		hint := "write an IPv4 address such as 192.0.2.1 or an IPv6 address such as 2001:db8::1"
		if strings.Contains(it.s, "/") {
			hint = "write the address without a prefix length"
		} else if _, perr := netip.ParseAddrPort(it.s); perr == nil {
			hint = "write the address without a port"
		}
		d.errf(it.rng, "Invalid IP address", "%s: %q is not an IP address. Hint: %s.", name, it.s, hint)
		return netip.Addr{}, false
	}
	if a.Zone() != "" {
		d.errf(it.rng, "Invalid IP address", "%s: %q has a zone. Hint: remove the %%%s suffix.", name, it.s, a.Zone())
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func (d *decoder) addrAttr(a *hcl.Attribute) (netip.Addr, bool) {
	s, ok := d.strExpr(a.Name, a.Expr)
	if !ok {
		return netip.Addr{}, false
	}
	return d.addr(a.Name, item{s, a.Expr.Range()})
}

func (d *decoder) prefix(name string, it item, masked bool) (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(it.s)
	if err != nil {
		hint := "write an address with a prefix length, such as 192.0.2.10/24 or 2001:db8::10/64"
		if a, aerr := netip.ParseAddr(it.s); aerr == nil {
			hint = fmt.Sprintf("add the prefix length, as in %s/%d", a, a.BitLen())
		}
		d.errf(it.rng, "Invalid prefix", "%s: %q is not an address with a prefix length. Hint: %s.", name, it.s, hint)
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		if p.Bits() < 0 {
			d.errf(it.rng, "Invalid prefix", "%s: %q is an IPv4-mapped prefix shorter than /96. Hint: write it as an IPv4 prefix.", name, it.s)
			return netip.Prefix{}, false
		}
	}
	if masked && p.Masked() != p {
		d.errf(it.rng, "Invalid prefix", "%s: %q has host bits set. Hint: did you mean %q?", name, it.s, p.Masked().String())
		return netip.Prefix{}, false
	}
	return p, true
}

// addrPort parses "ip:port" or "[ipv6]:port"; when optPort is set, a bare
// address is accepted and returned with port 0.
func (d *decoder) addrPort(name string, it item, optPort bool) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(it.s); err == nil {
		if ap.Addr().Zone() != "" {
			d.errf(it.rng, "Invalid address", "%s: %q has a zone. Hint: remove the %%%s suffix.", name, it.s, ap.Addr().Zone())
			return netip.AddrPort{}, false
		}
		if ap.Port() == 0 {
			hint := "use a port between 1 and 65535"
			if optPort {
				hint += ", or leave the port out"
			}
			d.errf(it.rng, "Invalid port", "%s: port 0 in %q is not a valid port. Hint: %s.", name, it.s, hint)
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	if a, err := netip.ParseAddr(it.s); err == nil && a.Zone() == "" {
		if optPort {
			return netip.AddrPortFrom(a.Unmap(), 0), true
		}
		d.errf(it.rng, "Invalid address", "%s: %q has no port. Hint: write ip:port, as in %s.", name, it.s, netip.AddrPortFrom(a, 80))
		return netip.AddrPort{}, false
	}
	want := "ip:port"
	if optPort {
		want = "ip or ip:port"
	}
	d.errf(it.rng, "Invalid address", "%s: %q is not a valid %s. Hint: write 192.0.2.1:80, or [2001:db8::1]:80 for IPv6; ports are 1..65535.", name, it.s, want)
	return netip.AddrPort{}, false
}

// ifname checks a Linux interface name (dev_valid_name).
func (d *decoder) ifname(name string, it item) bool {
	s := it.s
	if s == "" || len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/: \t\n") {
		d.errf(it.rng, "Invalid interface name", "%s: %q is not a valid interface name. Hint: Linux interface names have 1 to 15 characters and no '/', ':' or spaces.", name, s)
		return false
	}
	if s == "all" || s == "default" {
		d.errf(it.rng, "Invalid interface name", "%s: %q is not an interface: it is a settings directory of the kernel (/proc/sys/net/ipv4/conf/%s). Hint: name the interface itself, as ip link shows it, such as eth0.", name, s, s)
		return false
	}
	return true
}

// argv checks a command line: at least one element, the first an absolute path.
func (d *decoder) argv(a *hcl.Attribute, required bool) ([]string, bool) {
	items, ok := d.strList(a)
	if !ok {
		return nil, false
	}
	if len(items) == 0 {
		if required {
			d.errf(a.Expr.Range(), "Missing command", "%s must name a program. Hint: write %s = [\"/path/to/program\", \"arg\"].", a.Name, a.Name)
			return nil, false
		}
		return nil, true
	}
	if !strings.HasPrefix(items[0].s, "/") {
		d.errf(items[0].rng, "Invalid command", "%s: the program %q must be an absolute path, since tandem does not search $PATH. Hint: write the full path, such as \"/usr/local/bin/%s\".", a.Name, items[0].s, strings.TrimSpace(items[0].s))
		return nil, false
	}
	return strs(items), true
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
		case (r == '-' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// label checks and returns a block's name label.
func (d *decoder) label(b *hcl.Block) (string, bool) {
	name := b.Labels[0]
	if !validName(name) {
		d.errf(b.LabelRanges[0], "Invalid name", "The %s name %q is not valid. Hint: use 1 to 64 letters, digits, '_', '-' or '.', starting with a letter, digit or '_'.", b.Type, name)
		return name, false
	}
	return name, true
}
