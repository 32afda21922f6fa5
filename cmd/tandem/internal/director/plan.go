package director

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// A Plan is what a reload with a new version of the file does, computed
// before anything is applied: `tandem plan` prints it, and a reload
// applies exactly it.
type Plan struct {
	File    string   `json:"file"`
	Changes []Change `json:"changes"`
	// Writes is the number of IPVS writes.
	Writes int `json:"ipvs_writes"`
	// Kept counts what stays as it is.
	Kept Kept `json:"kept"`
	// Foreign lists the kernel's services the file does not own, left
	// alone (offline plans only: a running daemon logs them at start).
	Foreign []string `json:"foreign,omitempty"`

	// What applying the plan needs.
	c        *conf.Cluster
	node     *conf.Node
	want     ipvs.Table
	states   map[ipvs.ServiceKey]ServiceHealth
	checks   checks
	svcs     []ipvs.Service // the services whose desired state changed
	retire   []ipvs.ServiceKey
	vrrpOpts vrrp.Options
}

// A Change is one line of a plan.
type Change struct {
	// Area is "ipvs", "vrrp" (an instance), "sync_group", "track_script",
	// "check" or "director" (the director block's settings).
	Area string `json:"area"`
	// Kind is, for ipvs, the write ("add service", "update destination",
	// "drain destination", "delete destination", ...); for vrrp what
	// happens to the instance ("kept", "changed in place", "added",
	// "removed", "restarted"); for checks "added" or "removed"; for the
	// director and sync settings "set".
	Kind string `json:"kind"`
	What string `json:"what"`
}

