package keepalived

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/tandem-lb/tandem/conf/importer"
)

// finish checks what tandem checks across blocks and fixes or drops what
// it would refuse, each with a finding.
func (t *tr) finish() {
	names := map[string]*vinst{}
	type key struct {
		iface string
		vrid  int64
		v4    bool
	}
	vrids := map[key]string{}
	for _, v := range t.vrrps {
		b := v.b
		vr, _ := b.get("vrid")
		ifc, _ := b.get("interface")
		switch {
		case vr == cty.NilVal:
			t.drop(v, "no virtual_router_id: the instance is not translated")
			continue
		case ifc == cty.NilVal:
			t.drop(v, "no interface: the instance is not translated")
			continue
		case len(v.addrs) == 0:
			t.drop(v, "no virtual_ipaddress: the instance is not translated (tandem needs at least one address)")
			continue
		}
		n, _ := vr.AsBigFloat().Int64()
		k := key{ifc.AsString(), n, v.addrs[0].Addr().Is4()}
		if o, ok := vrids[k]; ok {
			t.drop(v, fmt.Sprintf("virtual_router_id %d on %s is already vrrp %s's: the instance is not translated", n, k.iface, o))
			continue
		}
		vrids[k] = v.name
		names[v.name] = v
		var ps []string
		for _, p := range v.addrs {
			ps = append(ps, p.String())
		}
		b.set("addresses", strs(ps))
		// version: keepalived's default is 2 (3 for IPv6)
		ver := v.version
		if ver == 0 {
			ver = t.version
		}
		if ver == 0 {
			ver = 2
			if !v.addrs[0].Addr().Is4() {
				ver = 3
			}
		}
		if ver == 2 && !v.addrs[0].Addr().Is4() {
			t.r.add(v.file, v.line, "version", importer.Changed, "VRRP version 2 is IPv4 only: version 3 used, as keepalived does")
			ver = 3
		}
		b.set("version", num(int64(ver)))
		if v.advertMS != 0 {
			ms := v.advertMS
			switch {
			case ver == 2 && ms%1000 != 0:
				// As keepalived does, so that an imported director and a
				// keepalived one still hear each other mid-migration.
				ms = max((ms+500)/1000*1000, 1000)
				t.r.add(v.file, v.advLine, "advert_int", importer.Changed, fmt.Sprintf("version 2 adverts are whole seconds: keepalived rounds it to %s, and so does the import (version 3 on both directors carries sub-second adverts)", fmtMS(ms)))
			case ver == 3:
				ms = (ms + 5) / 10 * 10
				if ms > 40950 {
					t.r.add(v.file, v.advLine, "advert_int", importer.Changed, "version 3 adverts are at most 40.95s: 40.95s used")
					ms = 40950
				}
				if ms < 10 {
					ms = 10
				}
			}
			if ms != 1000 {
				b.set("advert_interval", dur(ms))
			}
		}
		if ap, ok := b.get("auth_pass"); ok && ap != cty.NilVal && ver != 2 {
			b.del("auth_pass")
			t.r.add(v.file, v.line, "auth_pass", importer.NotTranslated, "authentication is VRRPv2 only; this instance uses version 3")
			b.note("keepalived: authentication: not translated: VRRPv2 only")
		}
		// garp: global defaults, then the instance's
		g := t.garp
		if v.garp.delay != nil {
			g.delay = v.garp.delay
		}
		if v.garp.repeat != nil {
			g.repeat = v.garp.repeat
		}
		if v.garp.refresh != nil {
			g.refresh = v.garp.refresh
		}
		if v.garp.interval != nil {
			g.interval = v.garp.interval
		}
		if g.delay != nil || g.repeat != nil || g.refresh != nil || g.interval != nil {
			gb := &blk{typ: "garp"}
			if g.repeat != nil {
				gb.set("count", num(*g.repeat))
				gb.set("repeat_count", num(*g.repeat))
			}
			if g.interval != nil {
				gb.set("interval", dur(*g.interval))
			}
			if g.delay != nil {
				gb.set("repeat_after", dur(*g.delay))
			}
			if g.refresh != nil {
				gb.set("refresh", dur(*g.refresh))
			}
			b.add(gb)
		}
		// track_scripts must name translated scripts
		if ts, ok := b.get("track_scripts"); ok && ts != cty.NilVal {
			var keep []string
			for _, x := range ts.AsValueSlice() {
				if t.hasScript(x.AsString()) {
					keep = append(keep, x.AsString())
				} else {
					t.r.add(v.file, v.line, "track_script", importer.Invalid, fmt.Sprintf("no vrrp_script %q: dropped from the instance", x.AsString()))
				}
			}
			if len(keep) == 0 {
				b.del("track_scripts")
			} else {
				b.set("track_scripts", strs(dedupe(keep)))
			}
		}
		if ti, ok := b.get("track_interfaces"); ok && ti != cty.NilVal {
			var xs []string
			for _, x := range ti.AsValueSlice() {
				xs = append(xs, x.AsString())
			}
			if len(xs) == 0 {
				b.del("track_interfaces")
			} else {
				b.set("track_interfaces", strs(dedupe(xs)))
			}
		}
	}
	// sync groups: existing instances, each in one group, at least two
	inGroup := map[string]string{}
	for _, g := range t.groups {
		iv, _ := g.get("instances")
		var keep []string
		line := t.groupLines[g]
		for _, x := range iv.AsValueSlice() {
			n := x.AsString()
			switch {
			case names[n] == nil:
				t.r.add(t.path, line, "vrrp_sync_group", importer.Invalid, fmt.Sprintf("no translated vrrp_instance %q: left out of the group", n))
			case inGroup[n] != "":
				t.r.add(t.path, line, "vrrp_sync_group", importer.Invalid, fmt.Sprintf("%s is already in sync group %s: left out", n, inGroup[n]))
			case contains(keep, n):
			default:
				keep = append(keep, n)
			}
		}
		if len(keep) < 2 {
			t.r.add(t.path, line, "vrrp_sync_group", importer.NotTranslated, "fewer than two instances: a tandem sync_group needs two; the group is left out (as a comment)")
			g.dropped = true
			continue
		}
		for _, n := range keep {
			inGroup[n] = g.labels[0]
		}
		g.set("instances", strs(keep))
	}
	if t.connSync != nil {
		if vv, ok := t.connSync.get("vrrp"); ok && vv != cty.NilVal && names[vv.AsString()] == nil {
			t.r.add(t.path, 0, "lvs_sync_daemon", importer.Invalid, fmt.Sprintf("no translated vrrp_instance %q for the sync daemon", vv.AsString()))
			t.connSync.del("vrrp")
		}
		if _, ok := t.connSync.get("vrrp"); !ok && len(names) != 1 {
			t.r.add(t.path, 0, "lvs_sync_daemon", importer.NotTranslated, "conn_sync needs the instance that decides the role: left out")
			t.connSync = nil
		}
	}
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func (t *tr) hasScript(n string) bool {
	for _, s := range t.scripts {
		if s.labels[0] == n {
			return true
		}
	}
	return false
}

func (t *tr) drop(v *vinst, why string) {
	v.dropped = true
	t.r.add(v.file, v.line, "vrrp_instance", importer.Invalid, why)
	for k, o := range t.vipOwner {
		if o == v.name {
			delete(t.vipOwner, k)
		}
	}
}

func (t *tr) vrrp(name string) *vinst {
	for _, v := range t.vrrps {
		if v.name == name && !v.dropped {
			return v
		}
	}
	return nil
}

// assemble writes the cluster file: the first file gives the structure,
// each file its node (name, priorities, unicast addresses).
func assemble(trs []*tr) []byte {
	p := trs[0]
	root := &blk{}
	root.note(fmt.Sprintf("Imported from keepalived: %s", strings.Join(bases(trs), ", ")))
	for _, n := range p.globalNotes {
		root.note(n)
	}
	for _, n := range p.topNotes {
		root.note(n)
	}
	// VIPs of virtual servers that no instance covers
	var static []string
	for _, vs := range p.vss {
		a := vs.addr
		if a.fwmark != 0 {
			continue
		}
		if _, ok := p.vipOwner[a.addr]; ok || contains(static, a.addr.String()) {
			continue
		}
		static = append(static, a.addr.String())
		p.r.add(vs.file, 0, "virtual_server", importer.Changed, fmt.Sprintf("%s is no address of a vrrp_instance: listed in director.static_vips (configure it on the directors outside tandem, or add it to a vrrp)", a.addr))
	}
	if len(static) > 0 || p.connSync != nil || p.timeouts != nil {
		d := &blk{typ: "director"}
		if len(static) > 0 {
			d.set("static_vips", strs(static))
		}
		if p.connSync != nil {
			d.add(p.connSync)
		}
		if p.timeouts != nil {
			d.add(p.timeouts)
		}
		root.add(d)
	}
	if p.scriptsBlk != nil {
		root.add(p.scriptsBlk)
	}
	// nodes and their base priorities
	base := make([]int, len(trs))
	for i, t := range trs {
		base[i] = 100
		for _, v := range t.vrrps {
			if !v.dropped && v.hasPrio {
				base[i] = v.prio
				break
			}
		}
		n := &blk{typ: "node", labels: []string{t.node}}
		if t.routerID != "" && t.routerID != t.node {
			n.note(fmt.Sprintf("keepalived router_id %s", commentText(clip(t.routerID))))
		}
		n.set("priority", num(int64(base[i])))
		root.add(n)
	}
	if len(trs) == 1 {
		tmpl := &blk{typ: "node", labels: []string{uniqueName("director2", map[string]bool{p.node: true})}}
		tmpl.set("priority", num(int64(max(1, base[0]-50))))
		root.note("The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.")
		for _, l := range commented(tmpl) {
			root.note(l)
		}
		p.r.add(p.path, 0, "", importer.Changed, "one file: the cluster has only this node; pass the peer director's keepalived.conf too to get both nodes with their priorities and unicast peers")
	}
	if len(trs) == 2 {
		diffBlocks(trs)
	}
	for _, s := range p.scripts {
		root.add(s)
	}
	for _, v := range p.vrrps {
		if v.dropped {
			for _, l := range commented(v.b) {
				root.note(l)
			}
			continue
		}
		prios := map[string]int{}
		var peers []string
		for i, t := range trs {
			o := t.vrrp(v.name)
			if o == nil {
				if i > 0 {
					p.r.add(t.path, 0, "vrrp_instance", importer.Invalid, fmt.Sprintf("no vrrp_instance %s in this file: node %s keeps its priority %d for it", v.name, t.node, base[i]))
				}
				continue
			}
			if o.hasPrio && o.prio != base[i] {
				prios[t.node] = o.prio
			} else if !o.hasPrio && base[i] != 100 {
				prios[t.node] = 100
			}
			for _, a := range append([]string{o.src}, o.peers...) {
				if a == "" || contains(peers, a) {
					continue
				}
				ip := netip.MustParseAddr(a)
				if ip.Is4() != v.addrs[0].Addr().Is4() || !ip.IsValid() {
					t.r.add(o.file, o.line, "unicast_peer", importer.Invalid, fmt.Sprintf("%s is not of the instance's address family: left out", a))
					continue
				}
				peers = append(peers, a)
			}
		}
		if len(peers) > 0 {
			v.b.set("unicast_peers", strs(peers))
		}
		if len(prios) > 0 {
			for _, it := range v.b.items {
				if it.name == "priorities" {
					it.raw = mapTokens(prios)
				}
			}
		}
		root.add(v.b)
	}
	for _, g := range p.groups {
		if g.dropped {
			for _, l := range commented(g) {
				root.note(l)
			}
			continue
		}
		root.add(g)
	}
	for _, vs := range p.vss {
		root.add(vs.b)
	}
	f := hclwrite.NewEmptyFile()
	root.renderTop(f.Body())
	return hclwrite.Format(f.Bytes())
}

// renderTop renders the top level with a blank line between blocks.
func (b *blk) renderTop(body *hclwrite.Body) {
	for i, it := range b.items {
		if it.block != nil && i > 0 {
			body.AppendNewline()
		}
		(&blk{items: []*item{it}}).render(body)
	}
}

func bases(trs []*tr) []string {
	var out []string
	for _, t := range trs {
		out = append(out, commentText(filepath.Base(t.path)))
	}
	sort.Strings(out[:0])
	return out
}

// diffBlocks reports the blocks the second node's file has otherwise
// than the first's (the first's are kept), or has alone.
func diffBlocks(trs []*tr) {
	type named struct {
		kind, name string
		b          *blk
		file       string
		line       int
	}
	list := func(t *tr) []named {
		var out []named
		for _, s := range t.scripts {
			out = append(out, named{"vrrp_script", s.labels[0], s, t.path, 0})
		}
		for _, v := range t.vrrps {
			if !v.dropped {
				out = append(out, named{"vrrp_instance", v.name, v.b, v.file, v.line})
			}
		}
		for _, g := range t.groups {
			out = append(out, named{"vrrp_sync_group", g.labels[0], g, t.path, t.groupLines[g]})
		}
		for _, vs := range t.vss {
			out = append(out, named{"virtual_server", vs.b.labels[0], vs.b, vs.file, 0})
		}
		return out
	}
	first := map[string]string{}
	for _, n := range list(trs[0]) {
		first[n.kind+" "+n.name] = blockText(n.b)
	}
	for _, n := range list(trs[1]) {
		k := n.kind + " " + n.name
		want, ok := first[k]
		switch {
		case !ok:
			trs[0].r.add(n.file, n.line, n.kind, importer.NotTranslated, fmt.Sprintf("%s is only in node %s's file: not in the cluster file (add it to the first file)", n.name, trs[1].node))
		case want != blockText(n.b):
			trs[0].r.add(n.file, n.line, n.kind, importer.Changed, fmt.Sprintf("%s differs in node %s's file beyond priority and unicast peers: the cluster file has node %s's version", n.name, trs[1].node, trs[0].node))
		}
	}
}

func blockText(b *blk) string {
	var out []string
	for _, l := range commented(b) {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
