package vrrp

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// t0 is the fake clock's start; tests only add to it.
var t0 = time.Unix(1_000_000, 0)

func testConfig() Config {
	return Config{
		VRID:           1,
		Version:        3,
		Priority:       100,
		AdvertInterval: time.Second,
		Preempt:        true,
		Primary:        netip.MustParseAddr("10.0.0.2"),
	}
}

// Times for priority 100 at 1s: Skew_Time = 156/256 s.
const (
	skew100 = 609375 * time.Microsecond
	mdi100  = 3*time.Second + skew100
)

func at(d time.Duration) time.Time { return t0.Add(d) }

// adv is an advert from addr with priority prio and interval ivl (1s when
// zero), for VRID 1.
func adv(prio uint8, from string, ivl time.Duration) Event {
	if ivl == 0 {
		ivl = time.Second
	}
	return Event{Kind: Advert, From: netip.MustParseAddr(from), Packet: &Packet{Version: 3, Type: 1, VRID: 1, Priority: prio, Interval: ivl}}
}

func ev(k EventKind) Event { return Event{Kind: k} }

type step struct {
	at time.Duration
	ev Event
}

// Action constructors, to keep the tables short.
func send(p uint8) Action          { return Action{Kind: SendAdvert, Priority: p} }
func timer(d time.Duration) Action { return Action{Kind: SetTimer, At: at(d)} }
func trans(from, to State) Action  { return Action{Kind: Transition, From: from, To: to} }

var (
	take     = Action{Kind: TakeVIPs}
	release  = Action{Kind: ReleaseVIPs}
	announce = Action{Kind: Announce}
	noTimer  = Action{Kind: SetTimer}
)

// withReason returns acts with the Reason of each Transition set to why.
func withReason(acts []Action, why Reason) []Action {
	acts = slices.Clone(acts)
	for i := range acts {
		if acts[i].Kind == Transition {
			acts[i].Reason = why
		}
	}
	return acts
}

// becomeMaster is what every way into Master emits at d (the reason left
// to the table's column).
func becomeMaster(p uint8, from State, d, ivl time.Duration) []Action {
	return []Action{send(p), take, announce, timer(d + ivl), trans(from, Master)}
}

var (
	startup  = step{0, ev(Startup)}
	toMaster = step{mdi100, ev(Timer)} // after startup: Master_Down_Timer fires
	masterAt = mdi100                  // when toMaster leaves the machine Master
	peerHigh = "10.0.0.3"              // a peer whose address wins ties
	peerLow  = "10.0.0.1"              // a peer whose address loses ties
)

