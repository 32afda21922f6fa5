package vrrp

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// status publishes the node's snapshots, as the runner's loop does after
// each event, and returns inst's.
func (n *rtNode) status(inst string) InstanceStatus {
	n.net.t.Helper()
	n.c.publish()
	for _, s := range n.c.status() {
		if s.Name == inst {
			return s
		}
	}
	n.net.t.Fatalf("%s: no status for %s", n.name, inst)
	return InstanceStatus{}
}

// A backup shows the master's address and priority, the master itself;
// a takeover and a release are counted, as are adverts and announcements.
func TestCoreStatusElection(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a, b := s.add("a", oa), s.add("b", ob)
	addrA, addrB := oa.Instances[0].Config.Primary, ob.Instances[0].Config.Primary

	st := b.status("public")
	if st.State != Backup || st.Master.IsValid() || st.MasterPriority != 0 || st.Since != s.now || st.Transitions != 1 {
		t.Errorf("b before any advert: %v since %v, master %v/%d, %d transitions", st.State, st.Since, st.Master, st.MasterPriority, st.Transitions)
	}

	s.run(time.Second)
	sa, sb := a.status("public"), b.status("public")
	if sa.State != Master || sa.Master != addrA || sa.MasterPriority != 150 {
		t.Errorf("a: %v, master %v/%d; want MASTER, itself/150", sa.State, sa.Master, sa.MasterPriority)
	}
	if sb.State != Backup || sb.Master != addrA || sb.MasterPriority != 150 || sb.Priority != 100 {
		t.Errorf("b: %v, master %v/%d, priority %d; want BACKUP, %v/150, 100", sb.State, sb.Master, sb.MasterPriority, sb.Priority, addrA)
	}
	took := a.trans[1] // "public BACKUP>MASTER ..."
	if sa.Transitions != 2 || sa.BecameMaster != 1 || sa.ReleasedMaster != 0 || sa.Since.Before(rtStart.Add(300*time.Millisecond)) {
		t.Errorf("a: %d transitions, became master %d, released %d, since %v (%s)", sa.Transitions, sa.BecameMaster, sa.ReleasedMaster, sa.Since.Sub(rtStart), took)
	}
	if sa.AdvertsSent == 0 || sa.AdvertsReceived != 0 || sb.AdvertsReceived != sa.AdvertsSent || sb.AdvertsSent != 0 {
		t.Errorf("adverts: a sent %d, received %d; b sent %d, received %d", sa.AdvertsSent, sa.AdvertsReceived, sb.AdvertsSent, sb.AdvertsReceived)
	}
	if sa.AnnounceBursts != 1 || sa.Announcements != uint64(DefaultGARP.Count) || sb.AnnounceBursts != 0 {
		t.Errorf("announcements: a %d bursts, %d rounds; b %d bursts", sa.AnnounceBursts, sa.Announcements, sb.AnnounceBursts)
	}
	if st := a.c.cnt.stats(); st.Sent != sa.AdvertsSent {
		t.Errorf("runner-wide Sent %d, the instance's %d", st.Sent, sa.AdvertsSent)
	}

	// a stops: its priority 0 shows on b until b takes over.
	a.c.shutdown(s.now)
	s.run(2 * time.Millisecond)
	a.dead = true
	if sb := b.status("public"); sb.State != Backup || sb.Master != addrA || sb.MasterPriority != 0 {
		t.Errorf("b after a's priority 0: %v, master %v/%d", sb.State, sb.Master, sb.MasterPriority)
	}
	s.until(time.Second, func() bool { return b.state("public") == Master })
	sa, sb = a.status("public"), b.status("public")
	if sa.State != Initialize || sa.ReleasedMaster != 1 || sa.Transitions != 3 || sa.Master.IsValid() {
		t.Errorf("a after shutdown: %v, released %d, %d transitions, master %v", sa.State, sa.ReleasedMaster, sa.Transitions, sa.Master)
	}
	if sb.BecameMaster != 1 || sb.Transitions != 2 || sb.Master != addrB || sb.MasterPriority != 100 || sb.Since != s.now {
		t.Errorf("b after takeover: became master %d, %d transitions, master %v/%d, since %v", sb.BecameMaster, sb.Transitions, sb.Master, sb.MasterPriority, sb.Since.Sub(rtStart))
	}
}

