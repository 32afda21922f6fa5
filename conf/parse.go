package conf

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxFileSize is the largest cluster file Load reads (8 MiB). The
// largest real files, 10 000 real servers each with a check, are about a
// megabyte; the limit is there so that no file (a device, a runaway
// generator) can exhaust the director's memory. MaxTokens bounds what a
// file under this size can cost.
const MaxFileSize = 8 << 20

// MaxTokens is the most tokens (words, numbers, strings, punctuation, as
// scan counts them) a file may have. hcl's lexer and parser cost a few
// hundred bytes a token, so this bounds what any file can make tandem
// allocate (about 600 MB and 5 s on the project's machine, measured with
// the worst shape: one list of numbers), while a file of 130 000 real
// servers (1.3 million tokens, 8 MB) still loads.
const MaxTokens = 1_500_000

// MaxNesting is the deepest nesting of brackets, braces, parentheses and
// template sequences a file may have. A cluster file nests four or five
// deep; hcl's parser recurses once per level, so without a bound a file of
// nested brackets would overflow the stack (a crash no recover catches).
const MaxNesting = 64

// Load reads the cluster file at path and returns Parse's result, together
// with the file's source for WriteDiagnostics. Files is never nil.
//
// It reads only a regular file of at most MaxFileSize bytes: a device, a
// FIFO, a socket or a directory is refused without blocking.
func Load(path string) (*Cluster, Files, hcl.Diagnostics) {
	src, err := readFile(path)
	if err != nil {
		return nil, Files{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read cluster file",
			Detail:   err.Error(),
			Subject:  &hcl.Range{Filename: path},
		}}
	}
	c, diags := Parse(src, path)
	return c, Files{path: src}, diags
}

// readFile reads a regular file of at most MaxFileSize bytes. It opens
// without blocking (a FIFO with no writer would block the open) and
// checks the type on the open descriptor.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("%w. Hint: check the path given with -c", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		kind := "not a regular file"
		switch m := fi.Mode(); {
		case m.IsDir():
			kind = "a directory"
		case m&fs.ModeNamedPipe != 0:
			kind = "a FIFO"
		case m&fs.ModeSocket != 0:
			kind = "a socket"
		case m&fs.ModeDevice != 0:
			kind = "a device"
		}
		return nil, fmt.Errorf("%s is not a regular file: it is %s. Hint: give the path of the cluster file itself", path, kind)
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d MiB a cluster file may have. Hint: is this the cluster file?", path, fi.Size(), MaxFileSize>>20)
	}
	var buf bytes.Buffer
	buf.Grow(int(fi.Size()) + bytes.MinRead) // room for the file and the read that sees its end
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, err
	}
	src := buf.Bytes()
	if len(src) > MaxFileSize { // it grew while read
		return nil, fmt.Errorf("%s is larger than the %d MiB a cluster file may have", path, MaxFileSize>>20)
	}
	return src, nil
}

// Parse parses, decodes, defaults and validates one cluster file. filename
// is used only in diagnostics. It has no side effects.
//
// On success it returns the Cluster and no error diagnostics. Otherwise it
// returns a nil Cluster and every error found, sorted by position; each
// error has a Subject range and a Detail with a hint.
//
// No input makes it crash: before any parser sees the source it is
// checked for size, NUL bytes, UTF-8 and nesting depth (MaxNesting), and
// a panic anywhere below is turned into an error.
//
// A file within the fast path's subset of HCL (fast.go: what a cluster
// file is made of) is parsed by it; any other, and every file with a
// syntax error, by hclsyntax. Both give the decoder the same AST, so the
// result does not depend on which one parsed.
func Parse(src []byte, filename string) (c *Cluster, diags hcl.Diagnostics) {
	defer func() {
		if r := recover(); r != nil {
			c = nil
			diags = hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Internal error",
				Detail:   fmt.Sprintf("tandem failed while reading this file (%v). Hint: please report it, with the file.", r),
				Subject:  &hcl.Range{Filename: filename},
			}}
		}
	}()
	if d := screen(src, filename); d != nil {
		return nil, hcl.Diagnostics{d}
	}
	if sourceHook != nil {
		sourceHook(src)
	}
	if c, diags, ok := parseFast(src, filename); ok {
		return withHash(c, src), diags
	}
	c, diags = parseHCL(src, filename, false)
	return withHash(c, src), diags
}

// withHash sets c's Hash from its source.
func withHash(c *Cluster, src []byte) *Cluster {
	if c != nil {
		sum := sha256.Sum256(src)
		c.Hash = hex.EncodeToString(sum[:])
	}
	return c
}

// parseFast is Parse through the fast path, after screen; ok is false
// when the fast path declined the file.
func parseFast(src []byte, filename string) (*Cluster, hcl.Diagnostics, bool) {
	root, lazy := fastParse(src, filename)
	if root == nil {
		return nil, nil, false
	}
	c, diags := decode(root, lazy, false, nil, filename)
	if !lazy.finish() {
		return nil, nil, false
	}
	return c, diags, true
}

// parseHCL is Parse through hclsyntax, after screen; plain is decode's.
func parseHCL(src []byte, filename string, plain bool) (*Cluster, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		sortDiags(diags)
		return nil, capSyntax(diags, filename)
	}
	return decode(f.Body.(*hclsyntax.Body), nil, plain, diags, filename)
}

