package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"
)

//go:generate go tool stringer -type=ChangeKind -linecomment -output=change_string.go

// A reload is applied instance by instance, in the manner of keepalived's
// reload but without its restart of every instance (its issues #349 and
// #2159: adding one instance handed every master over to the peer).
// Compare says what a new configuration changes; Runner.Reconfigure
// applies it to the running instances. Only what makes another virtual
// router restarts an instance (a VRID, an interface, a version, an address
// family, multicast against unicast, the owner's priority); the rest is
// applied in place, and an unchanged instance is not touched at all: no
// advert out of its schedule, no GARP, the peer sees nothing.

// ChangeKind says what a reload does to an instance, a sync group or a
// track script.
type ChangeKind uint8

// Change kinds.
const (
	// Kept: unchanged, it runs on untouched.
	Kept ChangeKind = iota // kept
	// ChangedInPlace: changed, and changed while it runs: state, timers
	// and socket are kept.
	ChangedInPlace // changed in place
	// Added: new, started.
	Added // added
	// Removed: stopped, as Stop stops it (a master sends priority 0 and
	// releases its addresses).
	Removed // removed
	// Restarted: stopped as Removed, then started anew.
	Restarted // restarted
)

// An InstanceChange is what a new configuration does to one VRRP
// instance.
type InstanceChange struct {
	Name string
	Kind ChangeKind
	// What lists the differences, one per attribute and in a fixed order,
	// in the cluster file's terms: "priority 100 -> 120", "addresses
	// +10.0.0.5/24 -10.0.0.4/24", "advert_interval 1s -> 2s", "auth_pass
	// changed" (a password is never shown). Empty unless ChangedInPlace
	// or Restarted.
	What []string
	// Restart lists, for Restarted, those of What that need the restart,
	// such as "vrid 51 -> 52".
	Restart []string
}

// String is the change in one line, for logs and plans: "public: changed
// in place: priority 100 -> 120", "public: restarted for vrid 51 -> 52;
// also priority 100 -> 120".
func (c InstanceChange) String() string {
	s := c.Name + ": " + c.Kind.String()
	if c.Kind == Restarted && len(c.Restart) > 0 {
		s += " for " + strings.Join(c.Restart, ", ")
		if rest := slices.DeleteFunc(slices.Clone(c.What), func(w string) bool { return slices.Contains(c.Restart, w) }); len(rest) > 0 {
			s += "; also " + strings.Join(rest, ", ")
		}
		return s
	}
	if len(c.What) > 0 {
		s += ": " + strings.Join(c.What, ", ")
	}
	return s
}

// An ItemChange is what a new configuration does to a sync group or a
// track script. A changed sync group is ChangedInPlace (see
// Runner.Reconfigure for what its members do), a changed track script
// Restarted.
type ItemChange struct {
	Type string // "sync_group" or "track_script"
	Name string
	Kind ChangeKind
	What []string // as InstanceChange's: "instances +gateway", "interval 2s -> 5s"
}

// String is the change in one line: "sync_group lb: changed in place:
// instances +gateway".
func (c ItemChange) String() string {
	s := c.Type + " " + c.Name + ": " + c.Kind.String()
	if len(c.What) > 0 {
		s += ": " + strings.Join(c.What, ", ")
	}
	return s
}