// Each refused advert is counted on the instance whose VRID it is for,
// under its reason; what no instance owns stays runner-wide.
func TestCoreStatusDrops(t *testing.T) {
	s := newRTNet(t)
	a := s.add("a", rtTwo(150, "1", func(in *Instance) {
		in.Config.Version = 2
		in.Config.AdvertInterval = time.Second
		in.AuthPass = "secret"
	}))
	s.run(5 * time.Second)
	eth0, eth1 := tkey{"eth0", false}, tkey{"eth1", false}
	adv := func(vrid uint8, pass string) *Packet {
		p := &Packet{Version: 2, VRID: vrid, Priority: 200, Interval: time.Second, Addresses: []netip.Addr{rtVIP1.Addr()}}
		p.SetPassword(pass)
		return p
	}
	peer0, peer1 := netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("198.51.100.3")
	a.c.packet(s.now, eth0, adv(51, "wrong"), peer0, GroupV4)
	a.c.packet(s.now, eth0, adv(51, "wrong"), peer0, GroupV4)
	v3 := adv(52, "")
	v3.Version = 3
	a.c.packet(s.now, eth1, v3, peer1, GroupV4)
	a.c.dropped(s.now, eth1, &DropError{Src: peer1, Err: ErrTTL, Packet: adv(52, "secret")})
	a.c.packet(s.now, eth1, adv(9, "secret"), peer1, GroupV4)                                // another cluster
	a.c.dropped(s.now, eth0, &DropError{Src: peer0, Err: ErrChecksum})                       // no VRID
	a.c.packet(s.now, eth1, adv(52, "secret"), netip.MustParseAddr("198.51.100.1"), GroupV4) // its own

	pub, gw := a.status("public"), a.status("gateway")
	if want := (Drops{AuthFailed: 2}); pub.Drops != want {
		t.Errorf("public's drops %+v, want %+v", pub.Drops, want)
	}
	if want := (Drops{VersionMismatch: 1, BadTTL: 1, OwnAddress: 1}); gw.Drops != want {
		t.Errorf("gateway's drops %+v, want %+v", gw.Drops, want)
	}
	st := a.c.cnt.stats()
	if st.AuthFailed != 2 || st.BadTTL != 1 || st.UnknownVRID != 1 || st.Malformed != 1 {
		t.Errorf("runner-wide %+v", st)
	}

	got := maps.Collect(gw.Drops.All())
	want := map[string]uint64{"bad_ttl": 1, "not_peer": 0, "auth_failed": 0, "version_mismatch": 1, "interval_mismatch": 0, "own_address": 1, "refused": 0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("gateway's Drops.All (-want +got):\n%s", diff)
	}
	var names []string
	for r := range st.Drops() {
		names = append(names, r)
	}
	if want := []string{"bad_ttl", "not_peer", "auth_failed", "version_mismatch", "interval_mismatch", "own_address", "refused", "malformed", "unknown_vrid"}; !slices.Equal(names, want) {
		t.Errorf("Stats.Drops reasons %q, want %q", names, want)
	}
}

