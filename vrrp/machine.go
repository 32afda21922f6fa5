package vrrp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

//go:generate go tool stringer -type=State,EventKind,ActionKind,Reason -linecomment -output=state_string.go

// State is a virtual router's state: RFC 5798 §6.4's Initialize, Backup and
// Master, plus Fault (keepalived's), in which the router takes no part.
type State uint8

// States. The zero State is Initialize.
const (
	Initialize State = iota // INIT
	Backup                  // BACKUP
	Master                  // MASTER
	Fault                   // FAULT
)

// EventKind says what happened.
type EventKind uint8

// Event kinds.
const (
	// Startup starts the machine: Initialize → Backup, or → Master for
	// the address owner (priority 255).
	Startup EventKind = iota + 1 // Startup
	// Shutdown stops it: → Initialize; a master sends priority 0 first.
	Shutdown // Shutdown
	// Timer is the delivery of the timer the last SetTimer armed.
	Timer // Timer
	// Advert is a received advertisement: Event.Packet and Event.From.
	Advert // Advert
	// SetPriority sets the effective priority (tracking): Event.Priority.
	SetPriority // SetPriority
	// Fail puts the router in Fault: interface down or a failing
	// tracker. (The event cannot share the state's name.)
	Fail // Fail
	// Recover ends a Fault: → Backup, or → Master for the owner.
	Recover // Recover
	// ForceMaster is a sync group's order: a backup becomes master.
	ForceMaster // ForceMaster
	// ForceBackup is a sync group's order: a master becomes backup, and
	// the machine does not become master by itself until ForceMaster,
	// Fail or Shutdown (it is held by the group).
	ForceBackup // ForceBackup
	// Release is a sync group's order: a machine held by ForceBackup is
	// held no more and becomes master by its own timer again (a reload
	// took it out of its group, or the member it followed left it).
	Release // Release
)

// An Event is the input of Machine.Step.
type Event struct {
	Kind EventKind
	// Packet is the advert, for Advert. The edge has already parsed it
	// and checked its TTL and authentication; Step ignores an advert that
	// Check refuses.
	Packet *Packet
	// From is the IP source of the advert: the sender's primary address.
	From netip.Addr
	// Priority is the new effective priority, for SetPriority.
	Priority uint8
}

// ActionKind says what the caller must do.
type ActionKind uint8

// Action kinds.
const (
	// SendAdvert: send an advert with Action.Priority (0 on leaving
	// Master), the configured interval and the virtual addresses.
	SendAdvert ActionKind = iota + 1 // SendAdvert
	// TakeVIPs: add the virtual addresses to the interface (and start
	// answering for them).
	TakeVIPs // TakeVIPs
	// ReleaseVIPs: remove the virtual addresses.
	ReleaseVIPs // ReleaseVIPs
	// Announce: send the gratuitous ARP / unsolicited NA burst for the
	// virtual addresses (after TakeVIPs, or as master again).
	Announce // Announce
	// SetTimer: deliver a Timer event at Action.At, replacing the one
	// timer of the machine; a zero At stops it.
	SetTimer // SetTimer
	// Transition: the state changed from Action.From to Action.To for
	// Action.Reason (logs, notify hooks, sync groups, the connection-sync
	// role).
	Transition // Transition
)

// Reason says why a Transition happened: which event, in which
// circumstances, made the machine change state. Its String is meant for
// logs.
type Reason uint8

