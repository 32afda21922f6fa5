package keepalived

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tandem-lb/tandem/conf/importer"
)

// Import reads one keepalived.conf, or a pair's two files (one per
// director), and returns one cluster file. The error is only for input
// that cannot be read at all (a named file missing); everything else is
// a finding, and the import goes on.
func Import(paths []string) (*importer.Result, error) {
	if len(paths) == 0 || len(paths) > 2 {
		return nil, errors.New("keepalived: import one keepalived.conf, or a pair's two files")
	}
	var trs []*tr
	for _, p := range paths {
		t, err := load(p, "")
		if err != nil {
			return nil, err
		}
		trs = append(trs, t)
	}
	// One file with conditional lines for exactly two config ids is a
	// pair's shared file (keepalived -i ID on each director): one node per
	// id.
	if len(trs) == 1 && len(trs[0].condIDs) == 2 && !trs[0].condMatched {
		ids := trs[0].condIDs
		trs = trs[:0]
		for _, id := range ids {
			t, err := load(paths[0], id)
			if err != nil {
				return nil, err
			}
			trs = append(trs, t)
		}
		trs[0].r.add(paths[0], 0, "@", importer.Changed, fmt.Sprintf("conditional lines for config ids %s and %s: one node for each (keepalived -i %s, -i %s)", ids[0], ids[1], ids[0], ids[1]))
	}
	for _, t := range trs {
		t.translate()
		if t.routerID != "" && !t.condNode {
			t.node = nameOf(t.routerID, t.node)
		}
	}
	if len(trs) == 2 && trs[0].node == trs[1].node {
		trs[1].node = uniqueName(trs[1].node+"_2", map[string]bool{trs[0].node: true})
		// Both files kept keepalived's sample router_id (LVS_DEVEL, most
		// often): tandem finds its node by hostname, which neither is.
		trs[1].r.add(paths[1], 0, "router_id", importer.Changed, fmt.Sprintf("both directors are %q: this one is node %q; name each node block after its director's hostname (or set hostname in it), or run tandem with --node", trs[0].node, trs[1].node))
	}
	res := &importer.Result{}
	res.HCL = assemble(trs)
	res.Findings = trs[0].r.findings
	if len(trs) == 2 {
		seen := map[string]bool{}
		for _, f := range trs[0].r.findings {
			seen[f.Keyword+"\x00"+string(f.Severity)+"\x00"+f.Message] = true
		}
		for _, f := range trs[1].r.findings {
			if !seen[f.Keyword+"\x00"+string(f.Severity)+"\x00"+f.Message] {
				res.Findings = append(res.Findings, f)
			}
		}
	}
	sortFindings(res.Findings, paths)
	return res, nil
}

// sortFindings puts findings in input order: by file (the named files
// first, includes as they come), then line; whole-file ones last.
func sortFindings(fs []importer.Finding, paths []string) {
	rank := map[string]int{}
	for i, p := range paths {
		rank[p] = i
	}
	for _, f := range fs {
		if _, ok := rank[f.File]; !ok {
			rank[f.File] = len(rank)
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if rank[a.File] != rank[b.File] {
			return rank[a.File] < rank[b.File]
		}
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		return a.Line < b.Line
	})
}

var routerIDLine = regexp.MustCompile(`(?m)^\s*router_id\s+"?([^"\s#!]+)`)

var condLine = regexp.MustCompile(`(?m)^[ \t]*@\^?([^ \t\r\n]+)`)

// load reads one node's file; id, when set, is the keepalived config id
// (-i) that its conditional lines are read for, and names the node.
func load(path, id string) (*tr, error) {
	src, err := readSource(path)
	if err != nil {
		return nil, fmt.Errorf("keepalived: %w", err)
	}
	base := filepath.Base(path)
	stem := strings.TrimSuffix(base, ".conf")
	ids := map[string]bool{base: true, stem: true}
	node := nameOf(stem, "director")
	if m := routerIDLine.FindSubmatch(src); m != nil {
		ids[string(m[1])] = true
		node = nameOf(string(m[1]), node)
	}
	if id != "" {
		ids = map[string]bool{id: true}
		node = nameOf(id, node)
	}
	var cond []string
	matched := false
	for _, m := range condLine.FindAllSubmatch(src, 1000) {
		c := string(m[1])
		matched = matched || ids[c]
		if !contains(cond, c) {
			cond = append(cond, c)
		}
	}
	r := &reporter{}
	l := &lexer{r: r, ids: ids, node: node}
	if err := l.readFile(path, 0); err != nil {
		return nil, fmt.Errorf("keepalived: %w", err)
	}
	p := &parser{r: r, toks: l.toks}
	stmts := p.body(0, nil)
	return &tr{r: r, path: path, node: node, stmts: stmts, comments: l.comments, condIDs: cond, condMatched: matched, condNode: id != ""}, nil
}

