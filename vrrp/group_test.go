package vrrp

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type tr struct {
	member   string
	from, to State
}

func order(m string, k EventKind) Order { return Order{Member: m, Event: Event{Kind: k}} }

func TestGroupTransition(t *testing.T) {
	started := []tr{{"x", Initialize, Backup}, {"y", Initialize, Backup}, {"z", Initialize, Backup}}
	allMaster := append(started[:3:3], tr{"x", Backup, Master}, tr{"y", Backup, Master}, tr{"z", Backup, Master})
	tests := []struct {
		name  string
		setup []tr
		tr    tr
		want  []Order
		state State // the group's
	}{
		{
			name: "first to start leads",
			tr:   tr{"x", Initialize, Backup},
			want: nil, state: Backup,
		},
		{
			name:  "later starters follow the first",
			setup: started[:1], tr: tr{"y", Initialize, Backup},
			want: []Order{order("y", ForceBackup)}, state: Backup,
		},
		{
			name:  "master pulls the backups",
			setup: started, tr: tr{"x", Backup, Master},
			want: []Order{order("y", ForceMaster), order("z", ForceMaster)}, state: Master,
		},
		{
			name:  "the orders' own transitions settle",
			setup: append(started[:3:3], tr{"x", Backup, Master}), tr: tr{"y", Backup, Master},
			want: nil, state: Master,
		},
		{
			name:  "starting when the group is master",
			setup: []tr{{"x", Initialize, Master}}, tr: tr{"y", Initialize, Backup},
			want: []Order{order("y", ForceMaster)}, state: Backup,
		},
		{
			name:  "a master that loses holds the others",
			setup: allMaster, tr: tr{"y", Master, Backup},
			want: []Order{order("x", ForceBackup), order("z", ForceBackup)}, state: Backup,
		},
		{
			name:  "a forced step-down does not propagate",
			setup: append(allMaster, tr{"y", Master, Backup}), tr: tr{"x", Master, Backup},
			want: nil, state: Backup,
		},
		{
			name:  "a fault holds every running member",
			setup: allMaster, tr: tr{"z", Master, Fault},
			want: []Order{order("x", ForceBackup), order("y", ForceBackup)}, state: Fault,
		},
		{
			name:  "a fault holds the free backup too",
			setup: started[:2], tr: tr{"y", Backup, Fault},
			want: []Order{order("x", ForceBackup)}, state: Fault,
		},
		{
			name:  "a fault leaves the held alone",
			setup: started[:2], tr: tr{"x", Backup, Fault},
			want: nil, state: Fault,
		},
		{
			name:  "the recovered member leads",
			setup: append(allMaster, tr{"z", Master, Fault}), tr: tr{"z", Fault, Backup},
			want: nil, state: Backup,
		},
		{
			name:  "the recovered leader pulls the held members",
			setup: append(allMaster, tr{"z", Master, Fault}, tr{"x", Master, Backup}, tr{"y", Master, Backup}, tr{"z", Fault, Backup}),
			tr:    tr{"z", Backup, Master},
			want:  []Order{order("x", ForceMaster), order("y", ForceMaster)}, state: Master,
		},
		{
			name:  "a member recovering while another is in fault is held",
			setup: append(started[:2:2], tr{"x", Backup, Fault}, tr{"y", Backup, Fault}), tr: tr{"x", Fault, Backup},
			want: []Order{order("x", ForceBackup)}, state: Fault,
		},
		{
			name:  "an owner recovering while another is in fault is sent back",
			setup: append(started[:2:2], tr{"x", Backup, Fault}, tr{"y", Backup, Fault}), tr: tr{"x", Fault, Master},
			want: []Order{order("x", ForceBackup)}, state: Fault,
		},
		{
			name:  "starting while another is in fault",
			setup: []tr{{"x", Initialize, Fault}}, tr: tr{"y", Initialize, Backup},
			want: []Order{order("y", ForceBackup)}, state: Fault,
		},
		{name: "unknown member", tr: tr{"w", Backup, Master}, state: Initialize},
		{name: "no change", setup: started, tr: tr{"x", Backup, Backup}, state: Backup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewGroup([]string{"x", "y", "z", "x"})
			for _, s := range tt.setup {
				g.Transition(s.member, s.from, s.to)
			}
			got := g.Transition(tt.tr.member, tt.tr.from, tt.tr.to)
			if diff := cmp.Diff(tt.want, got, addrEq); diff != "" {
				t.Errorf("orders (-want +got):\n%s", diff)
			}
			if g.State() != tt.state {
				t.Errorf("group state %v, want %v", g.State(), tt.state)
			}
		})
	}
}