// Reasons. The zero Reason is that of actions other than Transition.
const (
	ReasonNone Reason = iota // none
	// ReasonStartup: Startup (Initialize → Backup, or → Master for the
	// owner, priority 255).
	ReasonStartup // startup
	// ReasonShutdown: Shutdown (→ Initialize).
	ReasonShutdown // shutdown
	// ReasonMasterDown: Backup → Master because the Master_Down_Timer
	// expired: no advert from a master for Master_Down_Interval.
	ReasonMasterDown // advert timeout (master down timer expired)
	// ReasonMasterLeft: Backup → Master after an advert with priority 0
	// (the master resigned): at once with PairHandover, else when the
	// Skew_Time timer it armed expired.
	ReasonMasterLeft // priority 0 received (the master resigned)
	// ReasonPreempt: Backup → Master because the master's priority is
	// lower and this router preempts: its adverts were discarded until
	// the Master_Down_Timer expired.
	ReasonPreempt // preempt: the master has a lower priority
	// ReasonHigherPriority: Master → Backup on an advert with a higher
	// priority.
	ReasonHigherPriority // higher priority master seen
	// ReasonHigherAddress: Master → Backup on an advert with the same
	// priority from a higher address (the tie-breaker).
	ReasonHigherAddress // equal priority master with a higher address seen
	// ReasonFault: Fail (interface down, failing tracker) → Fault.
	ReasonFault // fault
	// ReasonFaultCleared: Recover, Fault → Backup (or Master for the owner).
	ReasonFaultCleared // fault cleared
	// ReasonSyncGroup: ForceMaster or ForceBackup, following another
	// member of the sync group.
	ReasonSyncGroup // sync group
)

// An Action is an output of Machine.Step, to be performed in order.
type Action struct {
	Kind     ActionKind
	Priority uint8     // SendAdvert
	At       time.Time // SetTimer; zero stops the timer
	From, To State     // Transition
	Reason   Reason    // Transition
}

// A Config is one virtual router's settings, as NewMachine checks them.
type Config struct {
	VRID    uint8
	Version int // 2 or 3
	// Priority is the base priority, 1..255; 255 is the address owner,
	// which becomes Master at once and always preempts.
	Priority uint8
	// AdvertInterval is the Advertisement_Interval: v3 10ms..40.95s in
	// whole centiseconds, v2 1s..255s in whole seconds.
	AdvertInterval time.Duration
	// Preempt lets a higher-priority backup take over from a lower
	// master (RFC 5798 Preempt_Mode).
	Preempt bool
	// PreemptDelay, with Preempt, makes a backup accept a lower master
	// for this long after it first hears it before preempting it (as
	// keepalived's preempt_delay); 0..1000s.
	PreemptDelay time.Duration
	// Accept is RFC 5798's Accept_Mode. The machine only carries it: the
	// edge decides whether a master accepts packets for the VIPs.
	Accept bool
	// Primary is this router's address on the interface: the source of
	// its adverts and, at equal priority, the tie-breaker (the higher
	// address wins). Version 2 needs IPv4.
	Primary netip.Addr
	// PairHandover, for a pair of routers, makes a backup that hears
	// priority 0 (the master is leaving) become master at once, instead
	// of after Skew_Time as RFC 5798 says.
	PairHandover bool
}

// MaxPreemptDelay is the longest PreemptDelay (keepalived's bound).
const MaxPreemptDelay = 1000 * time.Second

// Errors of Machine.Check.
var (
	ErrVRID = errors.New("vrrp: advert for another virtual router")
	ErrSelf = errors.New("vrrp: advert from this router's own address")
)

// validate checks c as NewMachine needs it, in the manner of raft's
// Config.validate.
func (c *Config) validate() error {
	if c.VRID == 0 {
		return errors.New("vrrp: VRID must be 1..255")
	}
	if c.Priority == 0 {
		return errors.New("vrrp: priority must be 1..255")
	}
	if !c.Primary.IsValid() {
		return errors.New("vrrp: primary address missing")
	}
	c.Primary = c.Primary.Unmap()
	iv := c.AdvertInterval
	switch c.Version {
	case 3:
		if iv < centisecond || iv > MaxIntervalV3 || iv%centisecond != 0 {
			return fmt.Errorf("vrrp: v3 advert interval must be whole centiseconds in 10ms..40.95s, not %v", iv)
		}
	case 2:
		if iv < time.Second || iv > MaxIntervalV2 || iv%time.Second != 0 {
			return fmt.Errorf("vrrp: v2 advert interval must be whole seconds in 1s..255s, not %v", iv)
		}
		if !c.Primary.Is4() {
			return fmt.Errorf("vrrp: VRRPv2 is IPv4 only, primary %v", c.Primary)
		}
	default:
		return fmt.Errorf("vrrp: version must be 2 or 3, not %d", c.Version)
	}
	if c.PreemptDelay < 0 || c.PreemptDelay > MaxPreemptDelay {
		return fmt.Errorf("vrrp: preempt delay must be 0..%v, not %v", MaxPreemptDelay, c.PreemptDelay)
	}
	if c.PreemptDelay > 0 && !c.Preempt {
		return errors.New("vrrp: preempt delay without preempt")
	}
	return nil
}