// Tracking: the effective priority against the configured one, each
// tracked thing with its state and weight, the fault reasons.
func TestCoreStatusTracking(t *testing.T) {
	s := newRTNet(t)
	oa, _ := rtPair(150, 100, func(in *Instance) {
		in.TrackScripts = []string{"db", "web"}
		in.TrackInterfaces = []string{"eth9"}
	})
	oa.TrackScripts = []TrackScript{
		{Name: "db", Command: []string{"/bin/db"}, Interval: time.Second, Timeout: time.Second, Weight: -60, Rise: 1, Fall: 1},
		{Name: "web", Command: []string{"/bin/web"}, Interval: time.Second, Timeout: time.Second, Weight: 0, Rise: 1, Fall: 1},
	}
	a := s.add("a", oa)
	s.run(time.Second)
	a.c.scriptResult(s.now, "db", false)
	a.c.setTrack(s.now, "public", "api:health", -10)

	st := a.status("public")
	if st.Priority != 80 || st.ConfiguredPriority != 150 {
		t.Errorf("priority %d, configured %d; want 80, 150", st.Priority, st.ConfiguredPriority)
	}
	want := []TrackStatus{
		{Kind: TrackKindInterface, Name: "eth0", Known: true, OK: true},
		{Kind: TrackKindInterface, Name: "eth9", Known: true, OK: true},
		{Kind: TrackKindScript, Name: "db", Known: true, OK: false, Weight: -60, Delta: -60},
		{Kind: TrackKindScript, Name: "web"},
		{Kind: TrackKindExternal, Name: "health", Known: true, OK: false, Weight: -10, Delta: -10},
	}
	if diff := cmp.Diff(want, st.Track); diff != "" {
		t.Errorf("track (-want +got):\n%s", diff)
	}
	if st.Fault != nil {
		t.Errorf("fault %q, want none", st.Fault)
	}

	a.c.link(s.now, "eth9", false)
	a.c.scriptResult(s.now, "web", false)
	st = a.status("public")
	if st.State != Fault || !slices.Equal(st.Fault, []string{"interface:eth9", "script:web"}) || st.Master.IsValid() {
		t.Errorf("%v, fault %q, master %v; want FAULT for interface:eth9 and script:web", st.State, st.Fault, st.Master)
	}
	if st.Track[1].OK || st.Track[3].OK || !st.Track[3].Known {
		t.Errorf("track %+v", st.Track)
	}
	a.c.link(s.now, "eth9", true)
	a.c.scriptResult(s.now, "web", true)
	if st = a.status("public"); st.State == Fault || st.Fault != nil {
		t.Errorf("%v, fault %q after recovery", st.State, st.Fault)
	}
}

// Counters survive a reload for an instance kept, changed in place or
// restarted; one removed and added again starts from zero. The order is
// the new configuration's.
func TestCoreStatusReconfigure(t *testing.T) {
	s := newRTNet(t)
	oa := rtTwo(150, "1", nil)
	a := s.add("a", oa)
	s.run(time.Second)
	before := map[string]InstanceStatus{"public": a.status("public"), "gateway": a.status("gateway")}

	// public changed in place, gateway restarted, and the order reversed.
	o := editOpts(oa, "public", func(in *Instance) { in.Config.Priority = 120 })
	o = editOpts(o, "gateway", func(in *Instance) { in.Config.VRID = 53 })
	o.Instances[0], o.Instances[1] = o.Instances[1], o.Instances[0]
	chs, _ := a.mustReconfigure(o)
	if got := kinds(chs); got != "gateway restarted, public changed in place" {
		t.Fatalf("changes %s", got)
	}
	a.c.publish()
	all := a.c.status()
	if len(all) != 2 || all[0].Name != "gateway" || all[1].Name != "public" {
		t.Fatalf("order after the reload: %v", all)
	}
	pub, gw := all[1], all[0]
	if pub.ConfiguredPriority != 120 || pub.Priority != 120 || pub.Transitions != before["public"].Transitions || pub.AdvertsSent != before["public"].AdvertsSent {
		t.Errorf("public changed in place: priority %d/%d, %d transitions, %d sent; was %+v", pub.Priority, pub.ConfiguredPriority, pub.Transitions, pub.AdvertsSent, before["public"])
	}
	// Restarted: MASTER>INIT, then INIT>MASTER (alone on its link).
	bg := before["gateway"]
	if gw.VRID != 53 || gw.Transitions != bg.Transitions+2 || gw.ReleasedMaster != 1 || gw.BecameMaster != 1 || gw.AdvertsSent <= bg.AdvertsSent {
		t.Errorf("gateway restarted: VRID %d, %d transitions, released %d, became %d, %d sent; was %+v", gw.VRID, gw.Transitions, gw.ReleasedMaster, gw.BecameMaster, gw.AdvertsSent, bg)
	}
	s.run(time.Second)
	if gw = a.status("gateway"); gw.State != Master || gw.BecameMaster != 2 {
		t.Errorf("gateway: %v, became master %d; want MASTER, 2", gw.State, gw.BecameMaster)
	}

	a.mustReconfigure(without(o, "gateway"))
	a.c.publish()
	if all := a.c.status(); len(all) != 1 || all[0].Name != "public" {
		t.Fatalf("after removing gateway: %v", all)
	}
	a.mustReconfigure(o)
	if gw := a.status("gateway"); gw.Transitions != 1 || gw.BecameMaster != 0 || gw.AdvertsSent != 0 {
		t.Errorf("gateway added again: %d transitions, became master %d, %d sent; want fresh counters", gw.Transitions, gw.BecameMaster, gw.AdvertsSent)
	}
}