// decode decodes, defaults and validates a parsed file, whose parser
// reported diags (no errors). lazy, when not nil, parses the top-level
// blocks' bodies as they are opened. plain (tests) turns the decoder's
// shortcuts off (decoder.plain).
func decode(root *hclsyntax.Body, lazy *lazyBodies, plain bool, diags hcl.Diagnostics, filename string) (*Cluster, hcl.Diagnostics) {
	if parseHook != nil {
		parseHook()
	}
	p := newParser()
	p.lazy, p.plain = lazy, plain
	c := p.cluster(root)
	diags = append(diags, p.diags...)
	sortDiags(diags)
	if d := p.droppedDiag(filename); d != nil {
		diags = append(diags, d)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

// maxSyntaxErrors is how many syntax errors Parse returns. A file that is
// not HCL at all (a password file given by mistake) has one on nearly
// every line, and each is printed with its line: the first few are
// enough to fix a real typo, and do not echo the file.
const maxSyntaxErrors = 3

// capSyntax keeps the first maxSyntaxErrors of diags and counts the rest.
func capSyntax(diags hcl.Diagnostics, filename string) hcl.Diagnostics {
	if len(diags) <= maxSyntaxErrors {
		return diags
	}
	return append(diags[:maxSyntaxErrors:maxSyntaxErrors], &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "More syntax errors",
		Detail:   fmt.Sprintf("%d more syntax errors follow, not shown. Hint: is this an HCL cluster file? Fix the first ones and check again.", len(diags)-maxSyntaxErrors),
		Subject:  &hcl.Range{Filename: filename},
	})
}

// parseHook, when set (tests only), runs in Parse after the parser.
var parseHook func()

// sourceHook, when set (tests only), is given each source Parse parses.
var sourceHook func(src []byte)

func sortDiags(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return 1
		case b.Subject == nil:
			return -1
		}
		return cmp.Or(
			cmp.Compare(a.Subject.Filename, b.Subject.Filename),
			cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte),
		)
	})
}

// --- schemas ---

func schema(attrs []string, blocks ...hcl.BlockHeaderSchema) *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: blocks}
	for _, a := range attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a})
	}
	return s
}

func blk(typ string, labels ...string) hcl.BlockHeaderSchema {
	return hcl.BlockHeaderSchema{Type: typ, LabelNames: labels}
}

var (
	rootSchema = schema(nil, blk("director"), blk("node", "name"), blk("vrrp", "name"),
		blk("sync_group", "name"), blk("track_script", "name"), blk("virtual_server", "name"), blk("metrics"), blk("scripts"), blk("bgp"))
	directorSchema = schema([]string{"ip_forward", "send_redirects", "masquerade", "static_vips", "log_level"},
		blk("conn_sync"), blk("timeouts"))
	connSyncSchema = schema([]string{"interface", "sync_id", "vrrp", "group", "port", "ttl"})
	timeoutsSchema = schema([]string{"tcp", "tcp_fin", "udp"})
	nodeSchema     = schema([]string{"hostname", "priority", "interfaces", "router_id"}, blk("metrics"))
	metricsSchema  = schema([]string{"listen"})
	vrrpSchema     = schema([]string{"vrid", "interface", "addresses", "version", "advert_interval",
		"preempt", "preempt_delay", "accept", "unicast_peers", "priorities", "auth_pass",
		"track_interfaces", "track_scripts", "track_virtual_servers", "notify", "pair_handover"}, blk("garp"))
	garpSchema        = schema([]string{"count", "interval", "repeat_count", "repeat_after", "refresh"})
	syncGroupSchema   = schema([]string{"instances", "notify"})
	trackScriptSchema = schema([]string{"command", "interval", "timeout", "weight", "rise", "fall"})
	vsSchema          = schema([]string{"address", "fwmark", "family", "protocol", "scheduler",
		"scheduler_flags", "one_packet", "forward", "on_failure", "quorum", "panic_threshold"},
		blk("persistence"), blk("check", "type"), blk("sorry_server"), blk("real_server", "name"))
	persistenceSchema = schema([]string{"timeout", "netmask"})
	sorrySchema       = schema([]string{"address", "forward"})
	rsSchema          = schema([]string{"address", "weight", "forward", "upper_threshold", "lower_threshold"},
		blk("check", "type"))
	checkSchema = schema([]string{"interval", "timeout", "rise", "fall", "port", "connect_address",
		"source_address", "half_open", "reuse_connection", "keepalive_requests", "path", "host", "status", "digest", "regex", "command"}, blk("tls"))
	tlsSchema = schema([]string{"server_name", "ca_file", "insecure_skip_verify"})
)

// Limits.
const (
	maxU32        = 1<<32 - 1
	maxTimeout    = 2147483 * time.Second // what IPVS holds in jiffies at HZ=1000
	maxInterval   = time.Hour
	maxPreemptDel = 1000 * time.Second
)

// body is a decoded block body.
type body struct {
	block  *hcl.Block
	attrs  []hcl.Attribute         // in no order; see attr
	blocks map[string][]*hcl.Block // nil when it has none
	// typos are the attribute names HCL suggested for unknown ones: their
	// absence is not reported again as missing. nil when there are none.
	typos map[string]bool
}

