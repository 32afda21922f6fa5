package vrrp

// A Group is a sync group: virtual routers of one director that change
// state together, as keepalived's vrrp_sync_group (the NAT pattern: the
// public VIP and the real servers' gateway VIP must be on the same
// director). It is pure like Machine: it is told each member's
// transitions and returns orders for the other members.
//
// The rules:
//
//   - A member that becomes Master makes every other member in Backup
//     Master (ForceMaster).
//   - A member that leaves Master on its own (it heard a better master)
//     makes the others Backup and holds them there (ForceBackup): a held
//     member does not become Master by its own timer, so it cannot preempt
//     its peer while the group follows the member that lost. The group
//     becomes Master again when that member does.
//   - A member in Fault holds every other member in Backup. When it
//     recovers it is the one the others follow; while another member is
//     still in Fault, it is held too.
//   - A member that starts (Initialize → Backup) while the group has a
//     Master becomes Master; while another member is in Backup or Fault it
//     is held, following that one.
//
// An order's own transition never yields new orders: the group records the
// state it ordered, so a chain settles after one round.
//
// A reload that changes the members makes a new Group and tells it, with
// Adopt, the states the members already run in. One that restarts a
// member shuts it down (the group records Initialize and orders nothing)
// and starts it again: it rejoins as a member that starts.
//
// A Group is not safe for concurrent use; the goroutine that owns its
// members' machines owns it.
type Group struct {
	members []string
	state   map[string]State
	held    map[string]bool
}

// An Order is an event the caller must Step into a member's machine.
type Order struct {
	Member string
	Event  Event // Kind ForceMaster, ForceBackup or Release (Adopt)
}

// NewGroup returns a group of the named members, all in Initialize.
func NewGroup(members []string) *Group {
	g := &Group{state: make(map[string]State), held: make(map[string]bool)}
	for _, m := range members {
		if _, dup := g.state[m]; dup {
			continue
		}
		g.members = append(g.members, m)
		g.state[m] = Initialize
	}
	return g
}

// Members returns the member names, in the order NewGroup got them.
func (g *Group) Members() []string { return append([]string(nil), g.members...) }

// MemberState returns the state the group knows a member in.
func (g *Group) MemberState(member string) State { return g.state[member] }

// State returns the group's own state, for its notify hook: Fault if a
// member is in Fault, Master if all are Master, Initialize if all are in
// Initialize, and Backup otherwise.
func (g *Group) State() State {
	var n [Fault + 1]int
	for _, m := range g.members {
		n[g.state[m]]++
	}
	switch {
	case n[Fault] > 0:
		return Fault
	case n[Master] == len(g.members):
		return Master
	case n[Initialize] == len(g.members):
		return Initialize
	}
	return Backup
}

// Transition tells the group that member went from one state to another
// (a Transition action of its machine) and returns the orders for the
// members, to be stepped in order. A member the group does not know, or
// a transition to the same state, yields nothing.
func (g *Group) Transition(member string, from, to State) []Order {
	if _, ok := g.state[member]; !ok || from == to {
		return nil
	}
	wasHeld := g.held[member]
	g.state[member] = to
	g.held[member] = false
	var o orders
	switch to {
	case Master:
		if g.any(member, Fault) {
			// Only an owner recovering gets here: the group stays out.
			o.hold(g, member)
			break
		}
		for _, m := range g.members {
			if m != member && g.state[m] == Backup {
				o.add(m, ForceMaster)
				g.state[m], g.held[m] = Master, false
			}
		}
	case Backup:
		switch {
		case from == Master && wasHeld:
			// Our own ForceBackup.
			g.held[member] = true
		case from == Master:
			g.holdOthers(&o, member)
		case from == Fault && g.any(member, Fault):
			o.hold(g, member)
		case from == Initialize && g.any(member, Master):
			o.add(member, ForceMaster)
			g.state[member] = Master
		case from == Initialize && (g.any(member, Backup) || g.any(member, Fault)):
			o.hold(g, member)
		}
	case Fault:
		g.holdOthers(&o, member)
	}
	return o
}

// Adopt makes a new group take its members as they already run, as a
// reload does when it makes a sync group or changes one's members: state
// has each member's state and held whether its machine is held in Backup
// (by the group it was in before). A member in Initialize is not running
// yet; its Startup goes through Transition as usual. Adopt returns the
// orders that make the members agree, by the rules above:
//
//   - A member in Fault: every other running member is held in Backup
//     (a master steps down), as when it failed.
//   - Else a member in Master: every member in Backup becomes Master, as
//     one that starts while the group has a master.
//   - Else (all in Backup): a held member stays held while a member is
//     not held, the one the group follows (as after it stepped down).
//     When every member is held, the one they followed has left the
//     group: each is released (Release) and becomes master by its own
//     timer again.
//
// So members that already agree (all Master, all Backup, or one in Fault
// and the others in Backup) change no state: at most a hold or a release.
// Call it once, on a group that NewGroup just made.
func (g *Group) Adopt(state map[string]State, held map[string]bool) []Order {
	for _, m := range g.members {
		g.state[m] = state[m]
		g.held[m] = state[m] == Backup && held[m]
	}
	var o orders
	switch {
	case g.count(Fault) > 0:
		for _, m := range g.members {
			if g.state[m] == Fault {
				g.holdOthers(&o, m)
			}
		}
	case g.count(Master) > 0:
		for _, m := range g.members {
			if g.state[m] == Backup {
				o.add(m, ForceMaster)
				g.state[m], g.held[m] = Master, false
			}
		}
	default:
		var running, holds int
		for _, m := range g.members {
			if g.state[m] == Backup {
				running++
				if g.held[m] {
					holds++
				}
			}
		}
		if holds > 0 && holds == running {
			for _, m := range g.members {
				if g.held[m] {
					o.add(m, Release)
					g.held[m] = false
				}
			}
		}
	}
	return o
}

// count is the number of members in state s.
func (g *Group) count(s State) int {
	n := 0
	for _, m := range g.members {
		if g.state[m] == s {
			n++
		}
	}
	return n
}

// any reports whether a member other than except is in state s.
func (g *Group) any(except string, s State) bool {
	for _, m := range g.members {
		if m != except && g.state[m] == s {
			return true
		}
	}
	return false
}

// holdOthers orders every other running member, not yet held, to Backup.
func (g *Group) holdOthers(o *orders, except string) {
	for _, m := range g.members {
		if m == except || g.held[m] || (g.state[m] != Master && g.state[m] != Backup) {
			continue
		}
		o.hold(g, m)
	}
}

type orders []Order

func (o *orders) add(member string, k EventKind) {
	*o = append(*o, Order{Member: member, Event: Event{Kind: k}})
}

// hold orders member to Backup and records it as held.
func (o *orders) hold(g *Group, member string) {
	o.add(member, ForceBackup)
	g.state[member], g.held[member] = Backup, true
}