// Owner is the priority of the router that owns the virtual addresses.
const Owner = 255

// A Machine is the state machine of one virtual router (RFC 5798 §6.4,
// RFC 3768 §6.4). It is pure: it reads no clock, opens no socket, starts
// no goroutine and draws no random number; Step takes the time and an
// event and returns the actions.
//
// A Machine is not safe for concurrent use: one goroutine owns it (see the
// package documentation for the caller's loop).
type Machine struct {
	cfg   Config
	state State
	prio  uint8 // effective priority

	masterAdverInterval time.Duration
	timer               time.Time // when the armed timer fires; zero when none
	preemptAt           time.Time // preempt delay: lower masters are accepted until then
	master              netip.Addr
	held                bool       // ForceBackup: do not become master by own timer
	primary             netip.Addr // cfg.Primary without zone, for comparisons
	// downReason is the Reason of Backup → Master when the armed
	// Master_Down_Timer expires: what the last advert made of it.
	downReason Reason
}

// NewMachine returns a machine in Initialize, or an error if cfg is not
// valid.
func NewMachine(cfg Config) (*Machine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Machine{
		cfg:                 cfg,
		prio:                cfg.Priority,
		masterAdverInterval: cfg.AdvertInterval,
		primary:             cfg.Primary.WithZone(""),
	}, nil
}

// Config returns the machine's configuration.
func (m *Machine) Config() Config { return m.cfg }

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Priority returns the effective priority: the base priority as changed by
// SetPriority, 1..254, or 255 for the owner.
func (m *Machine) Priority() uint8 { return m.prio }

// MasterAdverInterval returns the Master_Adver_Interval: the interval
// learned from the master's adverts (v3), or the configured one.
func (m *Machine) MasterAdverInterval() time.Duration { return m.masterAdverInterval }

// MasterDownInterval returns 3 × Master_Adver_Interval + Skew_Time.
func (m *Machine) MasterDownInterval() time.Duration {
	return 3*m.masterAdverInterval + m.skewTime()
}

// Master returns the source of the last advert a backup accepted (the
// master it follows); zero otherwise.
func (m *Machine) Master() netip.Addr {
	if m.state != Backup {
		return netip.Addr{}
	}
	return m.master
}

// Timer returns when the armed timer fires, or zero if none is armed.
func (m *Machine) Timer() time.Time { return m.timer }

// Held reports whether a sync group holds the machine in Backup
// (ForceBackup, until ForceMaster, Release, Fail or Shutdown).
func (m *Machine) Held() bool { return m.held }

// SetConfig changes the configuration in place, as a reload does: the
// state, the armed timer and the master followed are kept, and nothing
// happens at once (it returns no actions). It refuses, changing nothing,
// an invalid cfg and what makes another virtual router: a new VRID,
// Version or Primary, or a Priority to or from Owner (the owner becomes
// master at once and always preempts); those need a new Machine.
//
// What the rest changes, from the next event on:
//
//   - Priority: the effective priority becomes the new one (a caller that
//     adjusts it, by tracking, steps SetPriority again). As for
//     SetPriority, a master stays master until a backup preempts it.
//   - AdvertInterval: a master's armed Adver_Timer keeps its time; the
//     adverts from the next on carry the new interval and are spaced by
//     it. A VRRPv3 backup that follows a master keeps the
//     Master_Adver_Interval it learned (RFC 5798 §6.4.2) and learns the
//     new one from the master's next advert; the armed
//     Master_Down_Timer keeps its time. A VRRPv2 backup, which uses its
//     own, uses the new one from its next Master_Down_Interval on, and
//     refuses adverts with another (RFC 3768 §7.1): its peer must be
//     reloaded too.
//   - Preempt, PreemptDelay: a preempt delay running is forgotten, so it
//     starts again from the next lower advert (never sooner than the new
//     delay).
//   - Accept, PairHandover: carried.
func (m *Machine) SetConfig(cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	old := m.cfg
	switch {
	case cfg.VRID != old.VRID || cfg.Version != old.Version || cfg.Primary != old.Primary:
		return errors.New("vrrp: the VRID, version and primary address cannot change in place")
	case (cfg.Priority == Owner) != (old.Priority == Owner):
		return fmt.Errorf("vrrp: priority %d -> %d: the owner's cannot change in place", old.Priority, cfg.Priority)
	}
	m.cfg = cfg
	if cfg.Priority != old.Priority {
		m.prio = cfg.Priority
	}
	if cfg.Version == 2 || m.state != Backup || !m.master.IsValid() {
		m.masterAdverInterval = cfg.AdvertInterval
	}
	if cfg.Preempt != old.Preempt || cfg.PreemptDelay != old.PreemptDelay {
		m.preemptAt = time.Time{}
	}
	return nil
}