// TestStep walks RFC 5798 §6.4 line by line, plus Fault, tracking and
// the sync group's orders.
func TestStep(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*Config)
		setup []step
		at    time.Duration
		ev    Event
		want  []Action // Transition actions get the Reason why
		why   Reason
		state State
		check func(t *testing.T, m *Machine)
	}{
		// §6.4.1 Initialize.
		{
			name: "initialize/startup: backup, Master_Down_Timer",
			ev:   ev(Startup),
			want: []Action{timer(mdi100), trans(Initialize, Backup)}, why: ReasonStartup, state: Backup,
		},
		{
			name: "initialize/startup owner: master at once",
			cfg:  func(c *Config) { c.Priority = 255 },
			ev:   ev(Startup),
			want: becomeMaster(255, Initialize, 0, time.Second), why: ReasonStartup, state: Master,
		},
		{name: "initialize/advert ignored", ev: adv(200, peerHigh, 0), state: Initialize},
		{name: "initialize/timer ignored", ev: ev(Timer), state: Initialize},
		{name: "initialize/shutdown ignored", ev: ev(Shutdown), state: Initialize},
		{name: "initialize/force master ignored", ev: ev(ForceMaster), state: Initialize},

		// §6.4.2 Backup.
		{
			name:  "backup/shutdown: cancel timer, initialize",
			setup: []step{startup}, at: time.Second, ev: ev(Shutdown),
			want: []Action{noTimer, trans(Backup, Initialize)}, why: ReasonShutdown, state: Initialize,
		},
		{
			name:  "backup/Master_Down_Timer fires: advert, GARP, Adver_Timer, master",
			setup: []step{startup}, at: mdi100, ev: ev(Timer),
			want: becomeMaster(100, Backup, mdi100, time.Second), why: ReasonMasterDown, state: Master,
		},
		{
			name:  "backup/late timer still fires",
			setup: []step{startup}, at: mdi100 + time.Millisecond, ev: ev(Timer),
			want: becomeMaster(100, Backup, mdi100+time.Millisecond, time.Second), why: ReasonMasterDown, state: Master,
		},
		{name: "backup/early timer ignored", setup: []step{startup}, at: time.Second, ev: ev(Timer), state: Backup},
		{name: "backup/startup again ignored", setup: []step{startup}, at: time.Second, ev: ev(Startup), state: Backup},
		{
			name:  "backup/timer replaced by an advert: old deadline ignored",
			setup: []step{startup, {time.Second, adv(200, peerHigh, 0)}}, at: mdi100, ev: ev(Timer),
			state: Backup,
		},
		{
			name:  "backup/priority 0: Master_Down_Timer = Skew_Time",
			setup: []step{startup}, at: time.Second, ev: adv(0, peerHigh, 0),
			want: []Action{timer(time.Second + skew100)}, state: Backup,
		},
		{
			name:  "backup/priority 0 with pair handover: master at once",
			cfg:   func(c *Config) { c.PairHandover = true },
			setup: []step{startup}, at: time.Second, ev: adv(0, peerHigh, 0),
			want: becomeMaster(100, Backup, time.Second, time.Second), why: ReasonMasterLeft, state: Master,
		},
		{
			name:  "backup/Skew_Time after priority 0 expires: master, the master resigned",
			setup: []step{startup, {time.Second, adv(0, peerHigh, 0)}}, at: time.Second + skew100, ev: ev(Timer),
			want: becomeMaster(100, Backup, time.Second+skew100, time.Second), why: ReasonMasterLeft, state: Master,
		},
		{
			name:  "backup/an advert after priority 0: the reason is a timeout again",
			setup: []step{startup, {time.Second, adv(0, peerHigh, 0)}, {time.Second + skew100/2, adv(200, peerHigh, 0)}},
			at:    time.Second + skew100/2 + mdi100, ev: ev(Timer),
			want: becomeMaster(100, Backup, time.Second+skew100/2+mdi100, time.Second), why: ReasonMasterDown, state: Master,
		},
		{
			name:  "backup/Master_Down_Timer after discarding a lower master: preempt",
			setup: []step{startup, {time.Second, adv(200, peerHigh, 0)}, {2 * time.Second, adv(50, peerHigh, 0)}},
			at:    time.Second + mdi100, ev: ev(Timer),
			want: becomeMaster(100, Backup, time.Second+mdi100, time.Second), why: ReasonPreempt, state: Master,
		},
		{
			name:  "backup/higher advert: learn Master_Adver_Interval, reset timer",
			setup: []step{startup}, at: time.Second, ev: adv(200, peerLow, 500*time.Millisecond),
			// 3 × 500ms + 156 × 500ms / 256
			want: []Action{timer(time.Second + 1500*time.Millisecond + 304687500)}, state: Backup,
			check: func(t *testing.T, m *Machine) {
				if got := m.MasterAdverInterval(); got != 500*time.Millisecond {
					t.Errorf("MasterAdverInterval = %v, want 500ms", got)
				}
				if got := m.Master(); got != netip.MustParseAddr(peerLow) {
					t.Errorf("Master = %v, want %v", got, peerLow)
				}
			},
		},
		{
			name:  "backup/equal advert accepted, whatever the address",
			setup: []step{startup}, at: time.Second, ev: adv(100, peerLow, 0),
			want: []Action{timer(time.Second + mdi100)}, state: Backup,
		},
		{
			name:  "backup/lower advert with preempt: discarded",
			setup: []step{startup}, at: time.Second, ev: adv(50, peerHigh, 0),
			state: Backup,
		},
		{
			name: "backup/lower advert, owner preempts without Preempt",
			cfg:  func(c *Config) { c.Priority, c.Preempt = 255, false },
			// An owner is only in Backup after losing a tie to another owner.
			setup: []step{startup, {time.Second, adv(255, peerHigh, 0)}}, at: 2 * time.Second, ev: adv(50, peerHigh, 0),
			state: Backup,
		},
		{
			name:  "backup/lower advert without preempt: accepted",
			cfg:   func(c *Config) { c.Preempt = false },
			setup: []step{startup}, at: time.Second, ev: adv(50, peerHigh, 0),
			want: []Action{timer(time.Second + mdi100)}, state: Backup,
		},
		{
			name:  "backup/lower advert within the preempt delay: accepted",
			cfg:   func(c *Config) { c.PreemptDelay = 5 * time.Second },
			setup: []step{startup, {time.Second, adv(50, peerHigh, 0)}}, at: 5 * time.Second, ev: adv(50, peerHigh, 0),
			want: []Action{timer(5*time.Second + mdi100)}, state: Backup,
		},
		{
			name:  "backup/lower advert after the preempt delay: discarded",
			cfg:   func(c *Config) { c.PreemptDelay = 5 * time.Second },
			setup: []step{startup, {time.Second, adv(50, peerHigh, 0)}}, at: 6 * time.Second, ev: adv(50, peerHigh, 0),
			state: Backup,
		},
		{
			name:  "backup/a higher advert restarts the preempt delay",
			cfg:   func(c *Config) { c.PreemptDelay = 5 * time.Second },
			setup: []step{startup, {time.Second, adv(50, peerHigh, 0)}, {2 * time.Second, adv(150, peerHigh, 0)}, {3 * time.Second, adv(50, peerHigh, 0)}},
			at:    6 * time.Second, ev: adv(50, peerHigh, 0),
			want: []Action{timer(6*time.Second + mdi100)}, state: Backup,
		},
		{
			name: "backup/10ms adverts: Master_Down_Interval 36.09375ms",
			cfg:  func(c *Config) { c.AdvertInterval = 10 * time.Millisecond },
			ev:   ev(Startup),
			want: []Action{timer(30*time.Millisecond + 6093750), trans(Initialize, Backup)}, why: ReasonStartup, state: Backup,
		},
		{
			name:  "backup/v2 keeps its own interval, skew in seconds",
			cfg:   func(c *Config) { c.Version, c.AdvertInterval = 2, 2*time.Second },
			setup: []step{startup},
			at:    time.Second,
			ev:    Event{Kind: Advert, From: netip.MustParseAddr(peerHigh), Packet: &Packet{Version: 2, VRID: 1, Priority: 200, Interval: 2 * time.Second}},
			want:  []Action{timer(time.Second + 6*time.Second + skew100)}, state: Backup,
		},
		{
			name:  "backup/v2 interval mismatch ignored (RFC 3768 §7.1)",
			cfg:   func(c *Config) { c.Version, c.AdvertInterval = 2, 2*time.Second },
			setup: []step{startup},
			at:    time.Second,
			ev:    Event{Kind: Advert, From: netip.MustParseAddr(peerHigh), Packet: &Packet{Version: 2, VRID: 1, Priority: 200, Interval: time.Second}},
			state: Backup,
		},
		{
			name:  "backup/other VRID ignored",
			setup: []step{startup}, at: time.Second,
			ev:    Event{Kind: Advert, From: netip.MustParseAddr(peerHigh), Packet: &Packet{Version: 3, VRID: 2, Priority: 200, Interval: time.Second}},
			state: Backup,
		},
		{name: "backup/own advert ignored", setup: []step{startup}, at: time.Second, ev: adv(200, "10.0.0.2", 0), state: Backup},
		{name: "backup/advert from another family ignored", setup: []step{startup}, at: time.Second, ev: adv(200, "2001:db8::1", 0), state: Backup},
		{name: "backup/advert without packet ignored", setup: []step{startup}, at: time.Second, ev: ev(Advert), state: Backup},

		// §6.4.3 Master.
		{
			name:  "master/shutdown: priority 0, release, initialize",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: ev(Shutdown),
			want: []Action{send(0), release, noTimer, trans(Master, Initialize)}, why: ReasonShutdown, state: Initialize,
		},
		{
			name:  "master/Adver_Timer fires: advert, reset",
			setup: []step{startup, toMaster}, at: masterAt + time.Second, ev: ev(Timer),
			want: []Action{send(100), timer(masterAt + 2*time.Second)}, state: Master,
		},
		{
			name:  "master/priority 0: advert at once, reset, announce",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: adv(0, peerHigh, 0),
			want: []Action{send(100), announce, timer(masterAt + time.Second/2 + time.Second)}, state: Master,
		},
		{
			name:  "master/higher advert: release, Master_Down_Timer from its interval, backup",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: adv(101, peerLow, 2*time.Second),
			want: []Action{release, send(100), timer(masterAt + time.Second/2 + 6*time.Second + 2*skew100), trans(Master, Backup)}, why: ReasonHigherPriority, state: Backup,
		},
		{
			name:  "master/equal advert from a higher address: backup",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: adv(100, peerHigh, 0),
			want: []Action{release, send(100), timer(masterAt + time.Second/2 + mdi100), trans(Master, Backup)}, why: ReasonHigherAddress, state: Backup,
		},
		{
			name:  "master/equal advert from a lower address: re-assert and announce",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: adv(100, peerLow, 0),
			want: []Action{send(100), announce, timer(masterAt + time.Second/2 + time.Second)}, state: Master,
		},
		{
			name:  "master/lower advert: re-assert and announce",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: adv(99, peerHigh, 0),
			want: []Action{send(100), announce, timer(masterAt + time.Second/2 + time.Second)}, state: Master,
		},
		{
			name:  "master/ipv6 tie-break by address",
			cfg:   func(c *Config) { c.Primary = netip.MustParseAddr("fe80::2") },
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: adv(100, "fe80::10", 0),
			want: []Action{release, send(100), timer(masterAt + time.Second/2 + mdi100), trans(Master, Backup)}, why: ReasonHigherAddress, state: Backup,
		},

		// Tracking.
		{
			name:  "priority/master below a backup keeps running",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: Event{Kind: SetPriority, Priority: 50},
			state: Master,
			check: func(t *testing.T, m *Machine) {
				if m.Priority() != 50 {
					t.Errorf("Priority = %d, want 50", m.Priority())
				}
				got := m.Step(at(masterAt+time.Second), ev(Timer))
				if diff := cmp.Diff([]Action{send(50), timer(masterAt + 2*time.Second)}, got); diff != "" {
					t.Errorf("next advert (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "priority/skew follows the effective priority",
			setup: []step{{0, Event{Kind: SetPriority, Priority: 228}}}, ev: ev(Startup),
			// 3s + 28/256 s
			want: []Action{timer(3*time.Second + 109375*time.Microsecond), trans(Initialize, Backup)}, why: ReasonStartup, state: Backup,
		},
		{
			name:  "priority/clamped to 1..254",
			setup: []step{{0, Event{Kind: SetPriority, Priority: 255}}}, ev: Event{Kind: SetPriority, Priority: 0},
			state: Initialize,
			check: func(t *testing.T, m *Machine) {
				if m.Priority() != 1 {
					t.Errorf("Priority = %d, want 1", m.Priority())
				}
				m.Step(t0, Event{Kind: SetPriority, Priority: 255})
				if m.Priority() != 254 {
					t.Errorf("Priority = %d, want 254", m.Priority())
				}
			},
		},
		{
			name: "priority/owner does not move",
			cfg:  func(c *Config) { c.Priority = 255 },
			ev:   Event{Kind: SetPriority, Priority: 10}, state: Initialize,
			check: func(t *testing.T, m *Machine) {
				if m.Priority() != 255 {
					t.Errorf("Priority = %d, want 255", m.Priority())
				}
			},
		},

		// Fault.
		{
			name: "fault/from initialize",
			ev:   ev(Fail),
			want: []Action{trans(Initialize, Fault)}, why: ReasonFault, state: Fault,
		},
		{
			name:  "fault/from backup: stop the timer",
			setup: []step{startup}, at: time.Second, ev: ev(Fail),
			want: []Action{noTimer, trans(Backup, Fault)}, why: ReasonFault, state: Fault,
		},
		{
			name:  "fault/from master: priority 0, release, stop the timer",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: ev(Fail),
			want: []Action{send(0), release, noTimer, trans(Master, Fault)}, why: ReasonFault, state: Fault,
		},
		{name: "fault/again ignored", setup: []step{{0, ev(Fail)}}, ev: ev(Fail), state: Fault},
		{name: "fault/advert ignored", setup: []step{{0, ev(Fail)}}, ev: adv(200, peerHigh, 0), state: Fault},
		{name: "fault/timer ignored", setup: []step{startup, {time.Second, ev(Fail)}}, at: mdi100, ev: ev(Timer), state: Fault},
		{name: "fault/startup ignored", setup: []step{{0, ev(Fail)}}, ev: ev(Startup), state: Fault},
		{name: "fault/force master ignored", setup: []step{{0, ev(Fail)}}, ev: ev(ForceMaster), state: Fault},
		{
			name:  "fault/recover: backup with the configured interval",
			setup: []step{startup, {time.Second, adv(200, peerHigh, 2*time.Second)}, {2 * time.Second, ev(Fail)}},
			at:    3 * time.Second, ev: ev(Recover),
			want: []Action{timer(3*time.Second + mdi100), trans(Fault, Backup)}, why: ReasonFaultCleared, state: Backup,
		},
		{
			name:  "fault/recover owner: master",
			cfg:   func(c *Config) { c.Priority = 255 },
			setup: []step{{0, ev(Fail)}}, at: time.Second, ev: ev(Recover),
			want: becomeMaster(255, Fault, time.Second, time.Second), why: ReasonFaultCleared, state: Master,
		},
		{name: "fault/recover when not in fault ignored", setup: []step{startup}, at: time.Second, ev: ev(Recover), state: Backup},
		{
			name:  "fault/shutdown",
			setup: []step{{0, ev(Fail)}}, at: time.Second, ev: ev(Shutdown),
			want: []Action{trans(Fault, Initialize)}, why: ReasonShutdown, state: Initialize,
		},

		// Sync group orders.
		{
			name:  "force/master from backup",
			setup: []step{startup}, at: time.Second, ev: ev(ForceMaster),
			want: becomeMaster(100, Backup, time.Second, time.Second), why: ReasonSyncGroup, state: Master,
		},
		{name: "force/master when master ignored", setup: []step{startup, toMaster}, at: masterAt + 1, ev: ev(ForceMaster), state: Master},
		{
			name:  "force/backup from master: priority 0, release, backup",
			setup: []step{startup, toMaster}, at: masterAt + time.Second/2, ev: ev(ForceBackup),
			want: []Action{send(0), release, timer(masterAt + time.Second/2 + mdi100), trans(Master, Backup)}, why: ReasonSyncGroup, state: Backup,
		},
		{
			name:  "force/backup holds: Master_Down_Timer does not make it master",
			setup: []step{startup, toMaster, {masterAt + 1, ev(ForceBackup)}}, at: masterAt + 1 + mdi100, ev: ev(Timer),
			state: Backup,
			check: func(t *testing.T, m *Machine) {
				got := m.Step(at(masterAt+5*time.Second), ev(ForceMaster))
				if diff := cmp.Diff(withReason(becomeMaster(100, Backup, masterAt+5*time.Second, time.Second), ReasonSyncGroup), got); diff != "" {
					t.Errorf("ForceMaster (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:  "force/backup holds a backup too, even against priority 0 with pair handover",
			cfg:   func(c *Config) { c.PairHandover = true },
			setup: []step{startup, {time.Second, ev(ForceBackup)}}, at: 2 * time.Second, ev: adv(0, peerHigh, 0),
			want: []Action{timer(2*time.Second + skew100)}, state: Backup,
		},
		{
			name:  "force/hold ends with a fault",
			setup: []step{startup, {time.Second, ev(ForceBackup)}, {2 * time.Second, ev(Fail)}, {3 * time.Second, ev(Recover)}},
			at:    3*time.Second + mdi100, ev: ev(Timer),
			want: becomeMaster(100, Backup, 3*time.Second+mdi100, time.Second), why: ReasonMasterDown, state: Master,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			m, err := NewMachine(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.setup {
				m.Step(at(s.at), s.ev)
			}
			got := m.Step(at(tt.at), tt.ev)
			want := withReason(tt.want, tt.why)
			if slices.ContainsFunc(want, func(a Action) bool { return a.Kind == Transition }) != (tt.why != ReasonNone) {
				t.Fatalf("a row with a transition needs a reason, and only such a row")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
			if m.State() != tt.state {
				t.Errorf("state %v, want %v", m.State(), tt.state)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestNewMachineValidates(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" for none
	}{
		{"ok", func(*Config) {}, ""},
		{"v3 10ms", func(c *Config) { c.AdvertInterval = 10 * time.Millisecond }, ""},
		{"v2", func(c *Config) { c.Version = 2 }, ""},
		{"ipv6", func(c *Config) { c.Primary = netip.MustParseAddr("fe80::1%eth0") }, ""},
		{"vrid 0", func(c *Config) { c.VRID = 0 }, "VRID"},
		{"priority 0", func(c *Config) { c.Priority = 0 }, "priority"},
		{"version 1", func(c *Config) { c.Version = 1 }, "version"},
		{"no primary", func(c *Config) { c.Primary = netip.Addr{} }, "primary"},
		{"v3 5ms", func(c *Config) { c.AdvertInterval = 5 * time.Millisecond }, "centiseconds"},
		{"v3 15ms", func(c *Config) { c.AdvertInterval = 15 * time.Millisecond }, "centiseconds"},
		{"v3 41s", func(c *Config) { c.AdvertInterval = 41 * time.Second }, "centiseconds"},
		{"v2 500ms", func(c *Config) { c.Version, c.AdvertInterval = 2, 500*time.Millisecond }, "whole seconds"},
		{"v2 ipv6", func(c *Config) { c.Version, c.Primary = 2, netip.MustParseAddr("fe80::1") }, "IPv4 only"},
		{"negative delay", func(c *Config) { c.PreemptDelay = -1 }, "preempt delay"},
		{"delay over 1000s", func(c *Config) { c.PreemptDelay = 1001 * time.Second }, "preempt delay"},
		{"delay without preempt", func(c *Config) { c.Preempt, c.PreemptDelay = false, time.Second }, "without preempt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.edit(&c)
			_, err := NewMachine(c)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("NewMachine: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("NewMachine = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	got := []string{Initialize.String(), Backup.String(), Master.String(), Fault.String(), State(9).String(), Fail.String(), Announce.String(), ReasonMasterLeft.String(), ReasonSyncGroup.String()}
	want := []string{"INIT", "BACKUP", "MASTER", "FAULT", "State(9)", "Fail", "Announce", "priority 0 received (the master resigned)", "sync group"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
