package vrrp

import (
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The runner's loop publishes an immutable snapshot of each instance after
// every event that changed it (an advert, a timer, a transition, a track
// result, a reload), and Status copies the snapshots out: a reader never
// waits for the loop, and the loop never waits for a reader.

// InstanceStatus is one instance as the runner last published it: its
// configuration, its state and its counters. It is a plain value: Status
// returns copies the caller may keep and change.
type InstanceStatus struct {
	Name      string
	Interface string
	VRID      uint8
	Version   int        // 2 or 3
	Family    string     // "IPv4" or "IPv6"
	Primary   netip.Addr // this router's address: the source of its adverts
	Unicast   bool       // adverts go to the unicast peers, not to the multicast group
	Group     string     // the sync group; "" when none
	Addresses []netip.Prefix

	State State
	// Since is when the instance entered State (its last transition);
	// zero before the first (before Start).
	Since time.Time
	// Held reports that its sync group holds it in Backup.
	Held bool

	// Priority is the effective priority: ConfiguredPriority with the
	// track adjustments on top, 1..254 (255 for the owner).
	Priority           uint8
	ConfiguredPriority uint8
	// Master is the current master's address and MasterPriority the
	// priority of its last advert: this router's own while Master; as a
	// backup, the sender of the last advert it followed (a priority of 0
	// means that master is resigning); zero when not known (no advert yet,
	// Initialize, Fault).
	Master         netip.Addr
	MasterPriority uint8

	// Transitions counts the state changes; BecameMaster those to Master
	// and ReleasedMaster those from Master (for any reason: a better
	// master, a fault, a sync group, a shutdown), as keepalived's
	// became_master and release_master.
	Transitions, BecameMaster, ReleasedMaster uint64
	// AdvertsSent counts the adverts written (one per unicast peer),
	// priority 0 included, and SendErrors those that failed;
	// AdvertsReceived the adverts the instance accepted (handed to its
	// machine).
	AdvertsSent, SendErrors, AdvertsReceived uint64
	// Drops counts the adverts for this instance's VRID that it refused.
	Drops Drops
	// AnnounceBursts counts the gratuitous ARP / unsolicited NA bursts
	// started (on becoming master, on reasserting, on new addresses);
	// Announcements the rounds sent, each one packet per address (the
	// rounds of the bursts and the periodic refreshes).
	AnnounceBursts, Announcements uint64

	// Track lists what the instance tracks: its interfaces (its own
	// first), its track scripts in its order, then the external sources
	// of Runner.SetTrack by name.
	Track []TrackStatus
	// Fault lists why the instance is in Fault, sorted:
	// "interface:NAME" (down) and "script:NAME" (a failing weight-0
	// script); empty when it is not.
	Fault []string
}

// TrackKind says what a TrackStatus is about.
type TrackKind string

// Track kinds.
const (
	TrackKindInterface TrackKind = "interface" // an interface: down puts the instance in Fault
	TrackKindScript    TrackKind = "script"    // a track script
	TrackKindExternal  TrackKind = "external"  // a Runner.SetTrack source
)

// TrackStatus is one thing an instance tracks.
type TrackStatus struct {
	Kind TrackKind
	Name string
	// Known is false until the state is known: a script before its
	// first result, an interface before Start. An unknown one changes
	// nothing.
	Known bool
	// OK: the interface is up, the script succeeds; an external source
	// is OK unless its adjustment is negative. False when not Known.
	OK bool
	// Weight is the configured weight: a script's (0: Fault while it
	// fails), an external source's adjustment; 0 for an interface.
	Weight int
	// Delta is what it adds to the priority now.
	Delta int
}

// Drops counts the adverts an instance refused, by reason. The adverts
// no instance can be blamed for (a packet that does not parse, a VRID the
// node does not run) are only in Runner.Stats.
type Drops struct {
	BadTTL           uint64 // "bad_ttl": TTL / hop limit not 255
	NotPeer          uint64 // "not_peer": unicast instance, source not a peer
	AuthFailed       uint64 // "auth_failed": VRRPv2 authentication type or password mismatch
	VersionMismatch  uint64 // "version_mismatch": VRRP version other than the instance's
	IntervalMismatch uint64 // "interval_mismatch": VRRPv2 interval other than the instance's (or zero)
	OwnAddress       uint64 // "own_address": from the instance's own primary address
	Refused          uint64 // "refused": refused by Machine.Check for another reason (address family)
}

// All yields each reason's name (lower case with underscores, stable,
// meant as a Prometheus label value) and count, in the order of the
// fields, zero counts included.
func (d Drops) All() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		for _, r := range instanceDrops {
			if !yield(r.label(), *d.field(r)) {
				return
			}
		}
	}
}

// Drops yields each reason's name and count as Drops.All does, for the
// whole runner: the instances' reasons, then "malformed" and
// "unknown_vrid".
func (s Stats) Drops() iter.Seq2[string, uint64] {
	d := Drops{
		BadTTL: s.BadTTL, NotPeer: s.NotPeer, AuthFailed: s.AuthFailed, VersionMismatch: s.VersionMismatch,
		IntervalMismatch: s.IntervalMismatch, OwnAddress: s.OwnAddress, Refused: s.Refused,
	}
	return func(yield func(string, uint64) bool) {
		for r, n := range d.All() {
			if !yield(r, n) {
				return
			}
		}
		_ = yield(dropMalformed.label(), s.Malformed) && yield(dropUnknownVRID.label(), s.UnknownVRID)
	}
}

