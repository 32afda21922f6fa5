package ipvsadm

import (
	"errors"
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandem-lb/tandem/conf/importer"
)

// Bounds on the input, so that no file can exhaust memory or time.
const (
	// MaxInput is the largest input Import reads (8 MiB, as conf's
	// MaxFileSize).
	MaxInput = 8 << 20
	// MaxLine is the longest logical line translated; a longer one is
	// reported and skipped.
	MaxLine = 64 << 10
	// maxFindings bounds the findings (and comments) of one import.
	maxFindings = 10000
)

// ErrTooLarge is returned for an input over MaxInput.
var ErrTooLarge = errors.New("ipvsadm: input larger than 8 MiB")

// Import translates src, ipvsadm-save output or a shell script of ipvsadm
// commands, into a cluster file. name is the input's file name, used in
// findings and comments. The result always passes conf.Parse; what did not
// carry over is in its findings (in input order) and, as comments, at its
// place in the file. Import touches nothing outside its arguments and is
// safe for concurrent use.
func Import(name string, src []byte) (*importer.Result, error) {
	if len(src) > MaxInput {
		return nil, ErrTooLarge
	}
	if name == "" {
		name = "input"
	}
	im := &imp{
		file:     clean(name, 200),
		vars:     map[string]variable{},
		services: map[string]*service{},
		node:     "director1",
	}
	im.run(src)
	out, err := im.emit()
	if err != nil {
		return nil, err
	}
	return &importer.Result{HCL: out, Findings: im.findings}, nil
}

// Where a comment goes in the output.
type place int

const (
	atTop      place = iota // top level, before the next virtual server
	atDirector              // in the director block
	atNode                  // in the node block
)

type comment struct {
	line int
	text string
}

type service struct {
	name     string
	line     int
	key      string
	proto    string // tcp, udp, sctp; "" for fwmark
	addr     netip.AddrPort
	fwmark   uint32
	v6       bool
	sched    string
	flags    []string
	persist  bool
	timeout  int // seconds; 0 = ipvsadm's 300
	netmask  int // prefix length; -1 = none
	ops      bool
	dests    []*dest
	pre      []comment // top-level comments before the block
	comments []comment // comments inside it
}

type dest struct {
	name   string
	line   int
	addr   netip.Addr
	port   uint16
	fwd    string
	weight int
	ux, ly uint32
}

type vipInfo struct {
	addr   netip.Addr
	bits   int // -1 unknown
	iface  string
	line   int
	byHand bool // set by the script (ifconfig, ip addr), not only used
}

type imp struct {
	file     string
	findings []importer.Finding
	dropped  int // findings over maxFindings

	vars  map[string]variable
	depth int // open if/case/for/while/function blocks
	// blockLine is the line of the outermost open block.
	blockLine int

	node       string
	ifaces     []string
	nodeCmts   []comment
	dirCmts    []comment
	top        []comment // pending top-level comments
	ipForward  string    // "", "auto", "on", "off"
	fwdLine    int
	redirects  string // "", "false", "true"
	masquerade []netip.Prefix
	vips       []*vipInfo
	timeouts   [3]int // tcp, tcp_fin, udp seconds; 0 = keep
	haveTO     bool

	services map[string]*service
	order    []*service
	names    map[string]bool

	lastComment     string // text of the comment line right above, if any
	lastCommentLine int
}

// report records a finding and returns the comment text for the output.
func (im *imp) report(line int, keyword string, sev importer.Severity, msg string) string {
	msg = clean(msg, 400)
	keyword = clean(keyword, 80)
	f := importer.Finding{File: im.file, Line: line, Keyword: keyword, Severity: sev, Message: msg}
	if len(im.findings) < maxFindings {
		im.findings = append(im.findings, f)
	} else {
		im.dropped++
	}
	return f.String()
}

// note reports a finding and puts its comment at p.
func (im *imp) note(p place, line int, keyword string, sev importer.Severity, msg string) {
	im.put(p, comment{line, im.report(line, keyword, sev, msg)})
}

func (im *imp) put(p place, c comment) {
	if len(im.findings) >= maxFindings {
		return
	}
	switch p {
	case atDirector:
		im.dirCmts = append(im.dirCmts, c)
	case atNode:
		im.nodeCmts = append(im.nodeCmts, c)
	default:
		im.top = append(im.top, c)
	}
}

func (im *imp) run(src []byte) {
	for _, ll := range splitLines(src) {
		im.line(ll)
	}
	if im.depth > 0 {
		im.note(atTop, im.blockLine, "shell", importer.Invalid, "a block (if/case/for/while/function) opened here is never closed")
	}
}

