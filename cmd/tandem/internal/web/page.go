package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

//go:embed page.html
var pageHTML string

//go:embed style.css
var styleCSS string

var pageTmpl = template.Must(template.New("web").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(styleCSS) },
}).Parse(pageHTML))

// The page is built as plain values first (newPage) so the template only
// loops: every formatting decision is here, in Go.

// part is one value on the page: a span (or the whole cell) with
// data-field and data-value when Field is set, plain text otherwise.
type part struct {
	Field string // the JSON path in its scope ("" for plain text)
	Value string // the JSON value (see the package doc)
	Text  string // what people read
	Title string
	Class string
}

// cell is a table cell: one value carried by the <td> itself, or Parts.
type cell struct {
	part
	Parts []part
}

// row is a <tr>; the non-empty keys become its scope attributes.
type row struct {
	VRRP, VS, RS, Foreign, Dest string
	Class                       string
	Cells                       []cell
}

type item struct {
	Label string
	Parts []part
}

type vsBlock struct {
	Name  string // data-vs
	Class string
	Head  []part
	Rows  []row
	Total *row // the service's own stats, when the document has them
}

type foreignBlock struct {
	Service string // data-foreign
	Head    []part
	Rows    []row
	Total   *row
}

type refreshLink struct {
	N       int
	Label   string
	Current bool
}

// The real servers' table has rsFixedCols columns, then statsCols when
// the document has counters, then the last error.
const (
	rsFixedCols = 12
	statsCols   = 4
)

type page struct {
	Title       string
	Refresh     int
	Refreshes   []refreshLink
	Node        part
	Summary     []item
	Alerts      []part
	VRRP        []row
	VRRPDropped *part
	Stats       bool // the document carries IPVS counters: show their columns
	RSCols      int
	VS          []vsBlock
	Foreign     []foreignBlock
	Schema      part
}

type errorPage struct {
	Title   string
	Refresh int
	Error   string
}

func newPage(st *status.Status, refresh int) *page {
	now := st.Taken
	if now.IsZero() {
		now = time.Now()
	}
	p := &page{
		Title:   "tandem · " + st.Node,
		Refresh: refresh,
		Node:    str("node", st.Node),
		Schema:  str("schema", st.Schema),
		Stats:   hasStats(st),
	}
	for _, n := range []int{DefaultRefresh, 30, 0} {
		l := refreshLink{N: n, Label: strconv.Itoa(n) + "s", Current: n == refresh}
		if n == 0 {
			l.Label = "off"
		}
		p.Refreshes = append(p.Refreshes, l)
	}
	p.RSCols = rsFixedCols + 1
	if p.Stats {
		p.RSCols += statsCols
	}
	p.summary(st, now)
	for _, in := range st.VRRP {
		p.VRRP = append(p.VRRP, vrrpRow(in, now))
	}
	if len(st.VRRPDropped) > 0 {
		d := dropped("vrrp_dropped", st.VRRPDropped)
		p.VRRPDropped = &d
	}
	for _, vs := range st.VirtualServers {
		p.VS = append(p.VS, p.vsBlock(st, vs, now))
	}
	for _, f := range st.Foreign {
		p.Foreign = append(p.Foreign, p.foreignBlock(f))
	}
	return p
}