var nameOK = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// nameOf turns s into a valid tandem name, or returns def.
func nameOf(s, def string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	n := b.String()
	if n != "" && (n[0] == '.' || n[0] == '-') {
		n = "_" + n
	}
	if len(n) > 64 {
		n = n[:64]
	}
	if !nameOK.MatchString(n) {
		return def
	}
	return n
}

func uniqueName(n string, used map[string]bool) string {
	if !used[n] {
		return n
	}
	for i := 2; ; i++ {
		s := fmt.Sprintf("_%d", i)
		c := n
		if len(c)+len(s) > 64 {
			c = c[:64-len(s)]
		}
		if !used[c+s] {
			return c + s
		}
	}
}

// tr translates one node's file.
type tr struct {
	r        *reporter
	path     string
	node     string
	stmts    []*stmt
	comments map[string]map[int]string

	routerID    string
	version     int
	garp        garp
	connSync    *blk
	timeouts    *blk
	scriptsBlk  *blk // scripts { user, group }, from script_user
	scripts     []*blk
	scriptW     map[string]int
	vrrps       []*vinst
	groups      []*blk
	groupLines  map[*blk]int
	vsGroups    map[string][]vsAddr
	vss         []*vserver
	used        map[string]map[string]bool
	topNotes    []string
	vipOwner    map[netip.Addr]string
	globalNotes []string
	condIDs     []string // config ids of the file's conditional lines
	condMatched bool     // one of them is this node's
	condNode    bool     // named after its config id
}

type garp struct {
	delay, repeat, refresh, interval *int64 // ms, count
}

type vinst struct {
	b         *blk
	name      string
	file      string
	line      int
	prio      int
	hasPrio   bool
	src       string
	peers     []string
	advertMS  int64
	advLine   int
	version   int
	addrs     []netip.Prefix
	garp      garp
	dropped   bool
	preempt   bool
	delayLine int
}

type vsAddr struct {
	addr   netip.Addr
	port   int
	fwmark int64
}

type vserver struct {
	b       *blk
	addr    vsAddr
	weights int64
	quorum  int64
	qline   int
	file    string
}

func (t *tr) name(kind, want string) string {
	if t.used == nil {
		t.used = map[string]map[string]bool{}
	}
	if t.used[kind] == nil {
		t.used[kind] = map[string]bool{}
	}
	n := uniqueName(nameOf(want, kind), t.used[kind])
	t.used[kind][n] = true
	return n
}

// note reports a keyword that is not translated, as a finding and as a
// comment in b.
func (t *tr) skip(b *blk, s *stmt, why string) {
	t.r.add(s.file, s.line, s.kw, importer.NotTranslated, why)
	if b != nil {
		b.note(fmt.Sprintf("keepalived: %s (%s:%d): not translated: %s", s.kw, filepath.Base(s.file), s.line, why))
	}
}

func (t *tr) changed(b *blk, s *stmt, why string) {
	t.r.add(s.file, s.line, s.kw, importer.Changed, why)
	if b != nil {
		b.note(fmt.Sprintf("keepalived: %s (%s:%d): %s", s.kw, filepath.Base(s.file), s.line, why))
	}
}

func (t *tr) invalid(s *stmt, why string) {
	t.r.add(s.file, s.line, s.kw, importer.Invalid, why)
}

