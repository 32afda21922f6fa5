package vrrp

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func cmpInstance() Instance {
	return Instance{
		Name: "public", Interface: "eth0",
		Config:    Config{VRID: 51, Version: 3, Priority: 100, AdvertInterval: time.Second, Preempt: true},
		Addresses: []netip.Prefix{netip.MustParsePrefix("10.0.0.4/24")},
		GARP:      DefaultGARP,
	}
}

var (
	peer1 = netip.MustParseAddr("10.0.0.1")
	peer2 = netip.MustParseAddr("10.0.0.2")
	peer3 = netip.MustParseAddr("10.0.0.3")
)

// Compare, attribute by attribute: what restarts, what is in place, and
// how it reads.
func TestCompareInstance(t *testing.T) {
	tests := []struct {
		name    string
		old     func(*Instance) // both old and new
		new     func(*Instance) // new only
		kind    ChangeKind
		what    []string
		restart int // the first restart entries of what need the restart
	}{
		{name: "unchanged", kind: Kept},
		{name: "nil and empty lists are the same", new: func(in *Instance) {
			in.UnicastPeers, in.TrackInterfaces, in.TrackScripts, in.Notify = []netip.Addr{}, []string{}, []string{}, []string{}
		}, kind: Kept},
		{name: "vrid", new: func(in *Instance) { in.Config.VRID = 52 }, kind: Restarted, what: []string{"vrid 51 -> 52"}, restart: 1},
		{name: "interface", new: func(in *Instance) { in.Interface = "eth1" }, kind: Restarted, what: []string{"interface eth0 -> eth1"}, restart: 1},
		{name: "version", new: func(in *Instance) { in.Config.Version = 2 }, kind: Restarted, what: []string{"version 3 -> 2"}, restart: 1},
		{name: "primary", new: func(in *Instance) { in.Config.Primary = peer2 }, kind: Restarted,
			what: []string{"primary (found on the interface) -> 10.0.0.2"}, restart: 1},
		{name: "family", new: func(in *Instance) { in.Addresses = []netip.Prefix{netip.MustParsePrefix("2001:db8::5/64")} }, kind: Restarted,
			what: []string{"address family IPv4 -> IPv6", "addresses +2001:db8::5/64 -10.0.0.4/24"}, restart: 1},
		{name: "multicast to unicast", new: func(in *Instance) { in.UnicastPeers = []netip.Addr{peer1, peer2} }, kind: Restarted,
			what: []string{"multicast -> unicast_peers [10.0.0.1 10.0.0.2]"}, restart: 1},
		{name: "unicast to multicast", old: func(in *Instance) { in.UnicastPeers = []netip.Addr{peer1} },
			new: func(in *Instance) { in.UnicastPeers = nil }, kind: Restarted,
			what: []string{"unicast_peers [10.0.0.1] -> multicast"}, restart: 1},
		{name: "priority to the owner", new: func(in *Instance) { in.Config.Priority = 255 }, kind: Restarted,
			what: []string{"priority 100 -> 255 (owner)"}, restart: 1},
		{name: "priority from the owner", old: func(in *Instance) { in.Config.Priority = 255 },
			new: func(in *Instance) { in.Config.Priority = 100 }, kind: Restarted,
			what: []string{"priority 255 -> 100 (owner)"}, restart: 1},
		{name: "restart and more", new: func(in *Instance) { in.Config.VRID, in.Config.Priority = 52, 120 }, kind: Restarted,
			what: []string{"vrid 51 -> 52", "priority 100 -> 120"}, restart: 1},

		{name: "priority", new: func(in *Instance) { in.Config.Priority = 120 }, kind: ChangedInPlace, what: []string{"priority 100 -> 120"}},
		{name: "addresses", new: func(in *Instance) { in.Addresses = []netip.Prefix{netip.MustParsePrefix("10.0.0.5/24")} }, kind: ChangedInPlace,
			what: []string{"addresses +10.0.0.5/24 -10.0.0.4/24"}},
		{name: "addresses reordered", old: func(in *Instance) {
			in.Addresses = append(in.Addresses, netip.MustParsePrefix("10.0.0.5/24"))
		}, new: func(in *Instance) {
			in.Addresses = []netip.Prefix{netip.MustParsePrefix("10.0.0.5/24"), netip.MustParsePrefix("10.0.0.4/24")}
		}, kind: ChangedInPlace, what: []string{"addresses reordered"}},
		{name: "advert_interval", new: func(in *Instance) { in.Config.AdvertInterval = 2 * time.Second }, kind: ChangedInPlace, what: []string{"advert_interval 1s -> 2s"}},
		{name: "preempt", new: func(in *Instance) { in.Config.Preempt = false }, kind: ChangedInPlace, what: []string{"preempt true -> false"}},
		{name: "preempt_delay", new: func(in *Instance) { in.Config.PreemptDelay = 30 * time.Second }, kind: ChangedInPlace, what: []string{"preempt_delay 0s -> 30s"}},
		{name: "accept", new: func(in *Instance) { in.Config.Accept = true }, kind: ChangedInPlace, what: []string{"accept false -> true"}},
		{name: "pair_handover", new: func(in *Instance) { in.Config.PairHandover = true }, kind: ChangedInPlace, what: []string{"pair_handover false -> true"}},
		{name: "unicast_peers", old: func(in *Instance) { in.UnicastPeers = []netip.Addr{peer1, peer2} },
			new: func(in *Instance) { in.UnicastPeers = []netip.Addr{peer1, peer3} }, kind: ChangedInPlace,
			what: []string{"unicast_peers +10.0.0.3 -10.0.0.2"}},
		{name: "auth_pass set", new: func(in *Instance) { in.AuthPass = "s3cret" }, kind: ChangedInPlace, what: []string{"auth_pass set"}},
		{name: "auth_pass changed", old: func(in *Instance) { in.AuthPass = "s3cret" }, new: func(in *Instance) { in.AuthPass = "other" },
			kind: ChangedInPlace, what: []string{"auth_pass changed"}},
		{name: "auth_pass removed", old: func(in *Instance) { in.AuthPass = "s3cret" }, new: func(in *Instance) { in.AuthPass = "" },
			kind: ChangedInPlace, what: []string{"auth_pass removed"}},
		{name: "track_interfaces", old: func(in *Instance) { in.TrackInterfaces = []string{"eth3"} },
			new: func(in *Instance) { in.TrackInterfaces = []string{"eth2"} }, kind: ChangedInPlace, what: []string{"track_interfaces +eth2 -eth3"}},
		{name: "track_scripts", new: func(in *Instance) { in.TrackScripts = []string{"db"} }, kind: ChangedInPlace, what: []string{"track_scripts +db"}},
		{name: "garp", new: func(in *Instance) {
			in.GARP = GARP{Count: 3, Interval: 10 * time.Millisecond, RepeatCount: 1, RepeatAfter: time.Second, Refresh: time.Minute}
		}, kind: ChangedInPlace, what: []string{
			"garp count 5 -> 3", "garp interval 0s -> 10ms", "garp repeat_count 5 -> 1", "garp repeat_after 5s -> 1s", "garp refresh 0s -> 1m0s",
		}},
		{name: "notify", new: func(in *Instance) { in.Notify = []string{"/bin/notify", "x"} }, kind: ChangedInPlace,
			what: []string{`notify [] -> ["/bin/notify" "x"]`}},
		{name: "several, in order", new: func(in *Instance) {
			in.Notify, in.Config.Preempt, in.Config.Priority = []string{"/bin/n"}, false, 90
		}, kind: ChangedInPlace, what: []string{"priority 100 -> 90", "preempt true -> false", `notify [] -> ["/bin/n"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, n := cmpInstance(), cmpInstance()
			if tt.old != nil {
				tt.old(&o)
				tt.old(&n)
			}
			if tt.new != nil {
				tt.new(&n)
			}
			got, _ := Compare(Options{Instances: []Instance{o}}, Options{Instances: []Instance{n}})
			want := []InstanceChange{{Name: "public", Kind: tt.kind, What: tt.what, Restart: tt.what[:tt.restart]}}
			if tt.restart == 0 {
				want[0].Restart = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if s := got[0].String(); strings.Contains(s, "s3cret") || strings.Contains(s, "other") {
				t.Errorf("the password shows: %s", s)
			}
		})
	}
}

// Instances, groups and scripts are matched by name and listed in the new
// file's order, then the removed ones.
func TestCompareOrder(t *testing.T) {
	in := func(name string, vrid uint8) Instance {
		i := cmpInstance()
		i.Name, i.Config.VRID = name, vrid
		return i
	}
	script := TrackScript{Name: "db", Command: []string{"/bin/db"}, Interval: time.Second, Timeout: time.Second, Weight: -10, Rise: 1, Fall: 1}
	script2 := script
	script2.Command, script2.Interval, script2.Timeout, script2.Weight, script2.Rise, script2.Fall = []string{"/bin/db", "-q"}, 2*time.Second, 2*time.Second, -20, 2, 3
	old := Options{
		Instances:    []Instance{in("a", 1), in("b", 2), in("c", 3)},
		SyncGroups:   []SyncGroup{{Name: "g1", Instances: []string{"a", "b"}}, {Name: "g2", Instances: []string{"b", "c"}}, {Name: "g3", Instances: []string{"a", "c"}}},
		TrackScripts: []TrackScript{script, {Name: "gone", Command: []string{"/bin/x"}}},
	}
	nw := Options{
		Instances:    []Instance{in("c", 3), in("d", 4), in("a", 5)},
		SyncGroups:   []SyncGroup{{Name: "g3", Instances: []string{"c", "a"}, Notify: []string{"/bin/g"}}, {Name: "g1", Instances: []string{"a", "d"}}, {Name: "g4", Instances: []string{"a", "c"}}},
		TrackScripts: []TrackScript{script2, {Name: "new", Command: []string{"/bin/y"}}},
	}
	ics, items := Compare(old, nw)
	want := []InstanceChange{
		{Name: "c", Kind: Kept},
		{Name: "d", Kind: Added},
		{Name: "a", Kind: Restarted, What: []string{"vrid 1 -> 5"}, Restart: []string{"vrid 1 -> 5"}},
		{Name: "b", Kind: Removed},
	}
	if diff := cmp.Diff(want, ics); diff != "" {
		t.Errorf("instances (-want +got):\n%s", diff)
	}
	wantItems := []ItemChange{
		{Type: "sync_group", Name: "g3", Kind: ChangedInPlace, What: []string{"instances reordered", `notify [] -> ["/bin/g"]`}},
		{Type: "sync_group", Name: "g1", Kind: ChangedInPlace, What: []string{"instances +d -b"}},
		{Type: "sync_group", Name: "g4", Kind: Added},
		{Type: "sync_group", Name: "g2", Kind: Removed},
		{Type: "track_script", Name: "db", Kind: Restarted, What: []string{
			`command ["/bin/db"] -> ["/bin/db" "-q"]`, "interval 1s -> 2s", "timeout 1s -> 2s", "weight -10 -> -20", "rise 1 -> 2", "fall 1 -> 3",
		}},
		{Type: "track_script", Name: "new", Kind: Added},
		{Type: "track_script", Name: "gone", Kind: Removed},
	}
	if diff := cmp.Diff(wantItems, items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ got, want string }{
		{ics[0].String(), "c: kept"},
		{ics[2].String(), "a: restarted for vrid 1 -> 5"},
		{InstanceChange{Name: "a", Kind: Restarted, What: []string{"vrid 1 -> 5", "priority 1 -> 2"}, Restart: []string{"vrid 1 -> 5"}}.String(),
			"a: restarted for vrid 1 -> 5; also priority 1 -> 2"},
		{InstanceChange{Name: "a", Kind: ChangedInPlace, What: []string{"priority 1 -> 2", "preempt true -> false"}}.String(),
			"a: changed in place: priority 1 -> 2, preempt true -> false"},
		{items[1].String(), "sync_group g1: changed in place: instances +d -b"},
		{Removed.String() + "," + Added.String(), "removed,added"},
	} {
		if tc.got != tc.want {
			t.Errorf("String %q, want %q", tc.got, tc.want)
		}
	}
}

// The core's reconfiguration, as Runner.Reconfigure performs it, over the
// simulated link of runner_test.go.

// reconfigure applies opts to the node as Runner.Reconfigure does, with
// its interfaces up and its new transports on the simulated link.
func (n *rtNode) reconfigure(opts Options) ([]InstanceChange, []ItemChange, error) {
	primary := map[string]netip.Addr{}
	for _, i := range n.c.insts {
		primary[i.Name] = i.Config.Primary
	}
	noLookup := func(string, bool, []netip.Prefix) (netip.Addr, error) {
		return netip.Addr{}, errors.New("the test gives every primary address")
	}
	rc, err := prepare(n.given, primary, opts, noLookup, n.c.log, n.c.cnt)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range rc.next.keys {
		if n.c.tr[k] == nil {
			rc.tr[k] = &rtTransport{n: n, key: k}
		}
	}
	rc.links = map[string]bool{}
	for _, l := range rc.next.linkNames() {
		if _, ok := n.c.links[l]; !ok {
			rc.links[l] = true
		}
	}
	n.c.apply(n.net.now, rc)
	n.given = rc.given
	return rc.changes, rc.items, nil
}

// edit reconfigures the node with one instance of its configuration
// edited by fn.
func (n *rtNode) edit(name string, fn func(*Instance)) []InstanceChange {
	n.net.t.Helper()
	o := configOf(n.given)
	k := slices.IndexFunc(o.Instances, func(in Instance) bool { return in.Name == name })
	if k < 0 {
		n.net.t.Fatalf("no instance %s", name)
	}
	fn(&o.Instances[k])
	ch, _, err := n.reconfigure(o)
	if err != nil {
		n.net.t.Fatal(err)
	}
	return ch
}

// mustReconfigure is reconfigure, failing the test on an error.
func (n *rtNode) mustReconfigure(opts Options) ([]InstanceChange, []ItemChange) {
	n.net.t.Helper()
	ch, items, err := n.reconfigure(opts)
	if err != nil {
		n.net.t.Fatal(err)
	}
	return ch, items
}

// kinds is each change's name and kind.
func kinds(chs []InstanceChange) string {
	var s []string
	for _, ch := range chs {
		s = append(s, ch.Name+" "+ch.Kind.String())
	}
	return strings.Join(s, ", ")
}

// rtTwo is a node's two instances: public (VRID 51 on eth0) and gateway
// (VRID 52 on eth1), both at prio, the node's addresses ending in host.
func rtTwo(prio uint8, host string, mod func(*Instance)) Options {
	pub := rtInstance("public", 51, "eth0", prio, "192.0.2."+host, rtVIP1)
	gw := rtInstance("gateway", 52, "eth1", prio, "198.51.100."+host, rtVIP2)
	pub.Notify, gw.Notify = []string{"/bin/notify"}, []string{"/bin/notify"}
	if mod != nil {
		mod(&pub)
		mod(&gw)
	}
	return Options{Instances: []Instance{pub, gw}}
}

// without returns o without the instance name.
func without(o Options, name string) Options {
	o = configOf(o)
	o.Instances = slices.DeleteFunc(o.Instances, func(in Instance) bool { return in.Name == name })
	return o
}

// editOpts returns o with the instance name edited by fn.
func editOpts(o Options, name string, fn func(*Instance)) Options {
	o = configOf(o)
	for k := range o.Instances {
		if o.Instances[k].Name == name {
			fn(&o.Instances[k])
		}
	}
	return o
}

// rtUntouched watches an instance that a reload must not touch.
type rtUntouched struct {
	n                  *rtNode
	inst               string
	state              State
	from               time.Time
	garps, dels, trans int
}

func untouched(n *rtNode, inst string) rtUntouched {
	i := n.c.byName[inst]
	return rtUntouched{n: n, inst: inst, state: i.m.State(), from: n.net.now,
		garps: n.garpsOn[i.Interface], dels: n.dels[i.Interface], trans: len(n.transOf(inst))}
}

func (n *rtNode) transOf(inst string) []string {
	var out []string
	for _, tr := range n.trans {
		if strings.HasPrefix(tr, inst+" ") {
			out = append(out, tr)
		}
	}
	return out
}

// check fails unless the instance kept its state, announced nothing,
// removed no VIP, and, as master, sent its adverts exactly on schedule
// (one every interval, with its priority) since the watch began.
func (w rtUntouched) check(t *testing.T) {
	t.Helper()
	n := w.n
	i := n.c.byName[w.inst]
	if i.m.State() != w.state || len(n.transOf(w.inst)) != w.trans {
		t.Errorf("%s %s: %v (was %v), transitions %q", n.name, w.inst, i.m.State(), w.state, n.transOf(w.inst)[w.trans:])
	}
	if n.garpsOn[i.Interface] != w.garps || n.dels[i.Interface] != w.dels {
		t.Errorf("%s %s: %d announcements and %d VIP removals on %s", n.name, w.inst, n.garpsOn[i.Interface]-w.garps, n.dels[i.Interface]-w.dels, i.Interface)
	}
	var last time.Time
	sent := 0
	for _, a := range n.adverts {
		if a.key != i.key || a.vrid != i.Config.VRID {
			continue
		}
		if !a.at.Before(w.from) {
			sent++
			if w.state != Master {
				t.Errorf("%s %s: a %v sent an advert at %v", n.name, w.inst, w.state, a.at.Sub(rtStart))
			}
			if a.prio != i.m.Priority() || !last.IsZero() && a.at.Sub(last) != a.ivl {
				t.Errorf("%s %s: advert at %v with priority %d, %v after the last (interval %v)", n.name, w.inst, a.at.Sub(rtStart), a.prio, a.at.Sub(last), a.ivl)
			}
		}
		last = a.at
	}
	if w.state == Master && sent == 0 {
		t.Errorf("%s %s: no adverts", n.name, w.inst)
	}
}

// (a) An instance added on a new interface becomes master on the node
// with the higher priority and backup on the other; the instance already
// running is not touched on either node.
func TestCoreReconfigureAdd(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	a, b := s.add("a", without(oa, "gateway")), s.add("b", without(ob, "gateway"))
	s.run(6 * time.Second) // past the repeated GARP burst
	wa, wb := untouched(a, "public"), untouched(b, "public")

	chA, _ := a.mustReconfigure(oa)
	chB, _ := b.mustReconfigure(ob)
	if got := kinds(chA) + "; " + kinds(chB); got != "public kept, gateway added; public kept, gateway added" {
		t.Errorf("changes %s", got)
	}
	s.until(2*time.Second, func() bool { return a.state("gateway") == Master && b.state("gateway") == Backup })
	s.run(time.Second)
	if !a.holds("eth1", rtVIP2) || b.holds("eth1", rtVIP2) || a.garpsOn["eth1"] == 0 {
		t.Errorf("gateway: a %v (%d announcements), b %v", a.vips, a.garpsOn["eth1"], b.vips)
	}
	wa.check(t)
	wb.check(t)
}

// (b) A removed instance stops as at Stop: a master sends priority 0,
// releases its VIP, reports STOP, closes its socket; the peer takes over
// at once; the other instance is not touched.
func TestCoreReconfigureRemove(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	wa, wb := untouched(a, "public"), untouched(b, "public")
	tr := a.c.tr[tkey{"eth1", false}].(*rtTransport)

	chA, _ := a.mustReconfigure(without(oa, "gateway"))
	if got := kinds(chA); got != "public kept, gateway removed" {
		t.Errorf("changes %s", got)
	}
	last := a.adverts[len(a.adverts)-1]
	if last.vrid != 52 || last.prio != 0 {
		t.Errorf("last advert %+v, want priority 0 for VRID 52", last)
	}
	if a.holds("eth1", rtVIP2) || !tr.closed || a.c.byName["gateway"] != nil {
		t.Errorf("a still holds %v, transport closed %v", a.vips, tr.closed)
	}
	if got := a.transOf("gateway"); got[len(got)-1] != "gateway MASTER>INIT 150 (shutdown)" {
		t.Errorf("transitions %q", got)
	}
	if h := a.hooks[len(a.hooks)-1]; !slices.Equal(h, []string{"/bin/notify", "INSTANCE", "gateway", "STOP", "150"}) {
		t.Errorf("last hook %q", h)
	}
	took := s.until(time.Second, func() bool { return b.state("gateway") == Master })
	if took > 80*time.Millisecond {
		t.Errorf("b took over after %v, want Skew_Time", took)
	}
	s.run(time.Second)
	wa.check(t)
	wb.check(t)
}

// (c) A VRID change restarts that instance only: it leaves its old VRID
// as at Stop and runs on the new one; the other is not touched.
func TestCoreReconfigureRestart(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	wa, wb := untouched(a, "public"), untouched(b, "public")
	vrid := func(in *Instance) { in.Config.VRID = 53 }

	chA, _ := a.mustReconfigure(editOpts(oa, "gateway", vrid))
	want := []InstanceChange{{Name: "public", Kind: Kept}, {Name: "gateway", Kind: Restarted, What: []string{"vrid 52 -> 53"}, Restart: []string{"vrid 52 -> 53"}}}
	if diff := cmp.Diff(want, chA); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(a.adverts, func(ad rtAdvert) bool { return ad.vrid == 52 && ad.prio == 0 }) {
		t.Error("no priority 0 for the old VRID")
	}
	s.run(time.Second)
	b.mustReconfigure(editOpts(ob, "gateway", vrid))
	s.until(2*time.Second, func() bool { return a.state("gateway") == Master && b.state("gateway") == Backup })
	s.run(time.Second)
	if !a.holds("eth1", rtVIP2) || b.holds("eth1", rtVIP2) || a.c.byName["gateway"].Config.VRID != 53 {
		t.Errorf("gateway on VRID 53: a %v, b %v", a.vips, b.vips)
	}
	if got := a.transOf("gateway"); !slices.Contains(got, "gateway MASTER>INIT 150 (shutdown)") || !slices.Contains(got[2:], "gateway INIT>BACKUP 150 (startup)") {
		t.Errorf("a's gateway transitions %q", got)
	}
	wa.check(t)
	wb.check(t)
}

// (d) advert_interval and preempt change in place: no transition, the
// master's adverts take the new interval from its next one and the backup
// learns it; a backup given a higher priority without preempt stays
// backup, and preempts once preempt is on.
func TestCoreReconfigureInPlace(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	wa, wb := untouched(a, "gateway"), untouched(b, "gateway")
	transA, transB := len(a.trans), len(b.trans)
	slow := func(in *Instance) { in.Config.AdvertInterval = 200 * time.Millisecond }

	oa, ob = editOpts(oa, "public", slow), editOpts(ob, "public", slow)
	since := s.now
	chA, _ := a.mustReconfigure(oa)
	b.mustReconfigure(ob)
	if got := chA[0]; got.Kind != ChangedInPlace || !slices.Equal(got.What, []string{"advert_interval 100ms -> 200ms"}) {
		t.Errorf("change %v", got)
	}
	s.run(2 * time.Second)
	var gaps []time.Duration
	var last time.Time
	for _, ad := range a.adverts {
		if ad.vrid == 51 && ad.at.After(since) {
			if !last.IsZero() {
				gaps = append(gaps, ad.at.Sub(last))
			}
			if ad.ivl != 200*time.Millisecond {
				t.Errorf("advert at %v carries %v", ad.at.Sub(rtStart), ad.ivl)
			}
			last = ad.at
		}
	}
	if len(gaps) < 5 || slices.ContainsFunc(gaps, func(d time.Duration) bool { return d != 200*time.Millisecond }) {
		t.Errorf("gaps between the master's adverts %v, want 200ms", gaps)
	}
	if ivl := b.c.byName["public"].m.MasterAdverInterval(); ivl != 200*time.Millisecond {
		t.Errorf("the backup's Master_Adver_Interval %v", ivl)
	}

	ob = editOpts(ob, "public", func(in *Instance) { in.Config.Priority, in.Config.Preempt = 200, false })
	chB, _ := b.mustReconfigure(ob)
	if got := chB[0].What; !slices.Equal(got, []string{"priority 100 -> 200", "preempt true -> false"}) {
		t.Errorf("change %q", got)
	}
	s.run(2 * time.Second)
	if a.state("public") != Master || b.state("public") != Backup || len(a.trans) != transA || len(b.trans) != transB {
		t.Fatalf("without preempt: a %v, b %v, transitions %q %q", a.state("public"), b.state("public"), a.trans[transA:], b.trans[transB:])
	}
	b.mustReconfigure(editOpts(ob, "public", func(in *Instance) { in.Config.Preempt = true }))
	s.until(time.Second, func() bool { return b.state("public") == Master && a.state("public") == Backup })
	if got := b.transOf("public"); got[len(got)-1] != "public BACKUP>MASTER 200 (preempt: the master has a lower priority)" {
		t.Errorf("b's transitions %q", got)
	}
	wa.check(t)
	wb.check(t)
}

// (e) A configuration that cannot run is refused, and nothing changes.
func TestCoreReconfigureRefused(t *testing.T) {
	s := newRTNet(t)
	oa := rtTwo(150, "1", nil)
	a := s.add("a", oa)
	s.run(6 * time.Second)
	wp, wg := untouched(a, "public"), untouched(a, "gateway")
	insts := slices.Clone(a.c.insts)
	given := a.given
	noPrimary := rtInstance("dmz", 60, "eth2", 100, "198.51.100.9", rtVIP2)
	noPrimary.Config.Primary = netip.Addr{}
	bad := []struct {
		name string
		opts Options
		want string
	}{
		{"duplicate VRID", editOpts(oa, "gateway", func(in *Instance) {
			in.Interface, in.Config.VRID, in.Config.Primary, in.Addresses = "eth0", 51, netip.MustParseAddr("192.0.2.1"), []netip.Prefix{netip.MustParsePrefix("192.0.2.20/24")}
		}), "VRID 51 already used by public on eth0"},
		{"duplicate name", Options{Instances: []Instance{oa.Instances[0], oa.Instances[0]}}, "defined twice"},
		{"unknown track script", editOpts(oa, "public", func(in *Instance) { in.TrackScripts = []string{"db"} }), `unknown track script "db"`},
		{"sync group of an unknown instance", Options{Instances: oa.Instances, SyncGroups: []SyncGroup{{Name: "lb", Instances: []string{"public", "dmz"}}}}, `unknown instance "dmz"`},
		{"invalid priority", editOpts(oa, "public", func(in *Instance) { in.Config.Priority = 0 }), "priority must be"},
		{"no primary for a new instance", Options{Instances: append(slices.Clone(oa.Instances), noPrimary)}, "the test gives every primary"},
		{"track script without a command", Options{Instances: oa.Instances, TrackScripts: []TrackScript{{Name: "db", Interval: time.Second, Timeout: time.Second}}}, "needs a command"},
	}
	for _, tt := range bad {
		if _, _, err := a.reconfigure(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
		s.run(100 * time.Millisecond)
	}
	if !slices.Equal(insts, a.c.insts) || len(a.c.tr) != 2 {
		t.Errorf("instances or transports changed: %v", a.c.tr)
	}
	if diff := cmp.Diff(given, a.given, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }), cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
		t.Errorf("configuration changed (-before +after):\n%s", diff)
	}
	s.run(time.Second)
	wp.check(t)
	wg.check(t)
}

// (f) A track script added takes effect from its first result; changed,
// it keeps its effect until its next first result; removed, its effect
// goes. The other instance is not touched.
func TestCoreReconfigureTrackScripts(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	wa := untouched(a, "gateway")
	db := TrackScript{Name: "db", Command: []string{"/bin/db"}, Interval: time.Second, Timeout: time.Second, Weight: -60, Rise: 1, Fall: 1}
	prio := func() uint8 { return a.c.byName["public"].m.Priority() }

	with := editOpts(oa, "public", func(in *Instance) { in.TrackScripts = []string{"db"} })
	with.TrackScripts = []TrackScript{db}
	chs, items := a.mustReconfigure(with)
	if got := chs[0].String() + "; " + items[0].String(); got != "public: changed in place: track_scripts +db; track_script db: added" {
		t.Errorf("changes %s", got)
	}
	if prio() != 150 {
		t.Errorf("priority %d before the script's first result", prio())
	}
	a.c.scriptResult(s.now, "db", false)
	if prio() != 90 {
		t.Fatalf("priority %d with db down, want 90", prio())
	}
	s.until(time.Second, func() bool { return b.state("public") == Master && a.state("public") == Backup })

	// Changed: restarted, the effect stays until its first result.
	first := a.c.scripts["db"]
	cancelled := false
	first.cancel = func() { cancelled = true }
	with.TrackScripts[0].Weight = -70
	_, items = a.mustReconfigure(with)
	if items[0].Kind != Restarted || !cancelled || a.c.scripts["db"] == first || prio() != 90 {
		t.Errorf("changed script: %v, old one stopped %v, priority %d", items[0], cancelled, prio())
	}
	a.c.scriptResult(s.now, "db", false)
	if prio() != 80 {
		t.Errorf("priority %d after the restarted script's first result, want 80", prio())
	}
	// Weight 0: the adjustment goes, a fault comes.
	with.TrackScripts[0].Weight = 0
	a.mustReconfigure(with)
	a.c.scriptResult(s.now, "db", false)
	if prio() != 150 || a.state("public") != Fault {
		t.Errorf("weight 0: priority %d, %v", prio(), a.state("public"))
	}

	// Removed: the fault goes, and a preempts back.
	cancelled = false
	a.c.scripts["db"].cancel = func() { cancelled = true }
	chs, items = a.mustReconfigure(oa)
	if got := chs[0].String() + "; " + items[0].String(); got != "public: changed in place: track_scripts -db; track_script db: removed" {
		t.Errorf("changes %s", got)
	}
	if !cancelled || a.c.scripts["db"] != nil || prio() != 150 || a.state("public") != Backup {
		t.Errorf("removed: stopped %v, priority %d, %v", cancelled, prio(), a.state("public"))
	}
	s.until(2*time.Second, func() bool { return a.state("public") == Master && b.state("public") == Backup })
	wa.check(t)
}

// Sync groups: a group made by a reload over members that agree changes
// no state on either node; a member that leaves its group while held is
// released.
func TestCoreReconfigureSyncGroup(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	ws := []rtUntouched{untouched(a, "public"), untouched(a, "gateway"), untouched(b, "public"), untouched(b, "gateway")}

	lb := []SyncGroup{{Name: "lb", Instances: []string{"public", "gateway"}, Notify: []string{"/bin/group"}}}
	ga, gb := oa, ob
	ga.SyncGroups, gb.SyncGroups = lb, lb
	chs, items := a.mustReconfigure(ga)
	b.mustReconfigure(gb)
	if got := kinds(chs) + "; " + items[0].String(); got != "public kept, gateway kept; sync_group lb: added" {
		t.Errorf("changes %s", got)
	}
	s.run(time.Second)
	for _, w := range ws {
		w.check(t)
	}
	if a.c.byName["public"].group == nil || a.c.byName["public"].group != a.c.byName["gateway"].group {
		t.Error("the group is not the members'")
	}
	if h := a.hooks[len(a.hooks)-1]; !slices.Equal(h, []string{"/bin/group", "GROUP", "lb", "MASTER"}) {
		t.Errorf("a's last hook %q", h)
	}
	// A reload that changes something else keeps the group as it is.
	ga = editOpts(ga, "public", func(in *Instance) { in.Notify = nil })
	a.mustReconfigure(ga)
	g := a.c.groups[0]
	if g.g.MemberState("public") != Master || g.g.MemberState("gateway") != Master {
		t.Errorf("the kept group knows %v %v", g.g.MemberState("public"), g.g.MemberState("gateway"))
	}

	// b's public wins: a's public steps down, a's group holds its gateway.
	gb = editOpts(gb, "public", func(in *Instance) { in.Config.Priority = 200 })
	b.mustReconfigure(gb)
	s.until(2*time.Second, func() bool {
		return b.state("public") == Master && b.state("gateway") == Master && a.state("gateway") == Backup
	})
	s.run(time.Second)
	if !a.c.byName["gateway"].m.Held() {
		t.Fatal("a's gateway is not held")
	}
	// Out of the group, a's gateway is released and preempts (150 > 100).
	a.mustReconfigure(oa)
	if a.c.byName["gateway"].m.Held() || a.c.byName["gateway"].group != nil {
		t.Error("a's gateway is still held")
	}
	s.until(2*time.Second, func() bool { return a.state("gateway") == Master })
}

// A group rebuilt over members that disagree settles by the group's
// rules: the master pulls the backup up.
func TestCoreReconfigureSyncGroupDisagree(t *testing.T) {
	s := newRTNet(t)
	oa := rtTwo(150, "1", nil)
	ob := rtTwo(100, "2", func(in *Instance) {
		if in.Name == "gateway" {
			in.Config.Priority = 200
		}
	})
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	if a.state("public") != Master || a.state("gateway") != Backup {
		t.Fatalf("a: %v %v", a.state("public"), a.state("gateway"))
	}
	oa.SyncGroups = []SyncGroup{{Name: "lb", Instances: []string{"public", "gateway"}}}
	a.mustReconfigure(oa)
	if a.state("gateway") != Master {
		t.Errorf("a's gateway %v, want pulled up to master", a.state("gateway"))
	}
	// b's gateway wins the election back; a's group then follows it.
	s.until(2*time.Second, func() bool {
		return b.state("gateway") == Master && a.state("gateway") == Backup && a.state("public") == Backup
	})
}

// The Runner itself, with fake edges and the real clock: Reconfigure
// opens a socket and a reader for a new interface, watches it, starts
// the scripts; a refused configuration dials nothing; a removed instance
// sends priority 0 and its socket is closed; a removed script stops
// running; SetPriority goes through it.

// rtDialer makes a recording transport per Dial.
type rtDialer struct {
	mu  sync.Mutex
	trs map[string][]*rtRecTransport
	n   int
}

func (d *rtDialer) dial(ifname string, v6 bool) (Transport, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t := &rtRecTransport{in: make(chan *Packet), closed: make(chan struct{})}
	if d.trs == nil {
		d.trs = map[string][]*rtRecTransport{}
	}
	d.trs[ifname] = append(d.trs[ifname], t)
	d.n++
	return t, nil
}

func (d *rtDialer) last(ifname string) *rtRecTransport {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := d.trs[ifname]
	if len(ts) == 0 {
		return nil
	}
	return ts[len(ts)-1]
}

func (d *rtDialer) dials() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// allClosed reports whether every transport dialed is closed.
func (d *rtDialer) allClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ts := range d.trs {
		for _, t := range ts {
			select {
			case <-t.closed:
			default:
				return false
			}
		}
	}
	return true
}

// rtWatchLinks reports every interface up and records the watches.
type rtWatchLinks struct {
	mu      sync.Mutex
	watches [][]string
}

func (l *rtWatchLinks) Watch(ctx context.Context, names []string, fn func(string, bool)) (map[string]bool, error) {
	l.mu.Lock()
	l.watches = append(l.watches, slices.Clone(names))
	l.mu.Unlock()
	return rtUpLinks{}.Watch(ctx, names, fn)
}

// rtExec counts the runs of each command.
type rtExec struct {
	mu   sync.Mutex
	runs map[string]int
}

func (e *rtExec) exec(ctx context.Context, argv []string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.runs[argv[0]]++
	return nil
}

func (e *rtExec) count(cmd string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs[cmd]
}

// waitFor polls cond until it holds, failing the test after 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newTestRunner(t *testing.T, insts ...Instance) (*Runner, *rtDialer, *rtRecEdge, *rtWatchLinks, *rtExec) {
	d, edge, links, ex := &rtDialer{}, &rtRecEdge{vips: map[netip.Prefix]bool{}}, &rtWatchLinks{}, &rtExec{runs: map[string]int{}}
	r, err := NewRunner(Options{
		Instances: insts,
		Dial:      d.dial, VIPs: edge, Announcer: edge, Links: links, Exec: ex.exec,
		Log: rtLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r, d, edge, links, ex
}

func fastInstance(name string, vrid uint8, ifname, primary string, vip netip.Prefix) Instance {
	in := rtInstance(name, vrid, ifname, 150, primary, vip)
	in.Config.AdvertInterval = 10 * time.Millisecond
	return in
}

func TestRunnerReconfigure(t *testing.T) {
	pub := fastInstance("public", 51, "eth0", "192.0.2.1", rtVIP1)
	gw := fastInstance("gateway", 52, "eth1", "198.51.100.2", rtVIP2)
	gw.TrackScripts = []string{"db"}
	db := TrackScript{Name: "db", Command: []string{"/bin/db"}, Interval: 5 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1}
	r, d, edge, links, ex := newTestRunner(t, pub)
	held := func(p netip.Prefix) func() bool {
		return func() bool {
			edge.mu.Lock()
			defer edge.mu.Unlock()
			return edge.vips[p]
		}
	}

	if _, err := r.Reconfigure(Options{Instances: []Instance{pub, gw}}); err == nil {
		t.Error("Reconfigure before Start did not fail")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "public master", held(rtVIP1))

	chs, err := r.Reconfigure(Options{Instances: []Instance{pub, gw}, TrackScripts: []TrackScript{db}})
	if err != nil || kinds(chs) != "public kept, gateway added" {
		t.Fatalf("add: %s, %v", kinds(chs), err)
	}
	waitFor(t, "gateway master", held(rtVIP2))
	waitFor(t, "db runs", func() bool { return ex.count("/bin/db") > 2 })
	links.mu.Lock()
	if !slices.EqualFunc(links.watches, [][]string{{"eth0"}, {"eth1"}}, slices.Equal) {
		t.Errorf("watches %q", links.watches)
	}
	links.mu.Unlock()

	// Refused: nothing dialed, nothing changed.
	dials := d.dials()
	bad := gw
	bad.Interface, bad.Config.VRID = "eth0", 51
	if _, err := r.Reconfigure(Options{Instances: []Instance{pub, bad}}); err == nil || d.dials() != dials {
		t.Errorf("duplicate VRID: %v, %d dials", err, d.dials()-dials)
	}

	r.SetPriority("public", 120)
	var prio uint8
	r.do(func(time.Time) { prio = r.core.byName["public"].m.Priority() })
	if prio != 120 {
		t.Errorf("SetPriority: %d", prio)
	}

	// Removed: priority 0, socket closed, script stopped.
	eth1 := d.last("eth1")
	chs, err = r.Reconfigure(Options{Instances: []Instance{pub}})
	if err != nil || kinds(chs) != "public changed in place, gateway removed" {
		t.Fatalf("remove: %s, %v", kinds(chs), err)
	}
	select {
	case <-eth1.closed:
	default:
		t.Error("eth1's transport is open")
	}
	eth1.mu.Lock()
	if last := eth1.writes[len(eth1.writes)-1]; last.Priority != 0 {
		t.Errorf("gateway's last advert has priority %d", last.Priority)
	}
	eth1.mu.Unlock()
	if held(rtVIP2)() {
		t.Error("gateway's VIP kept")
	}
	runs := ex.count("/bin/db")
	time.Sleep(30 * time.Millisecond)
	if ex.count("/bin/db") > runs+1 { // one may have been under way
		t.Errorf("db ran %d times after its removal", ex.count("/bin/db")-runs)
	}

	r.Stop()
	if _, err := r.Reconfigure(Options{Instances: []Instance{pub, gw}}); !errors.Is(err, ErrStopped) {
		t.Errorf("after Stop: %v", err)
	}
	if !d.allClosed() {
		t.Error("a transport is left open")
	}
}

// Reconfigure racing with Stop: each call is applied whole or returns
// ErrStopped; every socket is closed in the end.
func TestRunnerReconfigureStop(t *testing.T) {
	for range 20 {
		pub := fastInstance("public", 51, "eth0", "192.0.2.1", rtVIP1)
		gw := fastInstance("gateway", 52, "eth1", "198.51.100.2", rtVIP2)
		r, d, _, _, _ := newTestRunner(t, pub)
		if err := r.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			for k := 0; ; k++ {
				opts := Options{Instances: []Instance{pub}}
				if k%2 == 0 {
					opts.Instances = append(opts.Instances, gw)
				}
				if _, err := r.Reconfigure(opts); err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(time.Millisecond)
		r.Stop()
		if err := <-done; !errors.Is(err, ErrStopped) {
			t.Fatalf("Reconfigure during Stop: %v", err)
		}
		if !d.allClosed() {
			t.Fatal("a transport is left open")
		}
	}
}

// A member restarted in a kept group rejoins it as a member that starts:
// on the node whose group is master it is pulled up to master at once;
// both nodes reloaded, the group is whole again on the higher node.
func TestCoreReconfigureSyncGroupRestart(t *testing.T) {
	s := newRTNet(t)
	lb := []SyncGroup{{Name: "lb", Instances: []string{"public", "gateway"}}}
	oa, ob := rtTwo(150, "1", nil), rtTwo(100, "2", nil)
	oa.SyncGroups, ob.SyncGroups = lb, lb
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(6 * time.Second)
	g := a.c.groups[0]
	vrid := func(in *Instance) { in.Config.VRID = 53 }

	chs, items := a.mustReconfigure(editOpts(oa, "gateway", vrid))
	if got := kinds(chs) + "; " + items[0].String(); got != "public kept, gateway restarted; sync_group lb: kept" {
		t.Errorf("changes %s", got)
	}
	if a.c.groups[0] != g || a.c.byName["gateway"].group != g {
		t.Error("the group was not kept")
	}
	if a.state("gateway") != Master || a.state("public") != Master {
		t.Errorf("a: public %v, gateway %v; want both master", a.state("public"), a.state("gateway"))
	}
	b.mustReconfigure(editOpts(ob, "gateway", vrid))
	s.until(3*time.Second, func() bool {
		return a.state("public") == Master && a.state("gateway") == Master && b.state("public") == Backup && b.state("gateway") == Backup
	})
	s.run(time.Second)
	if a.state("public") != Master || a.state("gateway") != Master || b.holds("eth0", rtVIP1) || b.holds("eth1", rtVIP2) {
		t.Errorf("a: %v %v; b holds %v", a.state("public"), a.state("gateway"), b.vips)
	}
}