// Compare says what replacing the configuration old by new does, without
// a runner (tandem plan prints it; Runner.Reconfigure applies it). Only
// Instances, SyncGroups and TrackScripts are compared; the callbacks and
// edges are ignored. Each is matched by name (the first of a name, should
// one come twice, which Reconfigure refuses) and listed in new's order,
// then those removed in old's order: instances in the first result; sync
// groups, then track scripts in the second.
//
// An instance is Restarted when its VRID, interface, version, primary
// address (when given), address family or mode (multicast or unicast)
// changes, or its priority to or from the owner's 255: each makes another
// virtual router, or changes who it talks to. Any other change is
// ChangedInPlace: priority, addresses, advert_interval, preempt,
// preempt_delay, accept, pair_handover, unicast_peers, auth_pass,
// track_interfaces, track_scripts, garp and notify.
func Compare(old, new Options) ([]InstanceChange, []ItemChange) {
	var out []InstanceChange
	olds := firsts(old.Instances, func(in Instance) string { return in.Name })
	seen := map[string]bool{}
	for k := range new.Instances {
		n := &new.Instances[k]
		if seen[n.Name] {
			continue
		}
		seen[n.Name] = true
		ch := InstanceChange{Name: n.Name, Kind: Added}
		if o := olds[n.Name]; o != nil {
			ch.What, ch.Restart = diffInstance(o, n)
			switch {
			case len(ch.Restart) > 0:
				ch.Kind = Restarted
			case len(ch.What) > 0:
				ch.Kind = ChangedInPlace
			default:
				ch.Kind = Kept
			}
		}
		out = append(out, ch)
	}
	for _, o := range old.Instances {
		if !seen[o.Name] {
			seen[o.Name] = true
			out = append(out, InstanceChange{Name: o.Name, Kind: Removed})
		}
	}
	items := compareItems("sync_group", old.SyncGroups, new.SyncGroups, func(g SyncGroup) string { return g.Name }, diffGroup, ChangedInPlace)
	items = append(items, compareItems("track_script", old.TrackScripts, new.TrackScripts, func(s TrackScript) string { return s.Name }, diffScript, Restarted)...)
	return out, items
}

// firsts maps each name to the first element of that name.
func firsts[T any](xs []T, name func(T) string) map[string]*T {
	m := map[string]*T{}
	for k := range xs {
		if n := name(xs[k]); m[n] == nil {
			m[n] = &xs[k]
		}
	}
	return m
}

func compareItems[T any](typ string, old, new []T, name func(T) string, diff func(o, n *T) []string, changed ChangeKind) []ItemChange {
	var out []ItemChange
	olds := firsts(old, name)
	seen := map[string]bool{}
	for k := range new {
		n := &new[k]
		nm := name(*n)
		if seen[nm] {
			continue
		}
		seen[nm] = true
		ch := ItemChange{Type: typ, Name: nm, Kind: Added}
		if o := olds[nm]; o != nil {
			ch.Kind = Kept
			if ch.What = diff(o, n); len(ch.What) > 0 {
				ch.Kind = changed
			}
		}
		out = append(out, ch)
	}
	for _, o := range old {
		if nm := name(o); !seen[nm] {
			seen[nm] = true
			out = append(out, ItemChange{Type: typ, Name: nm, Kind: Removed})
		}
	}
	return out
}

// differ collects the differences of one instance, group or script.
type differ struct {
	what, restart []string
}

func (d *differ) add(restart bool, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	d.what = append(d.what, s)
	if restart {
		d.restart = append(d.restart, s)
	}
}

// value adds "name old -> new" when they differ.
func value[T comparable](d *differ, name string, o, n T) {
	if o != n {
		d.add(false, "%s %v -> %v", name, o, n)
	}
}

// list adds "name +added -removed" (or "name reordered") when the lists
// differ.
func list[T comparable](d *differ, name string, o, n []T) {
	if slices.Equal(o, n) {
		return
	}
	var parts []string
	for _, x := range n {
		if !slices.Contains(o, x) {
			parts = append(parts, fmt.Sprintf("+%v", x))
		}
	}
	for _, x := range o {
		if !slices.Contains(n, x) {
			parts = append(parts, fmt.Sprintf("-%v", x))
		}
	}
	if len(parts) == 0 {
		parts = []string{"reordered"}
	}
	d.add(false, "%s %s", name, strings.Join(parts, " "))
}

// argv adds "name [old] -> [new]" when the commands differ.
func argv(d *differ, name string, o, n []string) {
	if !slices.Equal(o, n) {
		d.add(false, "%s %q -> %q", name, o, n)
	}
}