func (p *page) summary(st *status.Status, now time.Time) {
	ip := st.IPVS
	managed := part{Field: "ipvs.managed", Value: jv(ip.Managed), Text: "managed"}
	if !ip.Managed {
		managed.Text, managed.Class = "not managed (--no-ipvs)", "warn"
	}
	hash := str("config_hash", status.Short(st.ConfigHash))
	hash.Value, hash.Title = st.ConfigHash, st.ConfigHash
	failed := num("reloads.failed", st.Reloads.Failed)
	if st.Reloads.Failed > 0 {
		failed.Class = "warn"
	}
	p.Summary = []item{
		{"version", []part{str("version", st.Version)}},
		{"file", []part{str("file", st.File)}},
		{"config", []part{hash}},
		{"loaded", []part{clock("loaded", &st.Loaded, now)}},
		{"up", []part{ago("started", &st.Started, now, "")}},
		{"reloads", []part{num("reloads.ok", st.Reloads.OK), txt(" ok, "), failed, txt(" failed"),
			ago("reloads.last", st.Reloads.Last, now, ", last ")}},
		{"ipvs", []part{managed, txt(", "), num("ipvs.reconciles", ip.Reconciles), txt(" reconciles, "),
			num("ipvs.reconcile_writes", ip.ReconcileWrites), txt(" writes, "),
			errCount("ipvs.reconcile_errors", ip.ReconcileErrors), txt(" errors"),
			ago("ipvs.last_reconcile", ip.LastReconcile, now, ", last "),
			latency("ipvs.last_reconcile_seconds", ip.LastReconcileSeconds, ip.LastReconcile != nil, " in ")}},
		{"taken", []part{clock("taken", &st.Taken, time.Time{})}},
	}
	if e := st.Reloads.LastError; e != "" {
		p.Alerts = append(p.Alerts, part{Field: "reloads.last_error", Value: e, Text: "last reload failed: " + e, Class: "bad"})
	}
	if e := ip.KernelError; e != "" {
		p.Alerts = append(p.Alerts, part{Field: "ipvs.kernel_error", Value: e, Text: "cannot read the kernel's IPVS table: " + e, Class: "bad"})
	}
}

func vrrpRow(in status.Instance, now time.Time) row {
	name := cell{Parts: []part{titled(str("name", in.Name))}}
	if in.Group != "" {
		g := str("group", in.Group)
		g.Text, g.Class, g.Title = "group "+in.Group, "dim", "sync group"
		name.Parts = append(name.Parts, txt(" "), g)
	}
	state := str("state", in.State)
	state.Class = "st st-" + stateClass(in.State)

	prio := []part{num("priority", in.Priority), txt("/"), num("configured_priority", in.ConfiguredPriority)}
	prioCell := cell{Parts: prio, part: part{Class: "n", Title: "effective / configured priority"}}
	if in.Priority != in.ConfiguredPriority {
		prioCell.Class += " warn"
	} else {
		prio[1].Class, prio[2].Class = "dim", "dim"
	}

	master := cell{Parts: []part{str("master", in.Master)}}
	switch in.Master {
	case "":
		master.Parts[0].Text = "-"
	case "self":
	default:
		mp := num("master_priority", in.MasterPriority)
		mp.Class = "dim"
		master.Parts = append(master.Parts, txt(" ("), mp, txt(")"))
	}

	trans := num("transitions", in.Transitions)
	trans.Title = fmt.Sprintf("became master %d, released master %d", in.BecameMaster, in.ReleasedMaster)
	drop := dropped("dropped", in.Dropped)

	vrid := cell{Parts: []part{num("vrid", in.VRID), txt(" "), {Field: "version", Value: jv(in.Version), Text: "v" + strconv.Itoa(in.Version), Class: "dim"}}}
	vrid.Class = "n"

	addrs := part{Field: "addresses", Value: jv(in.Addresses), Text: strings.Join(in.Addresses, " ")}
	addrs.Title = addrs.Text

	var tf cell
	if len(in.Track) > 0 {
		p := part{Field: "track", Value: jv(in.Track), Text: trackText(in.Track), Title: trackTitle(in.Track)}
		for _, tr := range in.Track {
			if !tr.OK {
				p.Class = "warn"
			}
		}
		tf.Parts = append(tf.Parts, p)
	}
	if len(in.Fault) > 0 {
		f := part{Field: "fault", Value: jv(in.Fault), Text: "fault: " + strings.Join(in.Fault, ", "), Class: "bad"}
		f.Title = f.Text
		if len(tf.Parts) > 0 {
			tf.Parts = append(tf.Parts, txt(" "))
		}
		tf.Parts = append(tf.Parts, f)
	}
	tf.Class = "wrap"

	return row{VRRP: in.Name, Class: "st-" + stateClass(in.State), Cells: []cell{
		name,
		{part: state},
		prioCell,
		master,
		{part: ago("since", in.Since, now, "")},
		{part: trans},
		{part: num("adverts_sent", in.AdvertsSent)},
		{part: num("adverts_received", in.AdvertsReceived)},
		{part: drop},
		{part: str("interface", in.Interface)},
		vrid,
		{part: addrs},
		tf,
	}}
}