// skewTime is RFC 5798's ((256 − Priority) × Master_Adver_Interval) / 256,
// or RFC 3768's (256 − Priority) / 256 seconds for version 2.
func (m *Machine) skewTime() time.Duration {
	base := m.masterAdverInterval
	if m.cfg.Version == 2 {
		base = time.Second
	}
	return time.Duration(256-int64(m.prio)) * base / 256
}

// Check says whether Step would consider p, received from from: the VRID
// and the version must be this router's, the source of its family and not
// its own primary address, and a VRRPv2 interval must equal the configured
// one (RFC 3768 §7.1). The edge may call it to count what it drops.
func (m *Machine) Check(p *Packet, from netip.Addr) error {
	from = from.Unmap()
	switch {
	case p == nil:
		return errors.New("vrrp: no packet")
	case p.VRID != m.cfg.VRID:
		return fmt.Errorf("%w: VRID %d, want %d", ErrVRID, p.VRID, m.cfg.VRID)
	case int(p.Version) != m.cfg.Version:
		return fmt.Errorf("%w: VRRPv%d advert for a VRRPv%d router", ErrVersion, p.Version, m.cfg.Version)
	case !from.IsValid() || from.Is4() != m.cfg.Primary.Is4():
		return fmt.Errorf("%w: advert from %v for a router at %v", ErrFamily, from, m.cfg.Primary)
	case from.WithZone("") == m.primary:
		return ErrSelf
	case p.Version == 2 && p.Interval != m.cfg.AdvertInterval:
		return fmt.Errorf("%w: VRRPv2 interval %v, configured %v", ErrInterval, p.Interval, m.cfg.AdvertInterval)
	case p.Interval <= 0:
		return fmt.Errorf("%w: zero", ErrInterval)
	}
	return nil
}

// Step hands the machine one event that happened at now, and returns what
// the caller must do, in order. now must not go backwards between calls.
// Events that mean nothing in the current state (an advert in Initialize,
// a Timer delivered before its time or after its SetTimer was replaced)
// return no actions.
func (m *Machine) Step(now time.Time, ev Event) []Action {
	s := stepper{m: m, now: now}
	switch ev.Kind {
	case Startup:
		s.startup()
	case Shutdown:
		s.shutdown()
	case Timer:
		s.timer()
	case Advert:
		if m.Check(ev.Packet, ev.From) == nil {
			s.advert(ev.Packet, ev.From.Unmap().WithZone(""))
		}
	case SetPriority:
		s.setPriority(ev.Priority)
	case Fail:
		s.fault()
	case Recover:
		s.recover()
	case ForceMaster:
		s.forceMaster()
	case ForceBackup:
		s.forceBackup()
	case Release:
		s.release()
	}
	return s.acts
}

// stepper collects the actions of one Step.
type stepper struct {
	m    *Machine
	now  time.Time
	acts []Action
}

func (s *stepper) emit(a Action) { s.acts = append(s.acts, a) }

func (s *stepper) setTimer(d time.Duration) {
	s.m.timer = s.now.Add(d)
	s.emit(Action{Kind: SetTimer, At: s.m.timer})
}