// family is "IPv4" or "IPv6": the primary address's when given, else the
// first virtual address's (as NewRunner looks the primary up).
func family(in *Instance) string {
	v6 := len(in.Addresses) > 0 && in.Addresses[0].Addr().Is6()
	if in.Config.Primary.IsValid() {
		v6 = in.Config.Primary.Unmap().Is6()
	}
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// mode is how an instance sends its adverts.
func mode(in *Instance) string {
	if len(in.UnicastPeers) > 0 {
		return fmt.Sprintf("unicast_peers %v", in.UnicastPeers)
	}
	return "multicast"
}

func diffInstance(o, n *Instance) (what, restart []string) {
	var d differ
	oc, nc := &o.Config, &n.Config
	if oc.VRID != nc.VRID {
		d.add(true, "vrid %d -> %d", oc.VRID, nc.VRID)
	}
	if o.Interface != n.Interface {
		d.add(true, "interface %s -> %s", o.Interface, n.Interface)
	}
	if oc.Version != nc.Version {
		d.add(true, "version %d -> %d", oc.Version, nc.Version)
	}
	if oc.Primary != nc.Primary {
		show := func(a netip.Addr) string {
			if !a.IsValid() {
				return "(found on the interface)"
			}
			return a.String()
		}
		d.add(true, "primary %s -> %s", show(oc.Primary), show(nc.Primary))
	}
	if of, nf := family(o), family(n); of != nf {
		d.add(true, "address family %s -> %s", of, nf)
	}
	sameMode := (len(o.UnicastPeers) > 0) == (len(n.UnicastPeers) > 0)
	if !sameMode {
		d.add(true, "%s -> %s", mode(o), mode(n))
	}
	if oc.Priority != nc.Priority {
		owner := ""
		if oc.Priority == Owner || nc.Priority == Owner {
			owner = " (owner)"
		}
		d.add(owner != "", "priority %d -> %d%s", oc.Priority, nc.Priority, owner)
	}
	list(&d, "addresses", o.Addresses, n.Addresses)
	value(&d, "advert_interval", oc.AdvertInterval, nc.AdvertInterval)
	value(&d, "preempt", oc.Preempt, nc.Preempt)
	value(&d, "preempt_delay", oc.PreemptDelay, nc.PreemptDelay)
	value(&d, "accept", oc.Accept, nc.Accept)
	value(&d, "pair_handover", oc.PairHandover, nc.PairHandover)
	if sameMode {
		list(&d, "unicast_peers", o.UnicastPeers, n.UnicastPeers)
	}
	switch {
	case o.AuthPass == n.AuthPass:
	case o.AuthPass == "":
		d.add(false, "auth_pass set")
	case n.AuthPass == "":
		d.add(false, "auth_pass removed")
	default:
		d.add(false, "auth_pass changed")
	}
	list(&d, "track_interfaces", o.TrackInterfaces, n.TrackInterfaces)
	list(&d, "track_scripts", o.TrackScripts, n.TrackScripts)
	value(&d, "garp count", o.GARP.Count, n.GARP.Count)
	value(&d, "garp interval", o.GARP.Interval, n.GARP.Interval)
	value(&d, "garp repeat_count", o.GARP.RepeatCount, n.GARP.RepeatCount)
	value(&d, "garp repeat_after", o.GARP.RepeatAfter, n.GARP.RepeatAfter)
	value(&d, "garp refresh", o.GARP.Refresh, n.GARP.Refresh)
	argv(&d, "notify", o.Notify, n.Notify)
	return d.what, d.restart
}

func diffGroup(o, n *SyncGroup) []string {
	var d differ
	list(&d, "instances", o.Instances, n.Instances)
	argv(&d, "notify", o.Notify, n.Notify)
	return d.what
}

func diffScript(o, n *TrackScript) []string {
	var d differ
	argv(&d, "command", o.Command, n.Command)
	value(&d, "interval", o.Interval, n.Interval)
	value(&d, "timeout", o.Timeout, n.Timeout)
	value(&d, "weight", o.Weight, n.Weight)
	value(&d, "rise", o.Rise, n.Rise)
	value(&d, "fall", o.Fall, n.Fall)
	return d.what
}

// ErrStopped is Reconfigure's error once Stop has begun: nothing was
// changed.
var ErrStopped = errors.New("vrrp: runner stopped")

// configOf is what Reconfigure compares of o: its instances, sync groups
// and track scripts, without callbacks and edges.
func configOf(o Options) Options {
	return Options{
		Instances:    slices.Clone(o.Instances),
		SyncGroups:   slices.Clone(o.SyncGroups),
		TrackScripts: slices.Clone(o.TrackScripts),
	}
}

// Reconfigure applies a new configuration to the running instances, as a
// reload of the cluster file does, and returns what it did to each
// instance (Compare's first result; the sync group and track script
// changes are logged). Only opts' Instances, SyncGroups and TrackScripts
// are used: the runner keeps the callbacks, edges and log it was built
// with, so opts may be built from the new file as NewRunner's were.
//
// It first checks all that can fail, and changes nothing if anything
// does: the configuration as NewRunner checks it (names defined twice, a
// VRID used twice on an interface, an unknown track script, a sync group
// naming an unknown instance, ...), the primary address of each added or
// restarted instance that has none (PrimaryAddr; the others keep theirs),
// a socket for each interface and family new to the runner, and the watch
// of the interfaces new to it. Then, on the runner goroutine, at once:
//
//   - A Kept instance is not touched: state, timers, socket, addresses;
//     no advert out of its schedule, no GARP: the peer sees nothing.
//   - A ChangedInPlace one keeps its state, timers and socket and takes
//     the change (Machine.SetConfig): a new priority applies with the
//     track adjustments on top, and a master stays master unless a peer
//     preempts it; a master adds new addresses, removes dropped ones and
//     announces, a backup remembers them; advert_interval applies from a
//     master's next advert (a VRRPv3 backup learns it from the master's);
//     preempt and preempt_delay from the next advert; unicast_peers,
//     auth_pass, garp and notify from their next use; track_interfaces
//     and track_scripts drop the faults and adjustments of what is no
//     longer tracked and apply the known state of what now is.
//   - A Removed one is stopped as Stop stops each: a master sends
//     priority 0 and releases its addresses; OnTransition and the notify
//     hook see it go to INIT (STOP).
//   - A Restarted one is stopped so, then started anew as an Added one,
//     with the adjustments SetTrack gave it.
//   - An Added one starts as at Start, with its interfaces' state.
//
// Sockets no instance uses any more are closed; interfaces, once
// watched, are watched until Stop.
//
// Track scripts are matched by name. An unchanged one runs on with its
// state. A changed one is restarted and keeps its effect on the instances
// until its first result (at once: a script runs when it starts), so that
// a reload does not move priorities down and up again. A removed one
// stops, and its effect goes.
//
// Sync groups follow the new file. A group with the same name and the
// same members, in the same order, is kept with its state (a restarted
// member rejoins it as a member that starts). Any other is made anew and
// adopts its members as they run (Group.Adopt): when their states agree
// (all Master, all Backup, or one in Fault and the others in Backup) no
// member changes state; when they do not, the group's rules settle it as
// when a member moves: one in Fault holds the others in Backup, else a
// Master makes the Backups Master. A member that leaves every group, or
// is in a group where every member is held, is released from its hold.
//
// Before Start Reconfigure returns an error. It may race with Stop: it
// either applies the whole configuration before the runner stops (Stop
// then stops the new instances) or returns ErrStopped having changed
// nothing; after Stop it returns ErrStopped. It returns once the
// OnTransition callbacks of the transitions it made have returned (for at
// most 2 s), so a caller sees a restarted instance's stop before its own
// conclusion.
func (r *Runner) Reconfigure(opts Options) ([]InstanceChange, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconfigure(opts)
}

// reconfigure is Reconfigure, with r.mu held.
func (r *Runner) reconfigure(opts Options) ([]InstanceChange, error) {
	if r.stop == nil {
		return nil, errors.New("vrrp: runner not started")
	}
	select {
	case <-r.quit:
		return nil, ErrStopped
	default:
	}
	rc, err := prepare(r.given, r.primary, opts, PrimaryAddr, r.log, &r.cnt)
	if err != nil {
		return nil, err
	}
	applied := false
	var unwatch context.CancelFunc
	defer func() {
		if !applied {
			if unwatch != nil {
				unwatch()
			}
			for _, t := range rc.tr {
				t.Close()
			}
		}
	}()
	for _, k := range rc.next.keys {
		if r.keys[k] {
			continue
		}
		t, err := r.opts.Dial(k.ifname, k.v6)
		if err != nil {
			return nil, err
		}
		rc.tr[k] = t
	}
	var names []string
	for _, n := range rc.next.linkNames() {
		if !r.watched[n] {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		wctx, cancel := context.WithCancel(r.rctx)
		unwatch = cancel
		rc.links, err = r.opts.Links.Watch(wctx, names, func(name string, up bool) {
			r.post(func(now time.Time) {
				rc.seen[name] = true
				r.core.link(now, name, up)
			})
		})
		if err != nil {
			return nil, err
		}
	}
	applied = r.do(func(now time.Time) {
		for _, s := range r.core.apply(now, rc) {
			r.startScript(s)
		}
		for k, t := range rc.tr {
			r.wg.Go(func() { r.read(r.rctx, k, t) })
		}
	})
	if !applied {
		return nil, ErrStopped
	}
	r.given, r.primary = rc.given, rc.primary
	r.keys = map[tkey]bool{}
	for _, k := range rc.next.keys {
		r.keys[k] = true
	}
	for _, n := range names {
		r.watched[n] = true
	}
	r.flushCalls()
	return rc.changes, nil
}

// callsFlushMax bounds how long Reconfigure waits for the OnTransition
// callbacks of its transitions.
const callsFlushMax = 2 * time.Second

// flushCalls waits until the OnTransition callbacks queued so far have
// returned (at most callsFlushMax): Reconfigure returns after the
// callbacks of the transitions it made (a restarted instance's stop), so
// the caller sees them before its own conclusion.
func (r *Runner) flushCalls() {
	done := make(chan struct{})
	if r.calls == nil || !r.calls.push(func() { close(done) }) {
		return
	}
	select {
	case <-done:
	case <-time.After(callsFlushMax):
	}
}

// A reconf is a checked reconfiguration, ready for the runner goroutine.
type reconf struct {
	given   Options               // as given, for the next Compare
	primary map[string]netip.Addr // the primary address of each instance
	next    *core                 // the configuration, checked and built by newCore (no edges)
	changes []InstanceChange
	items   []ItemChange
	tr      map[tkey]Transport // opened for the interfaces and families new to the runner
	links   map[string]bool    // the state of the interfaces new to the runner when their watch began
	seen    map[string]bool    // of those, the ones whose change was heard since (loop only)
}

// prepare checks opts against the running configuration, given as it was
// given and primary the address each instance runs with, and builds the
// new one. A kept or changed instance without a primary address keeps
// its own; an added or restarted one gets one from lookup (PrimaryAddr).
// It changes nothing.
func prepare(given Options, primary map[string]netip.Addr, opts Options, lookup func(ifname string, v6 bool, exclude []netip.Prefix) (netip.Addr, error), log *slog.Logger, cnt *counters) (*reconf, error) {
	rc := &reconf{
		given: configOf(opts), primary: map[string]netip.Addr{},
		tr: map[tkey]Transport{}, seen: map[string]bool{},
	}
	rc.changes, rc.items = Compare(given, rc.given)
	kind := map[string]ChangeKind{}
	for _, ch := range rc.changes {
		kind[ch.Name] = ch.Kind
	}
	full := configOf(opts)
	for k := range full.Instances {
		in := &full.Instances[k]
		if !in.Config.Primary.IsValid() {
			if kd := kind[in.Name]; kd == Kept || kd == ChangedInPlace {
				in.Config.Primary = primary[in.Name]
			} else {
				v6 := len(in.Addresses) > 0 && in.Addresses[0].Addr().Is6()
				p, err := lookup(in.Interface, v6, in.Addresses)
				if err != nil {
					return nil, fmt.Errorf("vrrp instance %s: %w", in.Name, err)
				}
				in.Config.Primary = p
			}
		}
		rc.primary[in.Name] = in.Config.Primary
	}
	nc, err := newCore(full, log, cnt)
	if err != nil {
		return nil, err
	}
	rc.next = nc
	return rc, nil
}

// apply performs rc on the runner goroutine (see Runner.Reconfigure) and
// returns the track scripts to start. rc.tr become the core's; their
// readers are the caller's to start.
func (c *core) apply(now time.Time, rc *reconf) []*scriptState {
	nc := rc.next
	kind := map[string]ChangeKind{}
	for _, ch := range rc.changes {
		kind[ch.Name] = ch.Kind
		if ch.Kind != Kept {
			c.log.Info("vrrp reconfigured", "instance", ch.Name, "change", ch.Kind.String(), "what", strings.Join(ch.What, ", "))
		}
	}
	for _, ch := range rc.items {
		if ch.Kind != Kept {
			c.log.Info("vrrp reconfigured", ch.Type, ch.Name, "change", ch.Kind.String(), "what", strings.Join(ch.What, ", "))
		}
	}
	for n, up := range rc.links {
		if !rc.seen[n] {
			c.links[n] = up
		}
	}

	// Sync groups: one with the same name and members is kept; the
	// members of the others leave them first, so that stopping one
	// orders nothing to the others.
	oldGroups := map[string]*group{}
	for _, g := range c.groups {
		oldGroups[g.Name] = g
	}
	kept := map[*group]bool{}
	var groups []*group
	for _, g := range nc.groups {
		if og := oldGroups[g.Name]; og != nil && slices.Equal(og.Instances, g.Instances) {
			og.Notify = g.Notify
			g = og
			kept[g] = true
		} else if og != nil {
			g.state = og.state // its hook runs when the state changes, not for a new Group
		}
		groups = append(groups, g)
	}
	for _, i := range c.insts {
		if i.group != nil && !kept[i.group] {
			i.group = nil
		}
	}

	// Removed and restarted instances stop, as at Stop.
	carry := map[string]map[string]int{}
	for _, i := range c.insts {
		if k := kind[i.Name]; k == Removed || k == Restarted {
			c.step(now, i, Event{Kind: Shutdown}, 0)
			carry[i.Name] = i.tracks
		}
	}

	// Track scripts: an unchanged one goes on; the others stop.
	var start []*scriptState
	for name, s := range c.scripts {
		if ns := nc.scripts[name]; ns != nil && slices.ContainsFunc(rc.items, func(ch ItemChange) bool {
			return ch.Type == "track_script" && ch.Name == name && ch.Kind == Kept
		}) {
			nc.scripts[name] = s
			continue
		}
		if s.cancel != nil {
			s.cancel()
		}
	}
	for _, t := range nc.opts.TrackScripts {
		if s := nc.scripts[t.Name]; s != c.scripts[t.Name] {
			start = append(start, s)
		}
	}
	c.scripts = nc.scripts

	// The instances: kept and changed ones are the running ones; added
	// and restarted ones the new core's, not started yet.
	old := c.byName
	type change struct {
		i *inst
		n Instance
	}
	var fresh []*inst
	var changed []change
	c.insts, c.byName, c.byVRID, c.keys = nil, map[string]*inst{}, map[tkey]map[uint8]*inst{}, nil
	for _, n := range nc.insts {
		i := n
		switch kind[n.Name] {
		case Kept:
			i = old[n.Name]
		case ChangedInPlace:
			i = old[n.Name]
			changed = append(changed, change{i, n.Instance})
		default:
			fresh = append(fresh, n)
			if o := old[n.Name]; o != nil && kind[n.Name] == Restarted {
				n.n = o.n // the same instance to an operator: its counters go on
			}
			for src, d := range carry[n.Name] {
				if strings.HasPrefix(src, "api:") {
					n.tracks[src] = d
				}
			}
		}
		i.group = nil
		c.insts = append(c.insts, i)
		c.byName[i.Name] = i
		if c.byVRID[i.key] == nil {
			c.byVRID[i.key] = map[uint8]*inst{}
			c.keys = append(c.keys, i.key)
		}
		c.byVRID[i.key][i.Config.VRID] = i
	}
	for _, g := range groups {
		for _, n := range g.Instances {
			c.byName[n].group = g
		}
	}
	c.groups = groups
	for k, t := range rc.tr {
		c.tr[k] = t
	}

	// New groups adopt their members as they run; a member no group
	// holds any more is released.
	for _, g := range groups {
		if kept[g] {
			continue
		}
		state, held := map[string]State{}, map[string]bool{}
		for _, n := range g.Instances {
			i := c.byName[n]
			state[n], held[n] = i.m.State(), i.m.Held()
		}
		for _, o := range g.g.Adopt(state, held) {
			c.step(now, c.byName[o.Member], o.Event, 1)
		}
		c.groupState(g)
	}
	for _, i := range c.insts {
		if i.group == nil && i.m.Held() {
			c.step(now, i, Event{Kind: Release}, 0)
		}
	}

	for _, ch := range changed {
		c.change(now, ch.i, ch.n)
	}
	for _, i := range fresh {
		c.trackPriority(now, i)
		i.started = true
		c.step(now, i, Event{Kind: Startup}, 0)
		c.trackFaults(now, i)
	}
	for k, t := range c.tr {
		if c.byVRID[k] == nil {
			t.Close()
			delete(c.tr, k)
		}
	}
	// Configuration, groups and links may have changed for any of them.
	for _, i := range c.insts {
		i.dirty = true
	}
	c.relist = true
	return start
}

// change gives the running instance i its new configuration n, which
// needs no restart (Compare).
func (c *core) change(now time.Time, i *inst, n Instance) {
	old := i.Instance
	i.Instance = n
	i.Addresses = old.Addresses // setAddresses compares them
	if err := i.m.SetConfig(n.Config); err != nil {
		// Not reached: Compare restarts what SetConfig refuses.
		c.log.Error("vrrp instance not reconfigured", "instance", i.Name, "err", err)
	}
	if !slices.Equal(old.Addresses, n.Addresses) {
		c.setAddresses(now, i, n.Addresses)
	}
	if n.GARP.Refresh != old.GARP.Refresh && i.m.State() == Master {
		i.refreshAt = time.Time{}
		if n.GARP.Refresh > 0 {
			i.refreshAt = now.Add(n.GARP.Refresh)
		}
	}
	c.trackPriority(now, i)
	c.trackFaults(now, i)
}

// tracksScript reports whether i tracks the script name, which exists.
func (c *core) tracksScript(i *inst, name string) bool {
	return slices.Contains(i.TrackScripts, name) && c.scripts[name] != nil
}

// delta is the priority adjustment of a script with a result and a
// weight.
func (s *scriptState) delta() int {
	if (s.Weight < 0) != s.up {
		return s.Weight
	}
	return 0
}

// trackPriority makes i's script adjustments follow its track_scripts
// (those of a script it no longer tracks, or that is gone, go; a script
// with a result that it tracks applies its own) and gives its machine the
// priority. A restarted script without a result yet keeps its last.
func (c *core) trackPriority(now time.Time, i *inst) {
	for src := range i.tracks {
		if name, ok := strings.CutPrefix(src, "script:"); ok && !c.tracksScript(i, name) {
			delete(i.tracks, src)
		}
	}
	for _, name := range i.TrackScripts {
		if s := c.scripts[name]; s.known && s.Weight != 0 {
			if d := s.delta(); d != 0 {
				i.tracks["script:"+name] = d
			} else {
				delete(i.tracks, "script:"+name)
			}
		}
	}
	c.applyPriority(now, i, "config")
}

// trackFaults makes i's faults follow its interfaces and track_scripts:
// the reasons of what it no longer tracks go, and what it tracks applies
// its state (an interface's last, a weight-0 script's result; a
// restarted script without a result yet keeps its last). Reasons are set
// before others are cleared, so that an instance that stays in Fault does
// not recover on the way.
func (c *core) trackFaults(now time.Time, i *inst) {
	want := map[string]bool{}
	for _, n := range append([]string{i.Interface}, i.TrackInterfaces...) {
		if up, ok := c.links[n]; ok {
			want["interface:"+n] = !up
		}
	}
	for _, name := range i.TrackScripts {
		if s := c.scripts[name]; s.known && s.Weight == 0 {
			want["script:"+name] = !s.up
		}
	}
	keep := func(reason string) bool {
		if on, ok := want[reason]; ok {
			return on
		}
		if n, ok := strings.CutPrefix(reason, "interface:"); ok {
			return n == i.Interface || slices.Contains(i.TrackInterfaces, n)
		}
		n, _ := strings.CutPrefix(reason, "script:")
		return c.tracksScript(i, n)
	}
	reasons := slices.Sorted(func(yield func(string) bool) {
		for r := range want {
			if !yield(r) {
				return
			}
		}
	})
	for _, r := range reasons {
		if want[r] {
			c.setFault(now, i, r, true)
		}
	}
	var off []string
	for r := range i.faults {
		if !keep(r) {
			off = append(off, r)
		}
	}
	slices.Sort(off)
	for _, r := range off {
		c.setFault(now, i, r, false)
	}
}