func (d *decoder) open(b *hcl.Block, body0 hcl.Body, s *hcl.BodySchema) *body {
	if d.lazy != nil {
		body0 = d.lazy.body(body0)
	}
	bd := &body{block: b}
	if sb, ok := body0.(*hclsyntax.Body); ok && !d.plain && bd.quick(sb, s) {
		return bd
	}
	content, diags := body0.Content(s)
	for _, diag := range diags {
		addHint(diag)
	}
	// Content reports unknown attributes in map order: sorted, the ones
	// kept past maxErrors are the same each time.
	sortDiags(diags)
	d.add(diags...)
	bd.attrs = make([]hcl.Attribute, 0, len(content.Attributes))
	for _, a := range content.Attributes {
		bd.attrs = append(bd.attrs, *a)
	}
	for _, blk := range content.Blocks {
		if bd.blocks == nil {
			bd.blocks = map[string][]*hcl.Block{}
		}
		bd.blocks[blk.Type] = append(bd.blocks[blk.Type], blk)
	}
	for _, diag := range diags {
		const marker = `Did you mean "`
		if i := strings.Index(diag.Detail, marker); diag.Summary == "Unsupported argument" && i >= 0 {
			rest := diag.Detail[i+len(marker):]
			if j := strings.IndexByte(rest, '"'); j >= 0 {
				if bd.typos == nil {
					bd.typos = map[string]bool{}
				}
				bd.typos[rest[:j]] = true
			}
		}
	}
	return bd
}

// quick fills bd from sb as sb.Content(s) would when Content has nothing
// to report: every attribute of sb is one s names, every block one s
// names, with as many labels. Otherwise it returns false, and Content
// reports. (Content builds maps and hidden sets for what a block of two
// attributes needs in two slices.)
func (bd *body) quick(sb *hclsyntax.Body, s *hcl.BodySchema) bool {
	for name := range sb.Attributes {
		if !slices.ContainsFunc(s.Attributes, func(a hcl.AttributeSchema) bool { return a.Name == name }) {
			return false
		}
	}
	for _, blk := range sb.Blocks {
		i := slices.IndexFunc(s.Blocks, func(h hcl.BlockHeaderSchema) bool { return h.Type == blk.Type })
		if i < 0 || len(s.Blocks[i].LabelNames) != len(blk.Labels) {
			return false
		}
	}
	bd.attrs = make([]hcl.Attribute, 0, len(sb.Attributes))
	for _, a := range sb.Attributes {
		bd.attrs = append(bd.attrs, hcl.Attribute{Name: a.Name, Expr: a.Expr, Range: a.SrcRange, NameRange: a.NameRange})
	}
	if len(sb.Blocks) > 0 {
		// Each type's blocks, in the file's order, are a run of one slice.
		bd.blocks = make(map[string][]*hcl.Block, len(s.Blocks))
		blocks := make([]hcl.Block, len(sb.Blocks))
		ptrs := make([]*hcl.Block, 0, len(sb.Blocks))
		for _, h := range s.Blocks {
			start := len(ptrs)
			for i, blk := range sb.Blocks {
				if blk.Type == h.Type {
					blocks[i] = hcl.Block{Type: blk.Type, Labels: blk.Labels, Body: blk.Body,
						DefRange: blk.DefRange(), TypeRange: blk.TypeRange, LabelRanges: blk.LabelRanges}
					ptrs = append(ptrs, &blocks[i])
				}
			}
			if len(ptrs) > start {
				bd.blocks[h.Type] = ptrs[start:len(ptrs):len(ptrs)]
			}
		}
	}
	return true
}

// attr returns the attribute name of the body, or nil.
func (bd *body) attr(name string) *hcl.Attribute {
	for i := range bd.attrs {
		if bd.attrs[i].Name == name {
			return &bd.attrs[i]
		}
	}
	return nil
}

// addHint completes HCL's own diagnostics that lack a hint.
func addHint(d *hcl.Diagnostic) {
	if strings.Contains(d.Detail, "Did you mean") || strings.Contains(d.Detail, "Hint:") {
		return
	}
	switch {
	case strings.HasPrefix(d.Summary, "Unsupported"):
		d.Detail += " Hint: check the spelling and the nesting against conf/README.md."
	case strings.HasPrefix(d.Summary, "Extraneous label"), strings.HasPrefix(d.Summary, "Missing name"):
		d.Detail += ` Hint: name blocks with one quoted label, as in node "director1" { }; director and the blocks inside others take none.`
	default:
		d.Detail += " Hint: see conf/README.md."
	}
}

// required returns the attribute or reports it missing.
func (d *decoder) required(bd *body, name, hint string) *hcl.Attribute {
	a := bd.attr(name)
	if a == nil && !bd.typos[name] {
		d.errf(bd.block.DefRange, "Missing required argument", "A %s block needs %s. Hint: %s", bd.block.Type, name, hint)
	}
	return a
}

// single returns the only block of a type, reporting any extra one.
func (d *decoder) single(bd *body, typ string) *hcl.Block {
	bs := bd.blocks[typ]
	for _, extra := range bs[min(1, len(bs)):] {
		d.errf(extra.DefRange, "Duplicate "+typ+" block", "Only one %s block is allowed here; the first is at line %d. Hint: merge them into one.", typ, bs[0].DefRange.Start.Line)
	}
	if len(bs) == 0 {
		return nil
	}
	return bs[0]
}

// unique records key in seen, with the line of rng, or reports a
// duplicate at rng. what names the duplicate in the report (node "a");
// it is called only then, so that a file without duplicates formats
// nothing.
func unique[K comparable](p *parser, seen map[K]int, key K, rng hcl.Range, summary string, what func() string, hint string) bool {
	if line, dup := seen[key]; dup {
		p.errf(rng, summary, "%s is already defined at line %d. Hint: %s", what(), line, hint)
		return false
	}
	seen[key] = rng.Start.Line
	return true
}

// --- the cluster ---