func (s *stepper) stopTimer() {
	s.m.timer = time.Time{}
	s.emit(Action{Kind: SetTimer})
}

// become records the state change; every change goes through here.
func (s *stepper) become(to State, why Reason) {
	from := s.m.state
	if from == to {
		panic(fmt.Sprintf("vrrp: transition from %v to itself", from))
	}
	s.m.state = to
	s.m.preemptAt = time.Time{}
	if to != Backup {
		s.m.master = netip.Addr{}
	}
	s.emit(Action{Kind: Transition, From: from, To: to, Reason: why})
}

// toMaster is §6.4.1's owner startup and §6.4.2's Master_Down_Timer
// expiry: send an advert, announce the addresses, arm the Adver_Timer.
// The addresses are taken before the announcement that points at them.
func (s *stepper) toMaster(why Reason) {
	s.m.held = false
	s.emit(Action{Kind: SendAdvert, Priority: s.m.prio})
	s.emit(Action{Kind: TakeVIPs})
	s.emit(Action{Kind: Announce})
	s.setTimer(s.m.cfg.AdvertInterval)
	s.become(Master, why)
}

// toBackup enters Backup from Initialize or Fault with the configured
// interval (§6.4.1).
func (s *stepper) toBackup(why Reason) {
	s.m.masterAdverInterval = s.m.cfg.AdvertInterval
	s.m.downReason = ReasonMasterDown
	s.setTimer(s.m.MasterDownInterval())
	s.become(Backup, why)
}

// leaveMaster stops being master for Shutdown, Fail and ForceBackup: it
// first tells the other routers with priority 0 (§6.4.3, and keepalived
// for a fault), so that a backup takes over after Skew_Time (or at once
// with PairHandover) rather than Master_Down_Interval. The advert goes
// before the release to keep the gap without a master short.
func (s *stepper) leaveMaster() {
	s.emit(Action{Kind: SendAdvert, Priority: 0})
	s.emit(Action{Kind: ReleaseVIPs})
}

// learn is §6.4.2's accepted advert: Master_Adver_Interval from the
// advert (v3), Skew_Time and Master_Down_Interval recomputed, the
// Master_Down_Timer reset.
func (s *stepper) learn(p *Packet, from netip.Addr) {
	if s.m.cfg.Version == 3 {
		s.m.masterAdverInterval = p.Interval
	}
	s.m.master = from
	s.m.downReason = ReasonMasterDown
	s.setTimer(s.m.MasterDownInterval())
}

func (s *stepper) startup() {
	if s.m.state != Initialize {
		return
	}
	if s.m.prio == Owner {
		s.toMaster(ReasonStartup)
		return
	}
	s.toBackup(ReasonStartup)
}

func (s *stepper) shutdown() {
	m := s.m
	m.held = false
	switch m.state {
	case Initialize:
		return
	case Master:
		s.leaveMaster()
	}
	if !m.timer.IsZero() {
		s.stopTimer()
	}
	s.become(Initialize, ReasonShutdown)
}

func (s *stepper) timer() {
	m := s.m
	if m.timer.IsZero() || s.now.Before(m.timer) {
		return // stale or early: only the armed timer counts
	}
	m.timer = time.Time{}
	switch m.state {
	case Backup:
		// Master_Down_Timer fired.
		if m.held {
			return // the sync group holds this router in Backup
		}
		s.toMaster(m.downReason)
	case Master:
		// Adver_Timer fired.
		s.emit(Action{Kind: SendAdvert, Priority: m.prio})
		s.setTimer(m.cfg.AdvertInterval)
	}
}

