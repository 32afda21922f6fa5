package healthcheck

import (
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"sync"
	"time"
)

// Overload is not failure. A checker that is itself overloaded (its
// probes start late against their schedule, or the poller sees their
// deadlines late), or a hiccup shared by all the real servers of a service
// (a network fault, a server farm at capacity), makes probes time out
// that would have succeeded: if each such timeout counted, the table
// would empty itself exactly when it is needed most. The Manager
// therefore watches two signals:
//
//   - late probes: a probe is late when it starts more than
//     max(interval/4, LateMin) after its slot, or when it timed out and
//     the poller saw its deadline that much after it passed. In each
//     window of OverloadWindow, when at least LateEnterMin probes and
//     LateEnterPercent % of the probes were late, the checker is
//     overloaded; it stays so until a window with probes has fewer than
//     LateExitPercent % late. A window without a probe ends nothing: a
//     checker stalled for seconds runs none, and the late probes it then
//     finishes would otherwise be judged as if it had recovered (unless
//     no check runs at all).
//   - mass timeout: of a group's checks (a virtual server's, as the
//     caller declares them with SetGroups, and all the checks together),
//     those whose last probe timed out. When they are at least MassMin
//     and MassEnterPercent % of the group's checks that have probed, the
//     group is in a mass timeout until they fall under
//     MassExitPercent %.
//
// While the checker is overloaded, or a group the check belongs to is in
// a mass timeout, a probe that times out is not counted: the check keeps
// its state (Up stays Up, Unknown stays Unknown) and its failures in a
// row. A probe that fails otherwise (refused, reset, unreachable, a wrong
// status, a body mismatch) counts as always, so a real mass failure
// (servers stopped, ports closed) still takes the real servers out
// within their fall. A check already Down stays Down either way. Each
// episode is logged once when it starts and once when it ends.

// Overload thresholds (see above).
const (
	LateMin          = 100 * time.Millisecond
	OverloadWindow   = time.Second
	LateEnterMin     = 5
	LateEnterPercent = 10
	LateExitPercent  = 2
	MassMin          = 3
	MassEnterPercent = 50
	MassExitPercent  = 25
)

// probeLate reports whether a probe that should have happened at due and
// happened at at is late, for a check at interval.
func probeLate(due, at time.Time, interval time.Duration) bool {
	return !due.IsZero() && at.Sub(due) > max(interval/4, LateMin)
}

// lateOverloaded decides, at the end of a window with probes probes of
// which late were late, whether the checker is overloaded; was is the
// decision before.
func lateOverloaded(late, probes int, was bool) bool {
	if probes == 0 {
		return was // no evidence either way
	}
	if was {
		return late*100 >= probes*LateExitPercent
	}
	return late >= LateEnterMin && late*100 >= probes*LateEnterPercent
}

// massTimeout decides whether a group, of which probed checks have
// probed and timingOut timed out on their last probe, is in a mass
// timeout; was is the decision before.
func massTimeout(timingOut, probed int, was bool) bool {
	if timingOut < MassMin || probed == 0 {
		return false
	}
	if was {
		return timingOut*100 >= probed*MassExitPercent
	}
	return timingOut*100 >= probed*MassEnterPercent
}

// isTimeout reports whether a probe's error is a timeout: its deadline
// passed before the verdict was known.
func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// OverloadStatus is the checker's overload state, for status and metrics.
type OverloadStatus struct {
	// Overloaded: probes run late (see the thresholds); since when.
	Overloaded      bool
	OverloadedSince time.Time
	// MassTimeout: most of all the checks time out; since when.
	MassTimeout      bool
	MassTimeoutSince time.Time
	// LateProbes counts the late probes so far; HeldTimeouts the probe
	// timeouts not counted because of an episode.
	LateProbes   uint64
	HeldTimeouts uint64
	// Groups are the groups of SetGroups, by name order.
	Groups []GroupStatus
}

// Holding reports whether a check of no group in particular has its
// timeouts held.
func (s OverloadStatus) Holding() bool { return s.Overloaded || s.MassTimeout }

// GroupStatus is one group's mass-timeout state.
type GroupStatus struct {
	Name string
	// MassTimeout: most of the group's checks time out; since when.
	MassTimeout bool
	Since       time.Time
	Checks      int // in the group
	Probed      int // of which have probed
	TimingOut   int // of which timed out on their last probe
}

// group is a set of checks watched for a mass timeout.
type group struct {
	name      string
	checks    int
	probed    int
	timingOut int
	mass      bool
	since     time.Time
}

// observe moves g's counts for a check whose last result went from
// (probed, out) to (true, timedOut), and reports whether g's mass timeout
// started or ended.
func (g *group) observe(probed, out, timedOut bool, now time.Time) (changed bool) {
	if !probed {
		g.probed++
	}
	switch {
	case out && !timedOut:
		g.timingOut--
	case !out && timedOut:
		g.timingOut++
	}
	return g.update(now)
}

func (g *group) update(now time.Time) bool {
	mass := massTimeout(g.timingOut, g.probed, g.mass)
	if mass == g.mass {
		return false
	}
	g.mass = mass
	g.since = now
	return true
}

// overload is the Manager's overload detector. Its lock is taken under a
// check's (never the other way round).
type overload struct {
	mu     sync.Mutex
	all    group
	groups map[string]*group
	// The window of late probes.
	winStart     time.Time
	winProbes    int
	winLate      int
	overloaded   bool
	overSince    time.Time
	lateProbes   uint64
	heldTimeouts uint64
	// news are the episodes started or ended, to log outside the lock.
	news []episode
}