type parser struct {
	decoder
	c Cluster

	nodeNames, hostnames  map[string]int
	scripts               map[string]int
	vrrpNames, groupNames map[string]int
	vsNames, vsKeys       map[string]int
	vrids                 map[string]int
	vipOwner              map[netip.Addr]string
	inGroup               map[string]string
	staticVIPs            map[netip.Addr]bool
	vsRange               map[string]hcl.Range // each virtual_server's DefRange
	hasBGP                bool                 // the file has a bgp block
	removeSet             map[string]hcl.Range // on_failure = "remove" written, by virtual_server
	// vipsKnown is false when an address list failed to decode, so that
	// "VIP not covered" is not reported for a VIP lost to that error.
	vipsKnown bool
	// vsRefs are virtual server names referenced by vrrp blocks, checked
	// once the virtual servers are decoded.
	vsRefs []vsRef
	// cmdAttr is the command attribute of the check last decoded (nil:
	// none), for noteScript.
	cmdAttr *hcl.Attribute
}

type vsRef struct {
	name string
	rng  hcl.Range
}

func newParser() *parser {
	return &parser{
		nodeNames: map[string]int{}, hostnames: map[string]int{},
		scripts: map[string]int{}, vrrpNames: map[string]int{},
		groupNames: map[string]int{}, vsNames: map[string]int{},
		vsKeys: map[string]int{}, vrids: map[string]int{},
		vipOwner: map[netip.Addr]string{}, inGroup: map[string]string{},
		staticVIPs: map[netip.Addr]bool{}, vsRange: map[string]hcl.Range{}, removeSet: map[string]hcl.Range{},
		vipsKnown: true,
	}
}