func (im *imp) line(ll logicalLine) {
	text := ll.text
	comment, commentLine := im.lastComment, im.lastCommentLine
	im.lastComment = ""
	if len(text) > MaxLine {
		im.note(atTop, ll.no, "", importer.Invalid, fmt.Sprintf("line of %d bytes, longer than %d: skipped", len(text), MaxLine))
		return
	}
	if !utf8.ValidString(text) {
		im.note(atTop, ll.no, "", importer.Invalid, "line is not UTF-8: skipped: "+quoteLine(text))
		return
	}
	if strings.IndexByte(text, 0) >= 0 {
		im.note(atTop, ll.no, "", importer.Invalid, "line holds a NUL byte: skipped")
		return
	}
	t := strings.TrimSpace(text)
	switch {
	case t == "":
		return
	case strings.HasPrefix(t, "#"):
		if ll.no == 1 && strings.HasPrefix(t, "#!") {
			return
		}
		im.lastComment, im.lastCommentLine = strings.TrimSpace(strings.TrimLeft(t, "#")), ll.no
		return
	case strings.HasPrefix(t, "-"): // ipvsadm-save / ipvsadm -S output
		im.ipvsadm(ll.no, strings.Fields(t), "", comment, commentLine == ll.no-1)
		return
	}
	if kw := firstWord(t); shellKeyword(kw) {
		im.shellBlock(ll.no, kw, t)
		return
	}
	cmds, why := parseShell(t, im.vars)
	if why != "" {
		im.note(atTop, ll.no, "shell", importer.NotTranslated, why+": not translated: "+quoteLine(t))
		return
	}
	for _, c := range cmds {
		if c.sep == "||" || c.sep == "&&" {
			im.note(atTop, ll.no, "shell", importer.Changed, "\""+c.sep+"\" list: each command is translated as if it always runs: "+quoteLine(t))
			break
		}
	}
	for _, c := range cmds {
		im.command(ll.no, c, t, comment, commentLine == ll.no-1)
	}
}

func firstWord(t string) string {
	if i := strings.IndexAny(t, " \t;"); i >= 0 {
		return t[:i]
	}
	return t
}

var blockOpen = map[string]bool{"if": true, "case": true, "for": true, "while": true, "until": true, "function": true, "select": true}
var blockClose = map[string]bool{"fi": true, "esac": true, "done": true, "}": true}
var blockMid = map[string]bool{"then": true, "else": true, "elif": true, "do": true, "{": true}

func shellKeyword(w string) bool {
	return blockOpen[w] || blockClose[w] || blockMid[w] || strings.HasSuffix(w, "()") || strings.Contains(w, "()")
}

// shellBlock reports control flow, which is not translated, and keeps
// count of open blocks so that the commands inside are marked.
func (im *imp) shellBlock(no int, kw, t string) {
	switch {
	case blockOpen[kw] || strings.Contains(t, "()"):
		// one-line blocks (if ...; then ...; fi) open and close on the line
		closes := 0
		for _, f := range strings.FieldsFunc(t, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' }) {
			if blockClose[f] {
				closes++
			}
		}
		if closes == 0 && im.depth < 1000 {
			if im.depth == 0 {
				im.blockLine = no
			}
			im.depth++
		}
	case blockClose[kw]:
		if im.depth > 0 {
			im.depth--
		}
	}
	im.note(atTop, no, kw, importer.NotTranslated, "shell control flow is not translated (the commands inside a block are translated as if they always run): "+quoteLine(t))
}