// episode is the start or end of an overload or mass timeout.
type episode struct {
	what  string // "checker overloaded", "mass timeout"
	group string // the group of a mass timeout; "" for all the checks
	start bool
	g     GroupStatus
	late  int // of probes, in the window that decided
	n     int
}

// ovState is a check's part of the detector, under overload.mu.
type ovState struct {
	probed    bool // it has a result
	timingOut bool // its last probe timed out
	groups    []*group
}

// observe records the end of one probe of check s at now: timedOut, and
// late (see probeLate). It reports whether a timeout of s is to be held.
func (o *overload) observe(s *ovState, timedOut, late bool, now time.Time) (hold bool, news []episode) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() { news, o.news = o.news, nil }()
	o.window(now)
	o.winProbes++
	if late {
		o.winLate++
		o.lateProbes++
	}
	if o.all.observe(s.probed, s.timingOut, timedOut, now) {
		o.noteGroup(&o.all)
	}
	for _, g := range s.groups {
		if g.observe(s.probed, s.timingOut, timedOut, now) {
			o.noteGroup(g)
		}
	}
	s.probed, s.timingOut = true, timedOut
	hold = o.overloaded || o.all.mass
	for _, g := range s.groups {
		hold = hold || g.mass
	}
	if hold && timedOut {
		o.heldTimeouts++
	}
	return hold, nil
}

// window closes the window of late probes if now is past it, and
// decides whether the checker is overloaded.
func (o *overload) window(now time.Time) {
	if o.winStart.IsZero() {
		o.winStart = now
		return
	}
	if now.Sub(o.winStart) < OverloadWindow {
		return
	}
	probes, late := o.winProbes, o.winLate
	if now.Sub(o.winStart) >= 2*OverloadWindow {
		probes, late = 0, 0 // a window with no probe at all passed
	}
	over := lateOverloaded(late, probes, o.overloaded)
	if o.all.checks == 0 {
		over = false // nothing left to be late
	}
	if over != o.overloaded {
		o.overloaded, o.overSince = over, now
		o.news = append(o.news, episode{what: "checker overloaded", start: over, late: late, n: probes})
	}
	o.winStart, o.winProbes, o.winLate = now, 0, 0
}

func (o *overload) noteGroup(g *group) {
	name := g.name
	o.news = append(o.news, episode{what: "mass timeout", group: name, start: g.mass, g: g.status()})
}

func (g *group) status() GroupStatus {
	return GroupStatus{Name: g.name, MassTimeout: g.mass, Since: g.since, Checks: g.checks, Probed: g.probed, TimingOut: g.timingOut}
}

// join adds a check to the detector.
func (o *overload) join(*ovState) {
	o.mu.Lock()
	o.all.checks++
	o.mu.Unlock()
}

// leave takes a stopped check out of the detector.
func (o *overload) leave(s *ovState, now time.Time) (news []episode) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() { news, o.news = o.news, nil }()
	o.all.leave(s)
	if o.all.update(now) {
		o.noteGroup(&o.all)
	}
	for _, g := range s.groups {
		g.leave(s)
		if g.update(now) {
			o.noteGroup(g)
		}
	}
	s.groups = nil
	return nil
}

func (g *group) leave(s *ovState) {
	g.checks--
	if s.probed {
		g.probed--
	}
	if s.timingOut {
		g.timingOut--
	}
}

// setGroups replaces the groups: members maps each group's name to its
// checks' states.
func (o *overload) setGroups(members map[string][]*ovState, all []*ovState, now time.Time) (news []episode) {
	o.mu.Lock()
	defer o.mu.Unlock()
	defer func() { news, o.news = o.news, nil }()
	for _, s := range all {
		s.groups = s.groups[:0]
	}
	old := o.groups
	o.groups = make(map[string]*group, len(members))
	for name, ss := range members {
		g := &group{name: name}
		if og, ok := old[name]; ok {
			g.mass, g.since = og.mass, og.since
		}
		for _, s := range ss {
			if slices.Contains(s.groups, g) {
				continue
			}
			s.groups = append(s.groups, g)
			g.checks++
			if s.probed {
				g.probed++
			}
			if s.timingOut {
				g.timingOut++
			}
		}
		if g.update(now) {
			o.noteGroup(g)
		}
		o.groups[name] = g
	}
	for name, og := range old {
		if _, ok := o.groups[name]; !ok && og.mass {
			og.mass = false
			o.noteGroup(og)
		}
	}
	return nil
}

// status returns the detector's state at now.
func (o *overload) status(now time.Time) OverloadStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := OverloadStatus{
		Overloaded: o.overloaded, OverloadedSince: o.overSince,
		MassTimeout: o.all.mass, MassTimeoutSince: o.all.since,
		LateProbes: o.lateProbes, HeldTimeouts: o.heldTimeouts,
	}
	if st.Overloaded && !o.winStart.IsZero() && now.Sub(o.winStart) >= 2*OverloadWindow {
		st.Overloaded = false // no probe for two windows: nothing is late
	}
	for _, g := range o.groups {
		st.Groups = append(st.Groups, g.status())
	}
	slices.SortFunc(st.Groups, func(a, b GroupStatus) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return st
}