func (p *page) vsBlock(st *status.Status, vs status.VirtualServer, now time.Time) vsBlock {
	b := vsBlock{Name: vs.Name, Class: "vs-up"}
	name := str("name", vs.Name)
	name.Class = "vsname"
	sched := str("scheduler", vs.Scheduler)
	up := part{Field: "up", Value: jv(vs.Up), Text: "UP", Class: "badge up", Title: "quorum held"}
	if !vs.Up {
		up.Text, up.Class, up.Title, b.Class = "DOWN", "badge down", "quorum lost", "vs-down"
	}
	b.Head = []part{name, txt(" "), str("service", vs.Service), txt(" · "), sched}
	if len(vs.Flags) > 0 {
		b.Head = append(b.Head, txt(" "), part{Field: "flags", Value: jv(vs.Flags), Text: strings.Join(vs.Flags, ",")})
	}
	if vs.PersistenceSeconds > 0 {
		ps := part{Field: "persistence_seconds", Value: jv(vs.PersistenceSeconds), Text: "persistent " + strconv.FormatFloat(vs.PersistenceSeconds, 'f', -1, 64) + "s"}
		b.Head = append(b.Head, txt(" "), ps)
	}
	b.Head = append(b.Head, txt(" · "), str("forward", vs.Forward), txt(" · "), up, txt(" "),
		part{Field: "healthy_weight", Value: jv(vs.HealthyWeight), Text: strconv.FormatUint(vs.HealthyWeight, 10), Title: "healthy weight"},
		txt("/"), part{Field: "quorum", Value: jv(vs.Quorum), Text: strconv.FormatUint(uint64(vs.Quorum), 10), Title: "quorum"})
	if vs.Sorry {
		b.Head = append(b.Head, txt(" "), part{Field: "sorry", Value: jv(vs.Sorry), Text: "SORRY SERVER IN", Class: "badge sorry"})
	}
	if !vs.InKernel && st.IPVS.Managed && st.IPVS.KernelError == "" {
		b.Head = append(b.Head, txt(" "), part{Field: "in_kernel", Value: jv(vs.InKernel), Text: "NOT IN KERNEL", Class: "badge down"})
	}
	for _, rs := range vs.RealServers {
		b.Rows = append(b.Rows, p.rsRow(vs.Name, rs, now))
	}
	if p.Stats && vs.Stats != nil {
		cells := []cell{{part: part{Text: "total", Class: "dim"}}}
		for range rsFixedCols - 1 {
			cells = append(cells, cell{})
		}
		cells = append(cells, statsCells(vs.Stats)...)
		cells = append(cells, cell{})
		b.Total = &row{Class: "total", Cells: cells}
	}
	return b
}