// command translates one simple command.
func (im *imp) command(no int, c command, t, above string, adjacent bool) {
	ws := c.words
	// Leading assignments: variables (or a command's environment).
	n := 0
	for n < len(ws) && ws[n].assign != "" {
		n++
	}
	if n == len(ws) && len(c.redirs) == 0 {
		for _, w := range ws {
			im.assign(w)
		}
		return
	}
	if n == len(ws) {
		im.note(atTop, no, "shell", importer.NotTranslated, "redirection without a command: "+quoteLine(t))
		return
	}
	ws = ws[n:]
	for _, w := range ws {
		if w.unknown != "" {
			im.note(atTop, no, "shell", importer.NotTranslated, "value not known ("+w.unknown+"): not translated: "+quoteLine(t))
			return
		}
	}
	for _, r := range c.redirs {
		if r.target.unknown != "" {
			im.note(atTop, no, "shell", importer.NotTranslated, "value not known ("+r.target.unknown+"): not translated: "+quoteLine(t))
			return
		}
	}
	prog := path.Base(ws[0].text)
	args := texts(ws[1:])
	switch prog {
	case "export", "readonly", "declare", "typeset", "local":
		for _, w := range ws[1:] {
			if w.assign != "" {
				im.assign(w)
			}
		}
		return
	case "ipvsadm":
		if len(c.redirs) > 0 && !onlyQuiet(c.redirs) {
			im.note(atTop, no, "ipvsadm", importer.NotTranslated, "ipvsadm with redirections (ipvsadm -R < file?): not translated: "+quoteLine(t))
			return
		}
		im.ipvsadm(no, args, t, above, adjacent)
		return
	case "echo", "printf":
		im.echo(no, prog, args, c.redirs, t)
		return
	case "sysctl":
		im.sysctl(no, args, t)
		return
	case "iptables", "ip6tables":
		im.iptables(no, prog, args, t)
		return
	case "ifconfig":
		im.ifconfig(no, args, t)
		return
	case "ip":
		im.ipCmd(no, args, t)
		return
	case "route":
		im.note(atDirector, no, "route", importer.NotTranslated, "routes are not part of the cluster file: keep them in the system's network configuration: "+quoteLine(t))
		return
	case "hostname", "hostnamectl":
		a := args
		if prog == "hostnamectl" && len(a) >= 2 && a[0] == "set-hostname" {
			a = a[1:]
		} else if prog == "hostnamectl" {
			a = nil
		}
		if len(a) == 1 && validName(a[0]) {
			im.node = a[0]
			im.note(atNode, no, prog, importer.Changed, "the node is named after the hostname the script sets; tandem does not set hostnames")
			return
		}
	case "modprobe", "insmod":
		im.note(atTop, no, prog, importer.Changed, "not needed: tandem loads the IPVS modules itself: "+quoteLine(t))
		return
	}
	im.note(atTop, no, clip(prog), importer.NotTranslated, "command not translated: "+quoteLine(t))
}

func onlyQuiet(rs []redir) bool {
	for _, r := range rs {
		if !(r.op == ">" || r.op == ">>" || r.op == ">&") || !(r.target.text == "/dev/null" || r.target.text == "1" || r.target.text == "2") {
			return false
		}
	}
	return true
}

func texts(ws []word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out
}

func (im *imp) assign(w word) {
	if len(im.vars) >= 10000 {
		return
	}
	v := variable{value: w.text[len(w.assign)+1:], unknown: w.unknown}
	if len(v.value) > maxVar {
		v = variable{unknown: "value too long"}
	}
	im.vars[w.assign] = v
}

// sysctlKey maps a /proc/sys path or a dotted sysctl name to one key form,
// "net/ipv4/ip_forward".
func sysctlKey(k string) string {
	k = strings.TrimPrefix(k, "/proc/sys/")
	if !strings.Contains(k, "/") {
		k = strings.ReplaceAll(k, ".", "/")
	}
	return strings.Trim(k, "/")
}

func (im *imp) echo(no int, prog string, args []string, rs []redir, t string) {
	var target string
	for _, r := range rs {
		if (r.op == ">" || r.op == ">>") && r.fd == "" {
			target = r.target.text
		}
	}
	if target == "" || !strings.HasPrefix(target, "/proc/sys/") {
		im.note(atTop, no, prog, importer.NotTranslated, "output only: not translated: "+quoteLine(t))
		return
	}
	for len(args) > 0 && (args[0] == "-n" || args[0] == "-e") {
		args = args[1:]
	}
	if len(args) != 1 {
		im.note(atDirector, no, prog, importer.NotTranslated, "not translated: "+quoteLine(t))
		return
	}
	im.setting(no, sysctlKey(target), strings.TrimSpace(args[0]), t)
}

func (im *imp) sysctl(no int, args []string, t string) {
	var kvs []string
	for _, a := range args {
		switch {
		case a == "-w" || a == "-q" || a == "-e":
		case strings.HasPrefix(a, "-"):
			im.note(atDirector, no, "sysctl", importer.NotTranslated, "not translated: "+quoteLine(t))
			return
		default:
			kvs = append(kvs, a)
		}
	}
	if len(kvs) == 0 {
		im.note(atDirector, no, "sysctl", importer.NotTranslated, "not translated: "+quoteLine(t))
		return
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			im.note(atDirector, no, "sysctl", importer.NotTranslated, "reads a setting: not translated: "+quoteLine(t))
			continue
		}
		im.setting(no, sysctlKey(strings.TrimSpace(k)), strings.TrimSpace(v), t)
	}
}