func (t *tr) unknown(b *blk, s *stmt, known ...map[string]string) {
	var ks []string
	for _, m := range known {
		for k := range m {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	msg := "unknown keyword"
	if len(t.r.findings) > maxFindings {
		return
	}
	if d := didYouMean(s.kw, ks); d != "" {
		msg += fmt.Sprintf("; did you mean %q?", d)
	}
	t.invalid(s, msg)
	if b != nil {
		b.note(fmt.Sprintf("keepalived: %s (%s:%d): %s", clip(s.kw), filepath.Base(s.file), s.line, msg))
	}
}

// arg returns the single argument of s; a missing one or extra words are
// findings.
func (t *tr) arg(s *stmt) (string, bool) {
	if len(s.args) == 0 {
		t.invalid(s, "missing value")
		return "", false
	}
	if len(s.args) > 1 {
		t.invalid(s, fmt.Sprintf("extra words ignored: %s", clip(strings.Join(s.args[1:], " "))))
	}
	return s.args[0], true
}

func (t *tr) intArg(s *stmt, lo, hi int64) (int64, bool) {
	a, ok := t.arg(s)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		t.invalid(s, fmt.Sprintf("%q is not a whole number", clip(a)))
		return 0, false
	}
	if n < lo || n > hi {
		t.invalid(s, fmt.Sprintf("%d is out of range %d..%d", n, lo, hi))
		return 0, false
	}
	return n, true
}

// secArg reads seconds (a decimal allowed) as milliseconds.
func (t *tr) secArg(s *stmt, loMS, hiMS int64) (int64, bool) {
	a, ok := t.arg(s)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(a, 64)
	if err != nil || f != f {
		t.invalid(s, fmt.Sprintf("%q is not a number of seconds", clip(a)))
		return 0, false
	}
	if f*1000 < float64(loMS) || f*1000 > float64(hiMS) {
		t.invalid(s, fmt.Sprintf("%s s is out of range %s..%s", a, fmtMS(loMS), fmtMS(hiMS)))
		return 0, false
	}
	return int64(f*1000 + 0.5), true
}

func fmtMS(ms int64) string { return dur(ms).AsString() }

// repeatable keywords may appear more than once in a block.
var repeatable = map[string]bool{
	"virtual_ipaddress": true, "virtual_ipaddress_excluded": true, "real_server": true, "url": true,
	"TCP_CHECK": true, "HTTP_GET": true, "SSL_GET": true, "MISC_CHECK": true, "SMTP_CHECK": true, "DNS_CHECK": true,
	"BFD_CHECK": true, "FILE_CHECK": true, "PING_CHECK": true, "UDP_CHECK": true, "track_interface": true,
	"track_script": true, "unicast_peer": true, "hashed": true, "flag-1": true, "flag-2": true, "flag-3": true,
}

// flagKw are keywords without a value.
var flagKw = map[string]bool{
	"nopreempt": true, "preempt": true, "accept": true, "no_accept": true, "ops": true, "inhibit_on_failure": true,
	"hashed": true, "flag-1": true, "flag-2": true, "flag-3": true, "sh-port": true, "sh-fallback": true,
	"mh-port": true, "mh-fallback": true, "alpha": true, "omega": true, "ha_suspend": true, "smtp_alert": true,
	"use_vmac": true, "dont_track_primary": true,
}

// once reports a keyword given again in one block: keepalived keeps the
// last, and so does the import.
func (t *tr) once(seen map[string]int, c *stmt) {
	if flagKw[c.kw] && len(c.args) > 0 {
		t.invalid(c, fmt.Sprintf("takes no value: extra words ignored: %s", clip(strings.Join(c.args, " "))))
	}
	if repeatable[c.kw] {
		return
	}
	if l, ok := seen[c.kw]; ok {
		t.invalid(c, fmt.Sprintf("given again (first at line %d): the last one counts, as in keepalived", l))
	}
	seen[c.kw] = c.line
}

func (t *tr) translate() {
	for _, s := range t.stmts {
		switch s.kw {
		case "global_defs":
			t.globalDefs(s)
		case "vrrp_script":
			t.vrrpScript(s)
		case "vrrp_instance":
			t.vrrpInstance(s)
		case "vrrp_sync_group":
			t.syncGroup(s)
		case "virtual_server_group":
			t.vsGroup(s)
		case "virtual_server":
			t.virtualServer(s)
		default:
			if why, ok := topNot[s.kw]; ok {
				t.skip(nil, s, why)
				t.topNotes = append(t.topNotes, fmt.Sprintf("keepalived: %s (%s:%d): not translated: %s", s.kw, filepath.Base(s.file), s.line, why))
				continue
			}
			t.unknown(nil, s, topKnown, topNot)
			t.topNotes = append(t.topNotes, fmt.Sprintf("keepalived: %s (%s:%d): unknown keyword", clip(s.kw), filepath.Base(s.file), s.line))
		}
	}
	t.finish()
}

var topKnown = map[string]string{"global_defs": "", "vrrp_script": "", "vrrp_instance": "", "vrrp_sync_group": "", "virtual_server_group": "", "virtual_server": ""}

var topNot = map[string]string{
	"static_ipaddress":     "tandem does not manage static addresses: configure them in the system's network settings",
	"static_routes":        "tandem does not manage routes: configure them in the system's network settings",
	"static_rules":         "tandem does not manage policy rules: configure them in the system's network settings",
	"vrrp_track_file":      "tandem has no file tracking; a track_script that reads the file does the same",
	"track_file":           "tandem has no file tracking; a track_script that reads the file does the same",
	"vrrp_track_process":   "tandem has no process tracking; a track_script (pidof) does the same",
	"track_process":        "tandem has no process tracking; a track_script (pidof) does the same",
	"bfd_instance":         "tandem has no BFD",
	"linkbeat_use_polling": "tandem follows links through netlink",
	"net_namespace":        "tandem runs in the namespace it is started in",
	"local_address_group":  "DPVS (FNAT) is not supported",
	"deny_address_group":   "DPVS is not supported",
	"tunnel_group":         "DPVS is not supported",
	"garp_group":           "tandem has no GARP groups; set garp in each vrrp block",
	"ip_sets":              "not supported",
}