// Status through the Runner: before Start, while it runs (read
// concurrently, under -race), after a reload and after Stop. The copies
// it returns are the caller's.
func TestRunnerStatus(t *testing.T) {
	in := fastInstance("public", 51, "eth0", "192.0.2.1", rtVIP1)
	r, d, _, _, _ := newTestRunner(t, in)

	st := r.Status()
	if len(st) != 1 || st[0].State != Initialize || st[0].ConfiguredPriority != 150 || st[0].Priority != 150 ||
		!st[0].Since.IsZero() || st[0].Family != "IPv4" || st[0].VRID != 51 || st[0].Version != 3 || st[0].Track[0].Known {
		t.Fatalf("before Start: %+v", st)
	}
	st[0].Addresses[0] = rtVIP2
	st[0].Track[0].Name = "x"
	if got := r.Status()[0]; got.Addresses[0] != rtVIP1 || got.Track[0].Name != "eth0" {
		t.Fatalf("Status shares memory with its caller: %+v", got)
	}

	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, s := range r.Status() {
					_ = s.Track
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	one := func() InstanceStatus { return r.Status()[0] }
	waitFor(t, "master", func() bool { return one().State == Master })
	if s := one(); s.BecameMaster != 1 || s.Master != in.Config.Primary || s.Since.IsZero() {
		t.Errorf("master: %+v", s)
	}
	waitFor(t, "adverts sent", func() bool { return one().AdvertsSent > 2 })

	// A better master (with a 1s interval, learned: this one stays
	// backup for 3s) takes over.
	peer := netip.MustParseAddr("192.0.2.2") // rtRecTransport's source
	d.last("eth0").in <- &Packet{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 200, Interval: time.Second, Addresses: []netip.Addr{rtVIP1.Addr()}}
	waitFor(t, "backup", func() bool { return one().State == Backup })
	if s := one(); s.Master != peer || s.MasterPriority != 200 || s.ReleasedMaster != 1 || s.AdvertsReceived != 1 || s.Transitions != 3 {
		t.Errorf("backup: %+v", s)
	}

	// In place: published before SetPriority returns; counters go on.
	r.SetPriority("public", 120)
	if s := one(); s.ConfiguredPriority != 120 || s.Transitions != 3 || s.AdvertsReceived != 1 {
		t.Errorf("after SetPriority: %+v", s)
	}
	r.SetTrack("public", "health", -20)
	waitFor(t, "external track", func() bool { return one().Priority == 100 })

	r.Stop()
	s := one()
	if s.State != Initialize || s.Transitions != 4 || s.ReleasedMaster != 1 || s.AdvertsReceived != 1 || s.Track[1].Delta != -20 {
		t.Errorf("after Stop: %+v", s)
	}
}