func (p *page) rsRow(vsName string, rs status.RealServer, now time.Time) row {
	key := rs.Name
	if key == "" {
		key = rs.Address
	}
	name := cell{Parts: []part{titled(str("name", rs.Name))}}
	if rs.Name == "" {
		name.Parts[0].Text = "-"
	}
	if rs.Sorry {
		name.Parts = append(name.Parts, txt(" "), part{Field: "sorry", Value: "true", Text: "sorry", Class: "badge sorry"})
	}
	if rs.Removed {
		name.Parts = append(name.Parts, txt(" "), part{Field: "removed", Value: "true", Text: "removed", Class: "badge", Title: "no longer in the file; drained out"})
	}

	w := num("weight", rs.Weight)
	if rs.Weight < 0 {
		w.Text, w.Title = "-", "not in the kernel"
	}
	weight := cell{Parts: []part{w, txt("/"), num("configured_weight", rs.ConfiguredWeight)}}
	weight.Class, weight.Title = "n", "weight in the kernel / configured"
	if rs.Weight != rs.ConfiguredWeight && !rs.Removed {
		weight.Class += " warn"
	} else {
		weight.Parts[1].Class, weight.Parts[2].Class = "dim", "dim"
	}

	health := str("health", rs.Health)
	health.Class = "health"
	if rs.Check != "" && rs.CheckTransitions > 0 {
		health.Title = fmt.Sprintf("%d changes", rs.CheckTransitions)
	}

	since := cell{Parts: []part{ago("since", rs.Since, now, "")}}
	if rs.CheckTransitions > 0 {
		ct := num("check_transitions", rs.CheckTransitions)
		ct.Text, ct.Class, ct.Title = "×"+ct.Text, "dim", "health changes"
		since.Parts = append(since.Parts, txt(" "), ct)
	}

	check := cell{Parts: []part{str("check", rs.Check)}}
	if rs.Check == "" {
		check.Parts[0].Text = "-"
	}
	probe := cell{part: part{Class: "n"}}
	if rs.LastProbe != nil {
		probe.Parts = []part{latency("last_probe_seconds", rs.LastProbeSeconds, true, ""), txt(" "), ago("last_probe", rs.LastProbe, now, "")}
		probe.Parts[2].Class = "dim"
		probe.Parts[2].Text += " ago"
	}

	var override cell
	if o := rs.Override; o != nil {
		m := str("override.mode", o.Mode)
		m.Class = "ovr"
		override.Parts = []part{m, txt(" "), ago("override.since", &o.Since, now, "")}
		override.Parts[2].Class = "dim"
		override.Title = "set by an operator"
	}

	lastErr := str("last_error", rs.LastError)
	lastErr.Class, lastErr.Title = "err", rs.LastError

	cells := []cell{
		name,
		{part: titled(str("address", rs.Address))},
		{part: fwdPart("forward", rs.Forward)},
		weight,
		{part: num("active_conns", rs.ActiveConns)},
		{part: num("inactive_conns", rs.InactiveConns)},
		{part: num("persistent_conns", rs.PersistentConns)},
		{part: health},
		since,
		check,
		probe,
		override,
	}
	if p.Stats {
		cells = append(cells, statsCells(rs.Stats)...)
	}
	cells = append(cells, cell{part: lastErr})
	class := "h-" + healthClass(rs.Health)
	if rs.Removed {
		class += " removed"
	}
	return row{VS: vsName, RS: key, Class: class, Cells: cells}
}

func (p *page) foreignBlock(f status.Foreign) foreignBlock {
	b := foreignBlock{Service: f.Service, Head: []part{str("service", f.Service), txt(" · "), str("scheduler", f.Scheduler)}}
	for _, d := range f.RealServers {
		cells := []cell{
			{part: titled(str("address", d.Address))},
			{part: fwdPart("forward", d.Forward)},
			{part: num("weight", d.Weight)},
			{part: num("active_conns", d.ActiveConns)},
			{part: num("inactive_conns", d.InactiveConns)},
		}
		if p.Stats {
			cells = append(cells, statsCells(d.Stats)...)
		}
		b.Rows = append(b.Rows, row{Foreign: f.Service, Dest: d.Address, Cells: cells})
	}
	if p.Stats && f.Stats != nil {
		b.Total = &row{Class: "total", Cells: append([]cell{{part: part{Text: "total", Class: "dim"}}, {}, {}, {}, {}}, statsCells(f.Stats)...)}
	}
	return b
}

// statsCells are the counter columns: total connections, connections per
// second, bytes per second in and out (totals in the titles).
func statsCells(s *status.Stats) []cell {
	if s == nil {
		return []cell{{}, {}, {}, {}}
	}
	conns := num("stats.conns", s.Conns)
	conns.Title = fmt.Sprintf("%d packets in, %d out", s.InPackets, s.OutPackets)
	cps := num("stats.cps", s.CPS)
	cps.Title = fmt.Sprintf("%d packets/s in, %d out", s.InPPS, s.OutPPS)
	in, out := num("stats.in_bps", s.InBPS), num("stats.out_bps", s.OutBPS)
	in.Text, out.Text = status.Size(s.InBPS), status.Size(s.OutBPS)
	in.Title, out.Title = status.Size(s.InBytes)+" bytes in since added", status.Size(s.OutBytes)+" bytes out since added"
	return []cell{{part: conns}, {part: cps}, {part: in}, {part: out}}
}

func hasStats(st *status.Status) bool {
	for _, vs := range st.VirtualServers {
		if vs.Stats != nil {
			return true
		}
		for _, rs := range vs.RealServers {
			if rs.Stats != nil {
				return true
			}
		}
	}
	for _, f := range st.Foreign {
		if f.Stats != nil {
			return true
		}
	}
	return false
}

