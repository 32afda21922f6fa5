package director

import (
	"maps"
	"slices"
	"time"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// A Snapshot is the director's state as the main loop last published it:
// immutable, so status, metrics and the status page read it from any
// goroutine without touching the loop's live maps.
type Snapshot struct {
	// Generation counts the snapshots published.
	Generation uint64
	Taken      time.Time
	Node       string
	File       string
	// Loaded is when the running config was loaded (start or reload).
	Loaded time.Time
	// Config is the running config. Read it, never change it.
	Config *conf.Cluster
	// Services is each virtual server's health, by service key. The
	// records are shared with the loop and later snapshots (the loop
	// replaces a record, never changes it): a snapshot copies pointers,
	// not 5 000 records, on every turn.
	Services []*ServiceHealth
	// VRRP is each instance's last state, in the file's order.
	VRRP    []InstanceState
	Reloads ReloadCounts
	// BGP is the BGP state; nil without a bgp block.
	BGP *BGPState
	// Placement is the config's placement hash ("" without BGP), and
	// PeerPlacement the other directors' as last read.
	Placement     string
	PeerPlacement []PeerPlacement

	// What Status reads beside the snapshot: each is safe for concurrent
	// use, and the loop publishes the one in force.
	rec       *ipvs.Reconciler     // nil with NoIPVS
	runner    *vrrp.Runner         // nil without VRRP instances
	mgr       *healthcheck.Manager // nil before the checks start
	overrides overrides            // a copy
	reconcile ReconcileCounts
}

// InstanceState is a VRRP instance as the last transition left it.
type InstanceState struct {
	Name     string
	State    string // MASTER, BACKUP, FAULT, INIT (no transition yet), STOP
	Priority uint8  // the priority at that transition
	Since    time.Time
}

// ReloadCounts are the reloads since start.
type ReloadCounts struct {
	OK, Failed int
	Last       time.Time // zero: none yet
	LastError  string    // of the last reload, "" when it was applied
}

// Snapshot returns the last published snapshot; nil before the start
// completed.
func (d *Director) Snapshot() *Snapshot { return d.snap.Load() }

// noteTransition records a VRRP transition for the snapshot; it runs on
// the loop.
func (d *Director) noteTransition(inst string, to vrrp.State, prio uint8) {
	d.instances[inst] = InstanceState{Name: inst, State: to.String(), Priority: prio, Since: time.Now()}
}

// publish makes a new snapshot of the loop's state.
func (d *Director) publish() {
	if d.c == nil {
		return
	}
	d.gen++
	d.published = time.Now()
	s := &Snapshot{
		Generation: d.gen,
		Taken:      d.published,
		Node:       d.node.Name,
		File:       d.cfg.Path,
		Loaded:     d.loadedAt,
		Config:     d.c,
		Services:   make([]*ServiceHealth, 0, len(d.health.services)),
		Reloads:    d.reloads,
		rec:        d.rec,
		mgr:        d.health.mgr,
		reconcile:  d.reconcile,
		BGP:        d.bgpState(),
		Placement:  d.placement,
		// notePlacement replaces the slice, never changes it.
		PeerPlacement: d.peerPlacement,
	}
	if d.vrrp != nil {
		s.runner = d.vrrp.runner
	}
	if len(d.overrides) > 0 { // none, the usual case: no copy each turn
		s.overrides = maps.Clone(d.overrides)
	}
	// The services in key order. The order is kept between turns and
	// sorted again only when the set of services changed (a reload): a
	// turn of the loop (each batch of health verdicts) then costs a copy,
	// not a sort. At 5 000 services × 10 checked real servers the sort
	// on every turn took a fifth of tandem's CPU (TestBenchScale's
	// profile).
	if !sameKeys(d.order, d.health.services) {
		d.order = d.order[:0]
		for k := range d.health.services {
			d.order = append(d.order, k)
		}
		slices.SortFunc(d.order, ipvs.ServiceKey.Compare)
	}
	for _, k := range d.order {
		s.Services = append(s.Services, d.health.services[k])
	}
	for _, v := range d.c.VRRP {
		st, ok := d.instances[v.Name]
		if !ok {
			st = InstanceState{Name: v.Name, State: "INIT", Priority: v.PriorityOf(d.node)}
		}
		s.VRRP = append(s.VRRP, st)
	}
	d.snap.Store(s)
	d.noteStatus(s)
}

// sameKeys reports whether order lists exactly the keys of m (each key
// once, as publish builds it).
func sameKeys(order []ipvs.ServiceKey, m map[ipvs.ServiceKey]*ServiceHealth) bool {
	if len(order) != len(m) {
		return false
	}
	for _, k := range order {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}