func TestGroupMembers(t *testing.T) {
	g := NewGroup([]string{"b", "a", "b"})
	if diff := cmp.Diff([]string{"b", "a"}, g.Members()); diff != "" {
		t.Errorf("Members (-want +got):\n%s", diff)
	}
	g.Transition("a", Initialize, Fault)
	if g.MemberState("a") != Fault || g.MemberState("b") != Initialize {
		t.Errorf("MemberState a=%v b=%v", g.MemberState("a"), g.MemberState("b"))
	}
}

// groupRig drives real machines through a group, as the runner does: it
// steps an event, feeds each Transition to the group and steps the
// orders, until nothing is left. It fails if that does not settle.
type groupRig struct {
	t     *testing.T
	g     *Group
	ms    map[string]*Machine
	names []string
	now   time.Duration
}

func newGroupRig(t *testing.T, names ...string) *groupRig {
	r := &groupRig{t: t, g: NewGroup(names), ms: map[string]*Machine{}, names: names}
	for i, n := range names {
		c := testConfig()
		c.VRID = uint8(i + 1)
		m, err := NewMachine(c)
		if err != nil {
			t.Fatal(err)
		}
		r.ms[n] = m
	}
	return r
}

func (r *groupRig) step(member string, ev Event) (steps int) {
	type work struct {
		member string
		ev     Event
	}
	queue := []work{{member, ev}}
	for len(queue) > 0 {
		steps++
		if steps > 20 {
			r.t.Fatalf("orders do not settle: %v", queue)
		}
		w := queue[0]
		queue = queue[1:]
		for _, a := range r.ms[w.member].Step(t0.Add(r.now), w.ev) {
			if a.Kind == Transition {
				for _, o := range r.g.Transition(w.member, a.From, a.To) {
					queue = append(queue, work{o.Member, o.Event})
				}
			}
		}
	}
	return steps
}

// timers fires every armed timer that is due at the rig's clock.
func (r *groupRig) timers() {
	for _, n := range r.names {
		if at := r.ms[n].Timer(); !at.IsZero() && !t0.Add(r.now).Before(at) {
			r.step(n, Event{Kind: Timer})
		}
	}
}

func (r *groupRig) states() string {
	s := ""
	for _, n := range r.names {
		s += fmt.Sprintf("%s=%v ", n, r.ms[n].State())
	}
	return s
}