// setting translates one kernel setting the script makes.
func (im *imp) setting(no int, key, val, t string) {
	switch {
	case key == "net/ipv4/ip_forward" || key == "net/ipv6/conf/all/forwarding":
		switch val {
		case "1":
			if im.ipForward == "" || im.ipForward == "off" {
				im.ipForward, im.fwdLine = "auto", no
			}
		case "0":
			im.ipForward, im.fwdLine = "off", no
			im.note(atDirector, no, key, importer.Changed, "forwarding turned off: tandem's ip_forward = \"off\" leaves it as the system has it")
		default:
			im.note(atDirector, no, key, importer.Invalid, "value "+strconv.Quote(clip(val))+" is not 0 or 1: not translated")
		}
		return
	case strings.HasPrefix(key, "net/ipv4/conf/") && strings.HasSuffix(key, "/send_redirects"):
		iface := strings.TrimSuffix(strings.TrimPrefix(key, "net/ipv4/conf/"), "/send_redirects")
		switch val {
		case "0":
			if im.redirects == "" {
				im.redirects = "false"
			}
		case "1":
			im.redirects = "true"
			im.note(atDirector, no, key, importer.Changed, "ICMP redirects turned on: send_redirects = true leaves them as the system has them")
		default:
			im.note(atDirector, no, key, importer.Invalid, "value "+strconv.Quote(clip(val))+" is not 0 or 1: not translated")
			return
		}
		if iface != "all" && iface != "default" {
			if validIface(iface) {
				im.addIface(iface)
			} else {
				im.note(atNode, no, key, importer.NotTranslated, "interface "+strconv.Quote(clip(iface))+" is not a valid interface name")
			}
		}
		return
	}
	im.note(atDirector, no, key, importer.NotTranslated, "kernel setting not managed by tandem: keep it in /etc/sysctl.d: "+quoteLine(t))
}

func (im *imp) addIface(s string) {
	for _, i := range im.ifaces {
		if i == s {
			return
		}
	}
	if len(im.ifaces) < 256 {
		im.ifaces = append(im.ifaces, s)
	}
}