// Parts.

func txt(s string) part { return part{Text: s} }

func str(field, s string) part { return part{Field: field, Value: s, Text: s} }

type integer interface {
	~int | ~int32 | ~int64 | ~uint | ~uint32 | ~uint64
}

func num[T integer](field string, n T) part {
	s := fmt.Sprint(n)
	return part{Field: field, Value: s, Text: s, Class: "n"}
}

// titled shows p's whole text on hover, for cells that may be cut.
func titled(p part) part {
	p.Title = p.Text
	return p
}

func errCount(field string, n uint64) part {
	p := num(field, n)
	if n > 0 {
		p.Class += " bad"
	}
	return p
}

// ago is a time as its age at now: prefix + "3m12s"; nothing when t is
// absent (the part keeps its field with an empty value).
func ago(field string, t *time.Time, now time.Time, prefix string) part {
	if t == nil || t.IsZero() {
		return part{Field: field, Value: jv(t), Text: ""}
	}
	return part{Field: field, Value: jv(*t), Text: prefix + status.Age(now, *t), Title: t.UTC().Format(time.RFC3339)}
}

// clock is a time as a UTC date and time, with its age at now unless now
// is zero.
func clock(field string, t *time.Time, now time.Time) part {
	if t.IsZero() {
		return part{Field: field, Value: jv(*t), Text: "-"}
	}
	text := t.UTC().Format("2006-01-02 15:04:05 UTC")
	if !now.IsZero() {
		text += " (" + status.Age(now, *t) + " ago)"
	}
	return part{Field: field, Value: jv(*t), Text: text, Title: t.UTC().Format(time.RFC3339Nano)}
}

func latency(field string, sec float64, show bool, prefix string) part {
	p := part{Field: field, Value: jv(sec), Class: "n"}
	if show {
		p.Text = prefix + status.Seconds(sec)
	}
	return p
}

func dropped(field string, m map[string]uint64) part {
	var total uint64
	reasons := make([]string, 0, len(m))
	for r, n := range m {
		total += n
		reasons = append(reasons, fmt.Sprintf("%s: %d", r, n))
	}
	sort.Strings(reasons)
	p := part{Field: field, Value: jv(m), Text: strconv.FormatUint(total, 10), Title: strings.Join(reasons, ", "), Class: "n"}
	if total > 0 {
		p.Class += " warn"
	}
	return p
}

// fwdPart shows ipvsadm's word for a forwarding method beside tandem's.
func fwdPart(field, f string) part {
	p := str(field, f)
	switch f {
	case "nat":
		p.Title = "Masq"
	case "dr":
		p.Title = "Route"
	case "tun":
		p.Title = "Tunnel"
	}
	return p
}

// jv is v as the status document's JSON writes it: strings bare, the rest
// as encoding/json encodes them, "" for a nil pointer.
func jv(v any) string {
	if rv := reflect.ValueOf(v); !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil() {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) == nil {
			return s
		}
	}
	return string(b)
}

func stateClass(s string) string {
	switch s {
	case "MASTER", "BACKUP", "FAULT", "INIT", "STOP":
		return strings.ToLower(s)
	}
	return "other"
}

func healthClass(h string) string {
	switch h {
	case status.Up, status.Down, status.Draining, status.Maintenance, status.Unknown, status.Unchecked:
		return h
	}
	return "unknown"
}

func trackText(ts []status.Track) string {
	var parts []string
	for _, t := range ts {
		if t.OK {
			continue
		}
		s := t.Name + " failed"
		if t.Weight != 0 {
			s += fmt.Sprintf(" (%+d)", t.Weight)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 && len(ts) > 0 {
		return "all ok"
	}
	return strings.Join(parts, ", ")
}

func trackTitle(ts []status.Track) string {
	var parts []string
	for _, t := range ts {
		s := t.Kind + " " + t.Name + " ok"
		if !t.OK {
			s = t.Kind + " " + t.Name + " failed"
		}
		if t.Weight != 0 {
			s += fmt.Sprintf(" (%+d)", t.Weight)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "\n")
}

// Text.