func (s *stepper) advert(p *Packet, from netip.Addr) {
	m := s.m
	switch m.state {
	case Backup:
		switch {
		case p.Priority == 0:
			// The master is leaving.
			if m.cfg.PairHandover && !m.held {
				s.toMaster(ReasonMasterLeft)
				return
			}
			m.downReason = ReasonMasterLeft
			s.setTimer(m.skewTime())
		case !m.preempts() || p.Priority >= m.prio:
			m.preemptAt = time.Time{}
			s.learn(p, from)
		case m.cfg.PreemptDelay > 0 && (m.preemptAt.IsZero() || s.now.Before(m.preemptAt)):
			// A lower master, but the preempt delay has not run out:
			// follow it meanwhile.
			if m.preemptAt.IsZero() {
				m.preemptAt = s.now.Add(m.cfg.PreemptDelay)
			}
			s.learn(p, from)
		default:
			// A lower master and Preempt_Mode: discard, so that the
			// Master_Down_Timer fires.
			m.downReason = ReasonPreempt
		}
	case Master:
		switch {
		case p.Priority == 0:
			// Another master is leaving: assert at once (§6.4.3), and
			// announce, since the addresses were also its.
			s.emit(Action{Kind: SendAdvert, Priority: m.prio})
			s.emit(Action{Kind: Announce})
			s.setTimer(m.cfg.AdvertInterval)
		case p.Priority > m.prio || p.Priority == m.prio && from.Compare(m.primary) > 0:
			// A better master: step down (§6.4.3). Unlike the RFC, send
			// one last advert with our own priority once the addresses
			// are released: two masters mean a healed partition, and the
			// winner, hearing a lower master, announces again so that ARP
			// caches that followed this router go back to it. Without it
			// the winner announces only if it happens to hear one of our
			// adverts before we hear one of its.
			s.emit(Action{Kind: ReleaseVIPs})
			s.emit(Action{Kind: SendAdvert, Priority: m.prio})
			if m.cfg.Version == 3 {
				m.masterAdverInterval = p.Interval
			}
			s.setTimer(m.MasterDownInterval())
			why := ReasonHigherPriority
			if p.Priority == m.prio {
				why = ReasonHigherAddress
			}
			m.downReason = ReasonMasterDown
			s.become(Backup, why)
			m.master = from
		default:
			// A lower master: RFC 5798 discards it; like keepalived, this
			// router re-asserts at once so the other steps down now, and
			// announces again, since two masters mean a healed partition
			// and ARP caches may point at the loser.
			s.emit(Action{Kind: SendAdvert, Priority: m.prio})
			s.emit(Action{Kind: Announce})
			s.setTimer(m.cfg.AdvertInterval)
		}
	}
}

// preempts reports whether a backup takes over from a lower master: with
// Preempt_Mode, and always for the owner (RFC 5798 §6.1).
func (m *Machine) preempts() bool { return m.cfg.Preempt || m.prio == Owner }

func (s *stepper) setPriority(p uint8) {
	m := s.m
	if m.cfg.Priority == Owner {
		return // tracking does not move the owner
	}
	m.prio = min(max(p, 1), Owner-1)
	// Nothing else changes now: a master keeps its role until a higher
	// backup preempts it, and a backup uses the new priority from the
	// next advert on (§6.4).
}

func (s *stepper) fault() {
	m := s.m
	m.held = false
	switch m.state {
	case Fault:
		return
	case Master:
		s.leaveMaster()
	}
	if !m.timer.IsZero() {
		s.stopTimer()
	}
	s.become(Fault, ReasonFault)
}

func (s *stepper) recover() {
	if s.m.state != Fault {
		return
	}
	if s.m.prio == Owner {
		s.toMaster(ReasonFaultCleared)
		return
	}
	s.toBackup(ReasonFaultCleared)
}

func (s *stepper) forceMaster() {
	m := s.m
	m.held = false
	if m.state == Backup {
		s.toMaster(ReasonSyncGroup)
	}
}

func (s *stepper) release() {
	m := s.m
	if !m.held {
		return
	}
	m.held = false
	if m.state == Backup && m.timer.IsZero() {
		// The Master_Down_Timer fired while held, and was not armed
		// again: arm it, so that the router takes over if no master
		// speaks.
		m.downReason = ReasonMasterDown
		s.setTimer(m.MasterDownInterval())
	}
}

func (s *stepper) forceBackup() {
	m := s.m
	switch m.state {
	case Backup:
		m.held = true
	case Master:
		m.held = true
		s.leaveMaster()
		m.masterAdverInterval = m.cfg.AdvertInterval
		m.downReason = ReasonMasterDown
		s.setTimer(m.MasterDownInterval())
		s.become(Backup, ReasonSyncGroup)
	}
}