func (im *imp) iptables(no int, prog string, args []string, t string) {
	table, chain, src, jump, out := "filter", "", "", "", ""
	op := ""
	other := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() string {
			if i+1 < len(args) {
				i++
				return args[i]
			}
			other = true
			return ""
		}
		switch a {
		case "-t", "--table":
			table = next()
		case "-A", "--append", "-I", "--insert":
			op = "A"
			chain = next()
		case "-F", "--flush", "-X", "--delete-chain", "-Z", "--zero":
			op = "F"
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
		case "-s", "--source", "--src":
			src = next()
		case "-o", "--out-interface":
			out = next()
		case "-j", "--jump":
			jump = next()
		default:
			other = true
		}
	}
	switch {
	case op == "F" && !other:
		im.note(atDirector, no, prog, importer.NotTranslated, "tandem never flushes firewall rules: it keeps its masquerading in its own nftables table: "+quoteLine(t))
	case prog == "iptables" && op == "A" && table == "nat" && chain == "POSTROUTING" && jump == "MASQUERADE" && src != "" && !other:
		p, err := netip.ParsePrefix(src)
		if err != nil {
			if a, err2 := netip.ParseAddr(src); err2 == nil {
				p, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil || !p.Addr().Unmap().Is4() || p.Addr().Zone() != "" {
			im.note(atDirector, no, prog, importer.NotTranslated, "source "+strconv.Quote(clip(src))+" is not an IPv4 prefix: not translated: "+quoteLine(t))
			return
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
		if m := p.Masked(); m != p {
			im.note(atDirector, no, prog, importer.Changed, fmt.Sprintf("source %s has host bits: masquerade takes %s", p, m))
			p = m
		}
		if p.Bits() == 0 {
			im.note(atDirector, no, prog, importer.NotTranslated, "masquerading every source (0.0.0.0/0) is not translated: list the real servers' subnets")
			return
		}
		for _, q := range im.masquerade {
			if q == p {
				return
			}
		}
		if out != "" {
			im.note(atDirector, no, prog, importer.Changed, "-o "+clip(out)+": tandem masquerades the subnet's traffic whatever interface it leaves by")
			if validIface(out) {
				im.addIface(out)
			}
		}
		if len(im.masquerade) < 1024 {
			im.masquerade = append(im.masquerade, p)
		}
	default:
		im.note(atDirector, no, prog, importer.NotTranslated, "firewall rule not translated (tandem manages only its masquerading): "+quoteLine(t))
	}
}

func (im *imp) ifconfig(no int, args []string, t string) {
	if len(args) >= 2 {
		iface := args[0]
		if a, err := netip.ParseAddr(args[1]); err == nil {
			bits := -1
			for i := 2; i+1 < len(args); i++ {
				if args[i] == "netmask" {
					if m, err := netip.ParseAddr(args[i+1]); err == nil {
						bits = maskBits(m)
					}
				}
			}
			im.handVIP(no, a, bits, iface, t)
			return
		}
		if p, err := netip.ParsePrefix(args[1]); err == nil {
			im.handVIP(no, p.Addr(), p.Bits(), iface, t)
			return
		}
	}
	im.note(atNode, no, "ifconfig", importer.NotTranslated, "interface configuration not translated: "+quoteLine(t))
}

func (im *imp) ipCmd(no int, args []string, t string) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	if len(args) >= 3 && strings.HasPrefix("address", args[0]) && (args[1] == "add" || args[1] == "a" || args[1] == "replace") {
		p, err := netip.ParsePrefix(args[2])
		bits := -1
		var a netip.Addr
		if err == nil {
			a, bits = p.Addr(), p.Bits()
		} else if a, err = netip.ParseAddr(args[2]); err != nil {
			im.note(atNode, no, "ip", importer.Invalid, "address "+strconv.Quote(clip(args[2]))+" is not an IP address: not translated")
			return
		}
		iface := ""
		for i := 3; i+1 < len(args); i++ {
			if args[i] == "dev" {
				iface = args[i+1]
			}
		}
		im.handVIP(no, a, bits, iface, t)
		return
	}
	kw := "ip"
	if len(args) > 0 {
		kw = "ip " + args[0]
	}
	im.note(atDirector, no, kw, importer.NotTranslated, "not translated (routes, links and rules stay in the system's network configuration): "+quoteLine(t))
}

func maskBits(m netip.Addr) int {
	if !m.Is4() {
		return -1
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return n
}

// handVIP records an address the script adds to an interface by hand.
func (im *imp) handVIP(no int, a netip.Addr, bits int, iface, t string) {
	a = a.Unmap()
	if why := badServiceAddr(a); why != "" {
		im.note(atNode, no, "vip", importer.Invalid, "address "+a.String()+" "+why+": not translated")
		return
	}
	if base, _, _ := strings.Cut(iface, ":"); validIface(base) {
		iface = base
		im.addIface(base)
	} else {
		iface = ""
	}
	v := im.vip(a)
	if v == nil {
		return
	}
	v.byHand, v.line, v.iface = true, no, iface
	if bits >= 0 {
		v.bits = bits
	}
	im.note(atDirector, no, "vip", importer.Changed, "the VIP "+a.String()+" is set by hand: it becomes a static_vips entry, which tandem expects configured outside it; for a director pair, move it into a vrrp instance (template at the end of the file)")
}

func (im *imp) vip(a netip.Addr) *vipInfo {
	for _, v := range im.vips {
		if v.addr == a {
			return v
		}
	}
	if len(im.vips) >= 4096 {
		return nil
	}
	v := &vipInfo{addr: a, bits: -1}
	im.vips = append(im.vips, v)
	return v
}

// badServiceAddr says why tandem refuses a as a VIP or a server.
func badServiceAddr(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "is not valid"
	case a.Zone() != "":
		return "has a zone"
	case a.IsUnspecified():
		return "is unspecified"
	case a.IsLoopback():
		return "is a loopback address"
	case a.IsMulticast():
		return "is multicast"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "is the limited broadcast"
	}
	return ""
}

// validIface is conf's rule for interface names.
func validIface(s string) bool {
	if len(s) < 1 || len(s) > 15 || s == "all" || s == "default" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == '/' || c == ':' || c >= 0x7f || c == '"' || c == '\\' || c == '$' || c == '%' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}

// validName is conf's rule for block names.
func validName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '.')
		if !ok {
			return false
		}
	}
	return true
}

// clean makes s safe for a one-line comment and bounds it.
func clean(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= n {
			b.WriteString("...")
			break
		}
		if r < ' ' || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}

func quoteLine(t string) string {
	return "`" + clean(strings.TrimSpace(t), 160) + "`"
}