func (p *parser) cluster(root *hclsyntax.Body) *Cluster {
	bd := p.open(nil, root, rootSchema)
	d := &p.decoder
	// Blocks are decoded in dependency order so that references can be
	// checked, with their positions, while the referring block is decoded.
	if len(bd.blocks["node"]) == 0 {
		start := hcl.Range{Filename: root.SrcRange.Filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		d.errf(start, "No node block", "A cluster file needs a node block for each director. Hint: add node \"director1\" { priority = 150 } and node \"director2\" { }.")
	}
	for _, b := range bd.blocks["node"] {
		p.node(b)
	}
	for _, b := range bd.blocks["track_script"] {
		p.trackScript(b)
	}
	for _, b := range bd.blocks["vrrp"] {
		p.vrrp(b)
	}
	if b := d.single(bd, "scripts"); b != nil {
		p.scriptsBlock(b)
	}
	p.c.Director = Director{IPForward: IPForwardAuto}
	p.hasBGP = len(bd.blocks["bgp"]) > 0
	if b := d.single(bd, "director"); b != nil {
		p.director(b)
	}
	if b := d.single(bd, "bgp"); b != nil {
		p.bgp(b)
	}
	for _, b := range bd.blocks["sync_group"] {
		p.syncGroup(b)
	}
	if n := len(bd.blocks["virtual_server"]); n > 0 {
		p.c.VirtualServers = make([]VirtualServer, 0, n)
	}
	for _, b := range bd.blocks["virtual_server"] {
		p.virtualServer(b)
	}
	if b := d.single(bd, "metrics"); b != nil {
		p.c.Metrics = p.metrics(b)
	}
	p.checkBGPServices()
	for _, r := range p.vsRefs {
		if _, ok := p.vsNames[r.name]; !ok {
			p.errf(r.rng, "Unknown virtual_server", "track_virtual_servers: there is no virtual_server %q. Hint: known virtual servers: %s.", r.name, known(p.vsNames))
		}
	}
	// A copy: &p.c would keep the whole parser (its maps, the syntax
	// tree and the file's source) alive as long as the Cluster.
	c := p.c
	return &c
}

// notePos records where an interface use is written (Cluster.InterfaceUses).
func (p *parser) notePos(use string, rng hcl.Range) {
	if p.c.ifacePos == nil {
		p.c.ifacePos = map[string]string{}
	}
	p.c.ifacePos[use] = fmt.Sprintf("%s:%d:%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}

// checkIface reports an interface missing from a node's interfaces list.
func (p *parser) checkIface(what string, it item) {
	for _, n := range p.c.Nodes {
		if len(n.Interfaces) > 0 && !slices.Contains(n.Interfaces, it.s) {
			p.errf(it.rng, "Unknown interface", "%s: interface %q is not in the interfaces of node %q (%s). Hint: add it to the node's interfaces, or fix the name.", what, it.s, n.Name, strings.Join(n.Interfaces, ", "))
			return
		}
	}
}

func (p *parser) node(b *hcl.Block) {
	name, _ := p.label(b)
	bd := p.open(b, b.Body, nodeSchema)
	d := &p.decoder
	n := Node{Name: name, Hostname: name, Priority: 100}
	hostRange := b.LabelRanges[0]
	if a := bd.attr("hostname"); a != nil {
		var h string
		if setStr(d, &h, a) {
			hostRange = a.Expr.Range()
			if h == "" || strings.ContainsAny(h, " \t/") {
				p.errf(a.Expr.Range(), "Invalid hostname", "hostname %q is not a host name. Hint: write the name `hostname` prints on that director.", h)
			} else {
				n.Hostname = h
			}
		}
	}
	setInt(d, &n.Priority, bd.attr("priority"), 1, 254)
	if a := bd.attr("router_id"); a != nil {
		if ip, ok := d.addrAttr(a); ok {
			if !ip.Is4() || ip.IsUnspecified() {
				p.errf(a.Expr.Range(), "Invalid router_id", "router_id: %s is not a BGP router id, which is an IPv4 address other than 0.0.0.0. Hint: use the director's own IPv4 address.", ip)
			} else {
				n.RouterID = ip
			}
		}
	}
	if a := bd.attr("interfaces"); a != nil {
		items, _ := p.strList(a)
		seen := map[string]int{}
		for _, it := range items {
			if p.ifname("interfaces", it) && unique(p, seen, it.s, it.rng, "Duplicate interface", func() string { return fmt.Sprintf("interface %q", it.s) }, "list each interface once.") {
				n.Interfaces = append(n.Interfaces, it.s)
				p.notePos(fmt.Sprintf("node %q interfaces", name)+" "+it.s, it.rng)
			}
		}
	}
	if mb := p.single(bd, "metrics"); mb != nil {
		if m := p.metrics(mb); m != nil {
			n.MetricsListen = m.Listen
			p.c.pos[fmt.Sprintf("node %q metrics listen", name)] = p.c.pos["metrics listen"]
			delete(p.c.pos, "metrics listen")
		}
	}
	if unique(p, p.nodeNames, name, b.LabelRanges[0], "Duplicate node name", func() string { return fmt.Sprintf("node %q", name) }, "give each node a different name.") {
		unique(p, p.hostnames, strings.ToLower(n.Hostname), hostRange, "Duplicate node hostname", func() string { return fmt.Sprintf("hostname %q (node %q)", n.Hostname, name) }, "each node needs its own hostname; set hostname to tell them apart.")
	}
	p.c.Nodes = append(p.c.Nodes, n)
}

func (p *parser) trackScript(b *hcl.Block) {
	name, _ := p.label(b)
	bd := p.open(b, b.Body, trackScriptSchema)
	d := &p.decoder
	t := TrackScript{Name: name, Interval: 2 * time.Second, Rise: 1, Fall: 1}
	if a := p.required(bd, "command", `add command = ["/path/to/script", "arg"].`); a != nil {
		t.Command, _ = p.argv(a, true)
		p.noteScript(fmt.Sprintf("track_script %q", name), a)
	}
	p.timing(bd, &t.Interval, &t.Timeout)
	setInt(d, &t.Weight, bd.attr("weight"), -254, 254)
	setInt(d, &t.Rise, bd.attr("rise"), 1, 100)
	setInt(d, &t.Fall, bd.attr("fall"), 1, 100)
	unique(p, p.scripts, name, b.LabelRanges[0], "Duplicate track_script name", func() string { return fmt.Sprintf("track_script %q", name) }, "give each track_script a different name.")
	p.c.TrackScripts = append(p.c.TrackScripts, t)
}

// timing decodes interval and timeout; timeout defaults to 1s or the
// interval if shorter, and must not exceed the interval.
func (p *parser) timing(bd *body, interval, timeout *time.Duration) {
	d := &p.decoder
	ia, ta := bd.attr("interval"), bd.attr("timeout")
	setDur(d, interval, ia, 10*time.Millisecond, maxInterval, 0)
	*timeout = min(time.Second, *interval)
	if setDur(d, timeout, ta, time.Millisecond, maxInterval, 0) && *timeout > *interval {
		p.errf(ta.Expr.Range(), "Timeout longer than interval", "timeout %s is longer than interval %s, so probes would overlap. Hint: lower the timeout or raise the interval.", *timeout, *interval)
	}
}

var defaultGARP = GARP{Count: 5, RepeatCount: 5, RepeatAfter: 5 * time.Second}

func (p *parser) vrrp(b *hcl.Block) {
	name, _ := p.label(b)
	bd := p.open(b, b.Body, vrrpSchema)
	d := &p.decoder
	v := VRRPInstance{Name: name, Version: 3, AdvertInterval: time.Second, Preempt: true, GARP: defaultGARP}

	vridOK := setInt(d, &v.VRID, p.required(bd, "vrid", "add vrid = 1..255; it must be unique per interface and family."), 1, 255)
	ifOK := false
	if a := p.required(bd, "interface", `add interface = "eth0", the interface the VRRP adverts use.`); a != nil && setStr(d, &v.Interface, a) {
		it := item{v.Interface, a.Expr.Range()}
		p.notePos(fmt.Sprintf("vrrp %q", name), it.rng)
		if ifOK = p.ifname("interface", it); ifOK {
			p.checkIface("interface", it)
		}
	}
	if a := p.required(bd, "addresses", `add addresses = ["203.0.113.10/24"].`); a != nil {
		p.notePosOf(fmt.Sprintf("vrrp %q addresses", name), a.Expr.Range())
		items, ok := p.strList(a)
		if ok && len(items) == 0 {
			p.errf(a.Expr.Range(), "No addresses", "A vrrp instance needs at least one address. Hint: write addresses = [\"203.0.113.10/24\"].")
		}
		for _, it := range items {
			pfx, good := p.prefix("addresses", it, false)
			if good && pfx.Bits() == 0 {
				p.errf(it.rng, "Unusable address", "addresses: %s has a zero prefix length (the whole address space). Hint: use the length of the interface's subnet, as in 203.0.113.10/24.", pfx)
				good = false
			}
			good = good && p.usable("addresses", it, pfx.Addr(), roleVIP)
			if !good {
				ok = false
				continue
			}
			fam := FamilyOf(pfx.Addr())
			if v.Family == "" {
				v.Family = fam
			} else if fam != v.Family {
				p.errf(it.rng, "Mixed address families", "addresses: %s is %s but the instance's first address is %s. Hint: one vrrp instance carries one family; put %s addresses in their own vrrp block.", pfx, fam, v.Family, fam)
				continue
			}
			if owner, dup := p.vipOwner[pfx.Addr()]; dup {
				p.errf(it.rng, "Duplicate VIP", "addresses: %s is already an address of vrrp %q. Hint: a VIP belongs to one vrrp instance only.", pfx.Addr(), owner)
				continue
			}
			p.vipOwner[pfx.Addr()] = name
			v.Addresses = append(v.Addresses, pfx)
		}
		if !ok {
			p.vipsKnown = false
		}
	} else {
		p.vipsKnown = false
	}
	if a := bd.attr("version"); setInt(d, &v.Version, a, 2, 3) && v.Version == 2 && v.Family == IPv6 {
		p.errf(a.Expr.Range(), "VRRPv2 is IPv4 only", "version 2 cannot carry the IPv6 addresses of this instance. Hint: remove version (the default is 3) or set version = 3.")
	}
	if a := bd.attr("advert_interval"); setDur(d, &v.AdvertInterval, a, 10*time.Millisecond, 255*time.Second, 0) {
		iv := v.AdvertInterval
		switch {
		case v.Version == 3 && (iv%(10*time.Millisecond) != 0 || iv > 40950*time.Millisecond):
			p.errf(a.Expr.Range(), "Invalid advert_interval", "VRRPv3 advertises in centiseconds from 10ms to 40.95s; %s is not one of them. Hint: use a multiple of 10ms up to 40.95s, such as %s.", iv, min(40950*time.Millisecond, iv.Round(10*time.Millisecond)))
		case v.Version == 2 && (iv%time.Second != 0 || iv < time.Second):
			p.errf(a.Expr.Range(), "Invalid advert_interval", "VRRPv2 advertises in whole seconds from 1s to 255s; %s is not one of them. Hint: use whole seconds, or version = 3 for sub-second intervals.", iv)
		}
	}
	setBool(d, &v.Preempt, bd.attr("preempt"))
	if a := bd.attr("preempt_delay"); setDur(d, &v.PreemptDelay, a, 0, maxPreemptDel, 0) && v.PreemptDelay > 0 && !v.Preempt {
		p.errf(a.Expr.Range(), "preempt_delay without preempt", "preempt_delay only delays preemption, which preempt = false turns off. Hint: remove preempt_delay or set preempt = true.")
	}
	setBool(d, &v.Accept, bd.attr("accept"))
	if a := bd.attr("unicast_peers"); a != nil {
		items, _ := p.strList(a)
		for _, it := range items {
			ip, ok := p.addr("unicast_peers", it)
			if !ok {
				continue
			}
			if v.Family != "" && FamilyOf(ip) != v.Family {
				p.errf(it.rng, "Address family mismatch", "unicast_peers: %s is %s but the instance's addresses are %s. Hint: use the peers' %s addresses.", ip, FamilyOf(ip), v.Family, v.Family)
				continue
			}
			v.UnicastPeers = append(v.UnicastPeers, ip)
		}
	}
	if a := bd.attr("priorities"); a != nil {
		v.Priorities = p.priorities(a)
	}
	if a := bd.attr("auth_pass"); setStr(d, &v.AuthPass, a) {
		switch {
		case v.Version == 3:
			p.errf(a.Expr.Range(), "auth_pass needs VRRPv2", "VRRPv3 has no authentication (RFC 5798 removed it). Hint: remove auth_pass, or set version = 2 for IPv4 peers that need it.")
		case v.AuthPass == "" || len(v.AuthPass) > 8:
			p.errf(a.Expr.Range(), "Invalid auth_pass", "auth_pass must have 1 to 8 characters, got %d. Hint: shorten it; VRRPv2 carries only 8 bytes.", len(v.AuthPass))
		}
	}
	if a := bd.attr("track_interfaces"); a != nil {
		items, _ := p.strList(a)
		for _, it := range items {
			if p.ifname("track_interfaces", it) {
				p.checkIface("track_interfaces", it)
				v.TrackInterfaces = append(v.TrackInterfaces, it.s)
			}
		}
	}
	if a := bd.attr("track_virtual_servers"); a != nil {
		v.TrackVirtualServers = p.trackVirtualServers(a)
	}
	if a := bd.attr("track_scripts"); a != nil {
		items, _ := p.strList(a)
		for _, it := range items {
			if _, ok := p.scripts[it.s]; !ok {
				p.errf(it.rng, "Unknown track_script", "track_scripts: there is no track_script %q. Hint: known track_scripts: %s.", it.s, known(p.scripts))
				continue
			}
			v.TrackScripts = append(v.TrackScripts, it.s)
		}
	}
	if g := p.single(bd, "garp"); g != nil {
		gb := p.open(g, g.Body, garpSchema)
		setInt(d, &v.GARP.Count, gb.attr("count"), 0, 10000)
		setDur(d, &v.GARP.Interval, gb.attr("interval"), 0, maxInterval, 0)
		setInt(d, &v.GARP.RepeatCount, gb.attr("repeat_count"), 0, 10000)
		setDur(d, &v.GARP.RepeatAfter, gb.attr("repeat_after"), 0, maxInterval, 0)
		setDur(d, &v.GARP.Refresh, gb.attr("refresh"), 0, maxInterval, 0)
	}
	if a := bd.attr("notify"); a != nil {
		v.Notify, _ = p.argv(a, false)
		p.noteScript(fmt.Sprintf("vrrp %q notify", name), a)
	}
	if a := bd.attr("pair_handover"); setBool(d, &v.PairHandover, a) && v.PairHandover && len(p.c.Nodes) != 2 {
		p.errf(a.Expr.Range(), "pair_handover needs two nodes", "pair_handover works only when the cluster has exactly 2 nodes; it has %d. Hint: remove pair_handover.", len(p.c.Nodes))
	}
	if vridOK && ifOK && v.Family != "" {
		key := fmt.Sprintf("%s/%s/%d", v.Interface, v.Family, v.VRID)
		unique(p, p.vrids, key, bd.attr("vrid").Expr.Range(), "Duplicate vrid", func() string { return fmt.Sprintf("vrid %d on %s for %s", v.VRID, v.Interface, v.Family) }, "use another vrid; routers on one link tell virtual routers apart by vrid.")
	}
	unique(p, p.vrrpNames, name, b.LabelRanges[0], "Duplicate vrrp name", func() string { return fmt.Sprintf("vrrp %q", name) }, "give each vrrp instance a different name.")
	p.c.VRRP = append(p.c.VRRP, v)
}

// priorities decodes a map of node name to priority.
func (p *parser) priorities(a *hcl.Attribute) map[string]uint8 {
	pairs, diags := p.exprMap(a)
	if diags.HasErrors() {
		p.errf(a.Expr.Range(), "Incorrect attribute value type", "priorities must be a map of node name to priority. Hint: write priorities = { director2 = 120 }.")
		return nil
	}
	out := map[string]uint8{}
	seen := map[string]int{}
	for _, kv := range pairs {
		name, ok := p.strExpr("priorities key", kv.Key)
		if !ok || !unique(p, seen, name, kv.Key.Range(), "Duplicate key", func() string { return fmt.Sprintf("priority for node %q", name) }, "give each node one priority.") {
			continue
		}
		if _, known0 := p.nodeNames[name]; !known0 {
			p.errf(kv.Key.Range(), "Unknown node", "priorities: there is no node %q. Hint: known nodes: %s.", name, known(p.nodeNames))
			continue
		}
		if n, ok := p.intExpr("priorities."+name, kv.Value, 1, 254); ok {
			out[name] = uint8(n)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// trackVirtualServers decodes track_virtual_servers = { name = weight };
// the names are checked after the virtual servers are decoded.
func (p *parser) trackVirtualServers(a *hcl.Attribute) map[string]int {
	pairs, diags := p.exprMap(a)
	if diags.HasErrors() {
		p.errf(a.Expr.Range(), "Incorrect attribute value type", "track_virtual_servers must be a map of virtual_server name to a negative weight. Hint: write track_virtual_servers = { web = -60 }.")
		return nil
	}
	out := map[string]int{}
	seen := map[string]int{}
	for _, kv := range pairs {
		name, ok := p.strExpr("track_virtual_servers key", kv.Key)
		if !ok || !unique(p, seen, name, kv.Key.Range(), "Duplicate key", func() string { return fmt.Sprintf("weight for virtual_server %q", name) }, "track each virtual server once.") {
			continue
		}
		p.vsRefs = append(p.vsRefs, vsRef{name, kv.Key.Range()})
		if n, ok := p.intExpr("track_virtual_servers."+name, kv.Value, -254, -1); ok {
			out[name] = int(n)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func known(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, fmt.Sprintf("%q", k))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func (p *parser) director(b *hcl.Block) {
	bd := p.open(b, b.Body, directorSchema)
	d := &p.decoder
	dir := &p.c.Director
	setEnum(d, &dir.IPForward, bd.attr("ip_forward"), IPForwardAuto, IPForwardOn, IPForwardOff)
	setBool(d, &dir.SendRedirects, bd.attr("send_redirects"))
	setEnum(d, &dir.LogLevel, bd.attr("log_level"), LogDebug, LogInfo, LogWarn, LogError)
	if a := bd.attr("masquerade"); a != nil {
		items, _ := p.strList(a)
		for _, it := range items {
			if pfx, ok := p.prefix("masquerade", it, true); ok {
				dir.Masquerade = append(dir.Masquerade, pfx)
			}
		}
	}
	if a := bd.attr("static_vips"); a != nil {
		items, ok := p.strList(a)
		for _, it := range items {
			ip, good := p.addr("static_vips", it)
			good = good && p.usable("static_vips", it, ip, roleVIP)
			if !good {
				ok = false
				continue
			}
			if owner, dup := p.vipOwner[ip]; dup {
				p.errf(it.rng, "Duplicate VIP", "static_vips: %s is already an address of vrrp %q. Hint: a VIP is either moved by VRRP or static, not both.", ip, owner)
				continue
			}
			p.staticVIPs[ip] = true
			dir.StaticVIPs = append(dir.StaticVIPs, ip)
		}
		if !ok {
			p.vipsKnown = false
		}
	}
	if cb := p.single(bd, "conn_sync"); cb != nil {
		cs := &ConnSync{}
		cbd := p.open(cb, cb.Body, connSyncSchema)
		if a := p.required(cbd, "interface", `add interface = "eth1", the link the directors sync connections over.`); a != nil && setStr(d, &cs.Interface, a) {
			it := item{cs.Interface, a.Expr.Range()}
			p.notePos("director conn_sync", it.rng)
			if p.ifname("interface", it) {
				p.checkIface("conn_sync interface", it)
			}
		}
		setInt(d, &cs.SyncID, cbd.attr("sync_id"), 0, 255)
		if a := cbd.attr("group"); a != nil {
			if g, ok := d.addrAttr(a); ok {
				if g.IsMulticast() {
					cs.Group = g
				} else {
					p.errf(a.Expr.Range(), "Invalid multicast group", "conn_sync group: %s is not a multicast address, and the kernel sends sync messages to a group only. Hint: use an IPv4 group in 224.0.0.0/4 (the default is 224.0.0.81) or an IPv6 one in ff00::/8.", g)
				}
			}
		}
		setInt(d, &cs.Port, cbd.attr("port"), 1, 65535)
		setInt(d, &cs.TTL, cbd.attr("ttl"), 1, 255)
		if a := cbd.attr("vrrp"); a != nil {
			if setStr(d, &cs.VRRP, a) {
				if _, ok := p.vrrpNames[cs.VRRP]; !ok {
					p.errf(a.Expr.Range(), "Unknown vrrp instance", "conn_sync: there is no vrrp %q. Hint: known vrrp instances: %s.", cs.VRRP, known(p.vrrpNames))
				}
			}
		} else if len(p.c.VRRP) == 1 {
			cs.VRRP = p.c.VRRP[0].Name
		} else if len(p.c.VRRP) == 0 && p.hasBGP {
			// Every director is active: each runs the master and the
			// backup daemon (ConnSync.VRRP stays empty).
		} else if !cbd.typos["vrrp"] {
			p.errf(cb.DefRange, "Missing required argument", "conn_sync needs vrrp, the instance whose state makes this director the sync master or backup, because the cluster has %d vrrp instances. Hint: add vrrp = %q.", len(p.c.VRRP), firstName(p.c.VRRP))
		}
		dir.ConnSync = cs
	}
	if tb := p.single(bd, "timeouts"); tb != nil {
		tbd := p.open(tb, tb.Body, timeoutsSchema)
		setDur(d, &dir.Timeouts.TCP, tbd.attr("tcp"), 0, maxTimeout, time.Second)
		setDur(d, &dir.Timeouts.TCPFin, tbd.attr("tcp_fin"), 0, maxTimeout, time.Second)
		setDur(d, &dir.Timeouts.UDP, tbd.attr("udp"), 0, maxTimeout, time.Second)
	}
}

// metrics decodes a metrics block (top level, or a node's override).
func (p *parser) metrics(b *hcl.Block) *Metrics {
	bd := p.open(b, b.Body, metricsSchema)
	a := p.required(bd, "listen", `add listen = "127.0.0.1:9115", the address and port of the metrics and status page listener.`)
	var s string
	if a == nil || !setStr(&p.decoder, &s, a) {
		return nil
	}
	p.notePosOf("metrics listen", a.Expr.Range())
	ap, err := parseListen(s)
	if err != nil {
		p.errf(a.Expr.Range(), "Invalid listen address", "metrics listen: %q is not an address:port (%v). Hint: write \"127.0.0.1:9115\", \"[::1]:9115\", or \"0.0.0.0:9115\" for every address.", s, err)
		return nil
	}
	return &Metrics{Listen: ap}
}

// parseListen reads a listener's address:port; ":PORT" is every IPv4
// and IPv6 address ("[::]:PORT").
func parseListen(s string) (netip.AddrPort, error) {
	if strings.HasPrefix(s, ":") {
		s = "[::]" + s
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if ap.Port() == 0 {
		return netip.AddrPort{}, errors.New("port 0")
	}
	if ap.Addr().Zone() != "" {
		return netip.AddrPort{}, errors.New("zones are not supported")
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

func firstName(vs []VRRPInstance) string {
	if len(vs) == 0 {
		return "public"
	}
	return vs[0].Name
}

func (p *parser) syncGroup(b *hcl.Block) {
	name, _ := p.label(b)
	bd := p.open(b, b.Body, syncGroupSchema)
	g := SyncGroup{Name: name}
	if a := p.required(bd, "instances", `add instances = ["public", "gateway"].`); a != nil {
		items, ok := p.strList(a)
		if ok && len(items) < 2 {
			p.errf(a.Expr.Range(), "Too few instances", "A sync_group needs at least 2 vrrp instances, got %d. Hint: list two or more instances, or remove the sync_group.", len(items))
		}
		seen := map[string]int{}
		for _, it := range items {
			if _, ok := p.vrrpNames[it.s]; !ok {
				p.errf(it.rng, "Unknown vrrp instance", "instances: there is no vrrp %q. Hint: known vrrp instances: %s.", it.s, known(p.vrrpNames))
				continue
			}
			if !unique(p, seen, it.s, it.rng, "Duplicate instance", func() string { return fmt.Sprintf("instance %q", it.s) }, "list each instance once.") {
				continue
			}
			if other, dup := p.inGroup[it.s]; dup {
				p.errf(it.rng, "Instance in two sync groups", "instances: vrrp %q is already in sync_group %q. Hint: an instance belongs to at most one sync_group; merge the groups.", it.s, other)
				continue
			}
			p.inGroup[it.s] = name
			g.Instances = append(g.Instances, it.s)
		}
	}
	if a := bd.attr("notify"); a != nil {
		g.Notify, _ = p.argv(a, false)
		p.noteScript(fmt.Sprintf("sync_group %q notify", name), a)
	}
	unique(p, p.groupNames, name, b.LabelRanges[0], "Duplicate sync_group name", func() string { return fmt.Sprintf("sync_group %q", name) }, "give each sync_group a different name.")
	p.c.SyncGroups = append(p.c.SyncGroups, g)
}