// Kept counts what a plan leaves untouched.
type Kept struct {
	Services int `json:"services"`
	Checks   int `json:"checks"`
	VRRP     int `json:"vrrp_instances"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	for _, ch := range p.Changes {
		if ch.Kind != "kept" {
			return false
		}
	}
	return true
}

// Count returns how many changes of area (and kind, unless "") the plan
// has.
func (p *Plan) Count(area, kind string) int {
	n := 0
	for _, ch := range p.Changes {
		if ch.Area == area && (kind == "" || ch.Kind == kind) {
			n++
		}
	}
	return n
}

// Write prints the plan as `tandem plan` and `tandem reload` show it:
// one line a change, then a summary line.
func (p *Plan) Write(w io.Writer) {
	aw, kw := len("director"), len("foreign")
	for _, ch := range p.Changes {
		aw, kw = max(aw, len(ch.Area)), max(kw, len(ch.Kind))
	}
	for _, ch := range p.Changes {
		fmt.Fprintf(w, "  %-*s  %-*s  %s\n", aw, ch.Area, kw, ch.Kind, ch.What)
	}
	for _, k := range p.Foreign {
		fmt.Fprintf(w, "  %-*s  %-*s  %s (not in the file: never touched)\n", aw, "ipvs", kw, "foreign", k)
	}
	fmt.Fprintln(w, p.Summary())
}

// Summary is the plan in one line.
func (p *Plan) Summary() string {
	if p.Empty() {
		return fmt.Sprintf("no changes (kept: %d services, %d checks, %d vrrp instances)", p.Kept.Services, p.Kept.Checks, p.Kept.VRRP)
	}
	var parts []string
	parts = append(parts, fmt.Sprintf("%d ipvs write(s)", p.Writes))
	for _, k := range []string{"changed in place", "added", "removed", "restarted"} {
		if n := p.Count("vrrp", k); n > 0 {
			parts = append(parts, fmt.Sprintf("%d vrrp instance(s) %s", n, k))
		}
	}
	for _, k := range []string{"added", "removed"} {
		if n := p.Count("check", k); n > 0 {
			parts = append(parts, fmt.Sprintf("%d check(s) %s", n, k))
		}
	}
	if n := p.Count("sync_group", "") + p.Count("track_script", ""); n > 0 {
		parts = append(parts, fmt.Sprintf("%d sync group / track script change(s)", n))
	}
	if n := p.Count("director", ""); n > 0 {
		parts = append(parts, fmt.Sprintf("%d director setting(s)", n))
	}
	if p.Count("metrics", "") > 0 {
		parts = append(parts, "the metrics listener")
	}
	if n := p.Count("bgp", ""); n > 0 {
		parts = append(parts, fmt.Sprintf("%d bgp change(s)", n))
	}
	return fmt.Sprintf("%s (kept: %d services, %d checks, %d vrrp instances)", strings.Join(parts, ", "),
		p.Kept.Services, p.Kept.Checks, p.Kept.VRRP)
}

// plan computes what switching to c for node does, from the director's
// running state; it changes nothing (it runs on the loop, reading).
func (d *Director) plan(c *conf.Cluster, node *conf.Node, file string) *Plan {
	h := d.health
	p := &Plan{File: file, c: c, node: node, checks: newChecks(c)}
	p.want, p.states = desiredTable(c, healthView{Up: h.up, Prev: d.want, IDs: p.checks.ids, Overrides: d.overrides})
	p.ipvsChanges(d.want, c, false)

	// Checks, by ID: a check whose settings did not change keeps its
	// state and schedule.
	p.checkChanges(h.users, p.checks.users)

	// VRRP, by instance name.
	var old vrrp.Options
	if d.vrrp != nil {
		old = d.vrrp.opts
	}
	p.vrrpOpts = vrrpOptions(c, node)
	p.vrrpChanges(old, p.vrrpOpts)

	if !d.cfg.NoIPVS {
		p.directorChanges(d.settings, directorSettings(c, node), "")
		p.syncChanges(d.c, c)
	}
	p.metricsChanges(d.c, d.node, c, node)
	p.bgpChanges(d.c, c)
	return p
}

// bgpChanges lists what a reload changes in the bgp block: the speaker
// started or stopped, addresses added (announced once ready) or
// withdrawn, peers added, removed or changed (their sessions restart).
func (p *Plan) bgpChanges(old, c *conf.Cluster) {
	var og, ng *conf.BGP
	if old != nil {
		og = old.BGP
	}
	ng = c.BGP
	add := func(kind, what string) { p.Changes = append(p.Changes, Change{Area: "bgp", Kind: kind, What: what}) }
	switch {
	case og == nil && ng == nil:
		return
	case og == nil:
		add("added", fmt.Sprintf("speaker AS %d, %d addresses, %d peers", ng.LocalAS, len(ng.Addresses), len(ng.Peers)))
		return
	case ng == nil:
		add("removed", fmt.Sprintf("speaker AS %d: routes withdrawn, addresses removed from %s", og.LocalAS, og.Interface))
		return
	}
	for _, a := range ng.Addresses {
		if !slices.Contains(og.Addresses, a) {
			add("added", "address "+a.String())
		}
	}
	for _, a := range og.Addresses {
		if !slices.Contains(ng.Addresses, a) {
			add("removed", "address "+a.String()+" (withdrawn)")
		}
	}
	peer := func(g *conf.BGP, a netip.Addr) *conf.BGPPeer {
		for i := range g.Peers {
			if g.Peers[i].Address == a {
				return &g.Peers[i]
			}
		}
		return nil
	}
	for i := range ng.Peers {
		np := &ng.Peers[i]
		switch op := peer(og, np.Address); {
		case op == nil:
			add("added", fmt.Sprintf("peer %s AS %d", np.Address, np.AS))
		case *op != *np || og.HoldTimeOf(op) != ng.HoldTimeOf(np) || og.GracefulRestart != ng.GracefulRestart || og.RestartTime != ng.RestartTime:
			add("changed", fmt.Sprintf("peer %s AS %d (session restarts)", np.Address, np.AS))
		}
	}
	for i := range og.Peers {
		if peer(ng, og.Peers[i].Address) == nil {
			add("removed", fmt.Sprintf("peer %s AS %d", og.Peers[i].Address, og.Peers[i].AS))
		}
	}
	if og.LocalAS != ng.LocalAS || og.Interface != ng.Interface || !slices.Equal(og.Communities, ng.Communities) ||
		(og.MED == nil) != (ng.MED == nil) || (og.MED != nil && *og.MED != *ng.MED) {
		add("changed", "speaker settings (local_as, interface, communities, med)")
	}
}

// metricsChanges lists a move of the metrics listener.
func (p *Plan) metricsChanges(old *conf.Cluster, oldNode *conf.Node, c *conf.Cluster, node *conf.Node) {
	was, on := old.MetricsListen(oldNode)
	now, ok := c.MetricsListen(node)
	switch {
	case on && ok && was != now:
		p.Changes = append(p.Changes, Change{Area: "metrics", Kind: "changed", What: "listen " + was.String() + " -> " + now.String()})
	case on && !ok:
		p.Changes = append(p.Changes, Change{Area: "metrics", Kind: "removed", What: "listen " + was.String()})
	case !on && ok:
		p.Changes = append(p.Changes, Change{Area: "metrics", Kind: "added", What: "listen " + now.String()})
	}
}

// ipvsChanges diffs the desired tables: the services whose desired state
// changed are written whole through the update path (no dump), the
// services the file dropped are retired.
//
// With normalize, old is the kernel's table (an offline plan), compared in
// the canonical form Diff compares; otherwise it is the running desired
// table, made by the same function as the new one, and compared as it is.
func (p *Plan) ipvsChanges(old ipvs.Table, c *conf.Cluster, normalize bool) {
	nold, nwant := old, p.want
	if normalize {
		nold, nwant = ipvs.Normalize(old), ipvs.Normalize(p.want)
	}
	sub := ipvs.Table{}
	for _, s := range p.want {
		k := s.Key.Canonical()
		o, ok := nold[k]
		if ok && sameService(o, nwant[k]) {
			p.Kept.Services++
			continue
		}
		p.svcs = append(p.svcs, s)
		if ok {
			sub[k] = o
		}
	}
	for k, s := range nold {
		if _, ok := nwant[k]; !ok {
			p.retire = append(p.retire, k)
			sub[k] = s
		}
	}
	slices.SortFunc(p.svcs, func(a, b ipvs.Service) int { return a.Key.Compare(b.Key) })
	slices.SortFunc(p.retire, ipvs.ServiceKey.Compare)
	// A destination written at weight 0 that the file does not list is a
	// drain; the services are indexed on the first such write.
	var byKey map[ipvs.ServiceKey]func(netip.AddrPort) bool // lister of each service's virtual server
	drain := func(k ipvs.ServiceKey, ap netip.AddrPort) bool {
		if byKey == nil {
			byKey = make(map[ipvs.ServiceKey]func(netip.AddrPort) bool, len(c.VirtualServers))
			for i := range c.VirtualServers {
				byKey[serviceKey(&c.VirtualServers[i])] = lister(&c.VirtualServers[i])
			}
		}
		lists := byKey[k]
		return lists != nil && !lists(ap)
	}
	ops := ipvs.Diff(sub, ipvs.NewTable(p.svcs...), p.retire)
	p.Writes = len(ops)
	for _, op := range ops {
		ch := Change{Area: "ipvs", Kind: op.Kind.String(), What: strings.TrimPrefix(op.String(), op.Kind.String()+" ")}
		if op.Kind == ipvs.UpdateDest && op.Dest.Weight == 0 && drain(op.Service.Key, op.Dest.AddrPort()) {
			ch.Kind = "drain destination"
			ch.What += "; removed from the file: deleted once its connections end"
		}
		p.Changes = append(p.Changes, ch)
	}
}

// sameService reports whether a and b are the same service with the same
// destinations.
func sameService(a, b ipvs.Service) bool {
	return a.Key == b.Key && a.Scheduler == b.Scheduler && a.Flags == b.Flags && a.Timeout == b.Timeout &&
		a.Netmask == b.Netmask && a.PEName == b.PEName && sameDests(a, b)
}

func (p *Plan) checkChanges(old, new checkUsers) {
	var added, removed []string
	for id := range new.m {
		if old.has(id) {
			p.Kept.Checks++
		} else {
			added = append(added, string(id))
		}
	}
	for id := range old.m {
		if !new.has(id) {
			removed = append(removed, string(id))
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	for _, id := range added {
		p.Changes = append(p.Changes, Change{Area: "check", Kind: "added", What: id})
	}
	for _, id := range removed {
		p.Changes = append(p.Changes, Change{Area: "check", Kind: "removed", What: id})
	}
}

// directorChanges lists the director settings new changes: the sysctls
// that differ on this host (read from procRoot, "" for /proc) and the
// masquerade prefixes.
func (p *Plan) directorChanges(old, new ipvs.DirectorSettings, procRoot string) {
	sys, err := ipvs.PlanSysctls(new, procRoot)
	if err != nil {
		p.Changes = append(p.Changes, Change{Area: "director", Kind: "error", What: err.Error()})
	}
	for _, s := range sys {
		p.Changes = append(p.Changes, Change{Area: "director", Kind: "set", What: s.String()})
	}
	if !slices.Equal(old.Masquerade, new.Masquerade) {
		p.Changes = append(p.Changes, Change{Area: "director", Kind: "set",
			What: fmt.Sprintf("masquerade %s -> %s (nftables table %s)", prefixes(old.Masquerade), prefixes(new.Masquerade), ipvs.NFTTable)})
	}
}

func prefixes(ps []netip.Prefix) string {
	if len(ps) == 0 {
		return "[]"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// syncChanges lists changes of the IPVS timeouts and of conn_sync.
func (p *Plan) syncChanges(old, new *conf.Cluster) {
	var ot, nt ipvs.Timeouts
	var ocs, ncs *conf.ConnSync
	if old != nil {
		ot, ocs = ipvsTimeouts(old.Director.Timeouts), old.Director.ConnSync
	}
	nt, ncs = ipvsTimeouts(new.Director.Timeouts), new.Director.ConnSync
	if ot != nt {
		p.Changes = append(p.Changes, Change{Area: "director", Kind: "set", What: fmt.Sprintf("timeouts %s -> %s", ot, nt)})
	}
	if (ocs == nil) != (ncs == nil) || (ocs != nil && *ocs != *ncs) {
		desc := func(cs *conf.ConnSync) string {
			if cs == nil {
				return "off"
			}
			return fmt.Sprintf("on %s syncid %d following vrrp %q", cs.Interface, cs.SyncID, cs.VRRP)
		}
		p.Changes = append(p.Changes, Change{Area: "director", Kind: "set", What: "conn_sync " + desc(ocs) + " -> " + desc(ncs)})
	}
}

// OfflinePlan is what `tandem run` with c for node would do at start on a
// host whose kernel holds the table kernel (as Reconciler.Dump returns
// it: normalised), with no daemon running: the IPVS writes against that
// table (a real server tandem finds there is adopted, a checked one not
// there enters on its first success), every VRRP instance and check
// started, and the director settings that differ on this host. Services the file does not own are listed as foreign.
func OfflinePlan(c *conf.Cluster, node *conf.Node, file string, kernel ipvs.Table) *Plan {
	p := &Plan{File: file, c: c, node: node}
	p.want, p.states = desiredTable(c, healthView{Prev: kernel})
	owned := ipvs.Table{} // the kernel's services the file owns
	for k := range p.want {
		if s, ok := kernel[k.Canonical()]; ok {
			owned[k.Canonical()] = s
		}
	}
	p.ipvsChanges(owned, c, true)
	for _, k := range ipvs.Foreign(kernel, p.want, nil) {
		p.Foreign = append(p.Foreign, k.String())
	}
	p.checks = newChecks(c)
	p.checkChanges(checkUsers{}, p.checks.users)
	p.vrrpOpts = vrrpOptions(c, node)
	p.vrrpChanges(vrrp.Options{}, p.vrrpOpts)
	p.directorChanges(ipvs.DirectorSettings{}, directorSettings(c, node), "")
	p.syncChanges(nil, c)
	return p
}