// instanceDrops are the reasons an instance is blamed for, in the order
// of Drops' fields.
var instanceDrops = []drop{dropTTL, dropNotPeer, dropAuth, dropVersion, dropInterval, dropSelf, dropOther}

func (d *Drops) field(r drop) *uint64 {
	switch r {
	case dropTTL:
		return &d.BadTTL
	case dropNotPeer:
		return &d.NotPeer
	case dropAuth:
		return &d.AuthFailed
	case dropVersion:
		return &d.VersionMismatch
	case dropInterval:
		return &d.IntervalMismatch
	case dropSelf:
		return &d.OwnAddress
	}
	return &d.Refused
}

// label is the reason's stable name, for metrics (String is for logs).
func (d drop) label() string {
	switch d {
	case dropMalformed:
		return "malformed"
	case dropTTL:
		return "bad_ttl"
	case dropUnknownVRID:
		return "unknown_vrid"
	case dropNotPeer:
		return "not_peer"
	case dropAuth:
		return "auth_failed"
	case dropVersion:
		return "version_mismatch"
	case dropInterval:
		return "interval_mismatch"
	case dropSelf:
		return "own_address"
	}
	return "refused"
}

// instCounters are one instance's counters, kept by the runner goroutine
// (plain fields: readers see them through the published snapshot).
type instCounters struct {
	transitions, becameMaster, releasedMaster uint64
	sent, sendErrors, received                uint64
	drops                                     [nDrops]uint64
	bursts, announced                         uint64
}

// Status returns each instance's status, in the order of
// Options.Instances (after a Reconfigure, of its Options.Instances), as
// last published by the runner goroutine: before Start, the configured
// values in Initialize; after Stop, the last ones (every instance back in
// Initialize). It is safe for concurrent use, cheap, and never waits for
// the runner goroutine.
//
// The counters of an instance that a Reconfigure kept, changed in place
// or restarted go on; those of one removed go with it (added again later,
// it starts from zero).
func (r *Runner) Status() []InstanceStatus { return r.core.status() }

// status copies out the published snapshots.
func (c *core) status() []InstanceStatus {
	p := c.pub.Load()
	if p == nil {
		return nil
	}
	out := make([]InstanceStatus, len(*p))
	for k, s := range *p {
		out[k] = *s
		out[k].Addresses = slices.Clone(s.Addresses)
		out[k].Track = slices.Clone(s.Track)
		out[k].Fault = slices.Clone(s.Fault)
	}
	return out
}

// publish rebuilds the snapshots of the instances changed since the last
// call (dirty), and publishes the list if any changed or the list did. It
// runs on the runner goroutine, after each event.
func (c *core) publish() {
	changed := c.relist
	for _, i := range c.insts {
		if i.dirty || i.snap == nil {
			i.snap, i.dirty = c.snapshot(i), false
			changed = true
		}
	}
	if !changed {
		return
	}
	c.relist = false
	l := make([]*InstanceStatus, len(c.insts))
	for k, i := range c.insts {
		l[k] = i.snap
	}
	c.pub.Store(&l)
}

// snapshot builds i's status; it is never changed once published.
func (c *core) snapshot(i *inst) *InstanceStatus {
	n := &i.n
	s := &InstanceStatus{
		Name: i.Name, Interface: i.Interface, VRID: i.Config.VRID, Version: i.Config.Version,
		Family: "IPv4", Primary: i.Config.Primary, Unicast: len(i.UnicastPeers) > 0,
		Addresses: slices.Clone(i.Addresses),
		State:     i.m.State(), Since: i.since, Held: i.m.Held(),
		Priority: i.m.Priority(), ConfiguredPriority: i.Config.Priority,
		Transitions: n.transitions, BecameMaster: n.becameMaster, ReleasedMaster: n.releasedMaster,
		AdvertsSent: n.sent, SendErrors: n.sendErrors, AdvertsReceived: n.received,
		AnnounceBursts: n.bursts, Announcements: n.announced,
	}
	if i.key.v6 {
		s.Family = "IPv6"
	}
	if i.group != nil {
		s.Group = i.group.Name
	}
	for _, r := range instanceDrops {
		*s.Drops.field(r) = n.drops[r]
	}
	switch s.State {
	case Master:
		s.Master, s.MasterPriority = i.Config.Primary, s.Priority
	case Backup:
		if a := i.m.Master(); a.IsValid() {
			s.Master, s.MasterPriority = a, i.masterPrio
		}
	}

	for k, name := range append([]string{i.Interface}, i.TrackInterfaces...) {
		if k > 0 && name == i.Interface {
			continue
		}
		up, known := c.links[name]
		s.Track = append(s.Track, TrackStatus{Kind: TrackKindInterface, Name: name, Known: known, OK: known && up})
	}
	for _, name := range i.TrackScripts {
		t := TrackStatus{Kind: TrackKindScript, Name: name, Delta: i.tracks["script:"+name]}
		if sc := c.scripts[name]; sc != nil {
			t.Known, t.OK, t.Weight = sc.known, sc.known && sc.up, sc.Weight
		}
		s.Track = append(s.Track, t)
	}
	var ext []TrackStatus
	for src, d := range i.tracks {
		if name, ok := strings.CutPrefix(src, "api:"); ok {
			ext = append(ext, TrackStatus{Kind: TrackKindExternal, Name: name, Known: true, OK: d >= 0, Weight: d, Delta: d})
		}
	}
	slices.SortFunc(ext, func(a, b TrackStatus) int { return strings.Compare(a.Name, b.Name) })
	s.Track = append(s.Track, ext...)

	for r := range i.faults {
		s.Fault = append(s.Fault, r)
	}
	slices.Sort(s.Fault)
	return s
}