// TestGroupSettles walks a three-member group through start, fault,
// recovery and a lost election with real machines, checking after each
// event that the orders settle and that the members agree.
func TestGroupSettles(t *testing.T) {
	r := newGroupRig(t, "x", "y", "z")
	check := func(want string) {
		t.Helper()
		if got := r.states(); got != want {
			t.Fatalf("states %q, want %q", got, want)
		}
	}
	for _, n := range r.names {
		r.step(n, Event{Kind: Startup})
	}
	check("x=BACKUP y=BACKUP z=BACKUP ")
	// Only the leader's Master_Down_Timer counts: the held members' do
	// not make them master.
	r.now = mdi100
	r.timers()
	check("x=MASTER y=MASTER z=MASTER ")

	// z fails: everyone else steps down and stays down whatever the timers.
	r.now += time.Second
	r.step("z", Event{Kind: Fail})
	check("x=BACKUP y=BACKUP z=FAULT ")
	for range 5 {
		r.now += mdi100
		r.timers()
	}
	check("x=BACKUP y=BACKUP z=FAULT ")

	// z recovers and leads: when its timer fires the group follows.
	r.step("z", Event{Kind: Recover})
	check("x=BACKUP y=BACKUP z=BACKUP ")
	r.now += mdi100
	r.timers()
	check("x=MASTER y=MASTER z=MASTER ")

	// x hears a better master: the group follows it to BACKUP, and the
	// held members do not preempt their lower peers.
	r.now += time.Second
	r.step("x", adv(200, peerHigh, 0))
	check("x=BACKUP y=BACKUP z=BACKUP ")
	for range 10 {
		r.now += time.Second
		r.step("x", adv(200, peerHigh, 0))
		for _, n := range []string{"y", "z"} {
			e := adv(50, peerHigh, 0)
			e.Packet.VRID = r.ms[n].Config().VRID
			r.step(n, e)
		}
		r.timers()
	}
	check("x=BACKUP y=BACKUP z=BACKUP ")

	// x's better master goes away: x takes over, the group with it.
	r.now += mdi100
	r.timers()
	check("x=MASTER y=MASTER z=MASTER ")

	// Two faults, recovered one after the other: the group stays out of
	// MASTER until both are back.
	r.step("x", Event{Kind: Fail})
	r.step("y", Event{Kind: Fail})
	r.step("x", Event{Kind: Recover})
	for range 3 {
		r.now += mdi100
		r.timers()
	}
	check("x=BACKUP y=FAULT z=BACKUP ")
	r.step("y", Event{Kind: Recover})
	r.now += mdi100
	r.timers()
	check("x=MASTER y=MASTER z=MASTER ")
}

// Adopt: members that agree change no state; those that do not are
// settled by the group's rules; holds stay while the group has a member
// to follow and go when it has none.
func TestGroupAdopt(t *testing.T) {
	type st = map[string]State
	tests := []struct {
		name  string
		state st
		held  map[string]bool
		want  []Order
		after st
	}{
		{name: "all master", state: st{"x": Master, "y": Master}},
		{name: "all backup", state: st{"x": Backup, "y": Backup}},
		{name: "fault and backups: held", state: st{"x": Fault, "y": Backup, "z": Backup},
			want: []Order{order("y", ForceBackup), order("z", ForceBackup)}},
		{name: "fault and a held backup", state: st{"x": Fault, "y": Backup}, held: map[string]bool{"y": true}},
		{name: "fault and a master: it steps down", state: st{"x": Fault, "y": Master},
			want: []Order{order("y", ForceBackup)}, after: st{"x": Fault, "y": Backup}},
		{name: "master pulls backups up", state: st{"x": Master, "y": Backup, "z": Backup}, held: map[string]bool{"z": true},
			want: []Order{order("y", ForceMaster), order("z", ForceMaster)}, after: st{"x": Master, "y": Master, "z": Master}},
		{name: "held backups follow an unheld one", state: st{"x": Backup, "y": Backup}, held: map[string]bool{"y": true}},
		{name: "all held: released", state: st{"x": Backup, "y": Backup}, held: map[string]bool{"x": true, "y": true},
			want: []Order{order("x", Release), order("y", Release)}},
		{name: "members not started are left to Startup", state: st{"x": Master, "y": Initialize}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := slices.Sorted(maps.Keys(tt.state))
			g := NewGroup(names)
			got := g.Adopt(tt.state, tt.held)
			if diff := cmp.Diff(tt.want, got, addrEq); diff != "" {
				t.Errorf("orders (-want +got):\n%s", diff)
			}
			after := tt.after
			if after == nil {
				after = tt.state
			}
			for _, n := range names {
				if g.MemberState(n) != after[n] {
					t.Errorf("%s: %v, want %v", n, g.MemberState(n), after[n])
				}
			}
		})
	}
}
