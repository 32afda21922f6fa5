// Package vrrp owns the Virtual Router Redundancy Protocol between the two
// directors: the codec (RFC 5798 VRRPv3 for IPv4 and IPv6, RFC 3768 VRRPv2
// for IPv4), a pure state machine that takes events and the current time and
// returns actions, sync groups, and the edge that performs those actions
// (raw IP protocol 112 sockets, VIPs through netlink, gratuitous ARP and
// unsolicited neighbour advertisements).
//
// It must not import ipvs, healthcheck or conf: the caller builds a Config
// from the cluster file, and hears of transitions through the Transition
// action. That keeps the protocol testable alone.
//
// # The codec
//
// Packet is one advertisement. Marshal fills the checksum: for VRRPv3 over
// the IPv4 or IPv6 pseudo-header and the message (RFC 5798 §5.2.8, as
// keepalived does for IPv4 too), for VRRPv2 over the message only (RFC 3768
// §5.3.8). Parse checks version, type, length and checksum and returns
// errors that wrap ErrTooShort, ErrVersion, ErrType, ErrLength,
// ErrChecksum, ErrFamily or ErrInterval. The edge also drops adverts whose
// TTL or hop limit is not TTL, and VRRPv2 adverts that fail
// Packet.CheckAuth.
//
// # The state machine
//
// Machine follows RFC 5798 §6.4 (and RFC 3768 §6.4 for version 2) line by
// line, in the manner of etcd raft's RawNode: it reads no clock, opens no
// socket, starts no goroutine and draws no random number. Its states are
// Initialize, Backup and Master, plus Fault, in which it takes no part
// (keepalived's FAULT: interface down, tracker failing). The caller, the
// runner, owns one goroutine per machine (or one for all) and loops:
//
//  1. Wait for the next event: an advert read from the socket (after
//     Parse, the TTL check and CheckAuth), the timer, a priority change
//     from tracking, Fail or Recover from interface and tracker watching,
//     an order from a sync group, Startup or Shutdown.
//  2. Call Step(now, event), now being the time of the event. For Timer,
//     now must not be before the At of the last SetTimer; Step ignores a
//     Timer that is early or whose SetTimer was replaced, so a runner need
//     not worry about a timer racing a new one.
//  3. Perform the returned actions in order, each before the next, as
//     the list below says.
//
// The actions:
//
//   - SendAdvert: marshal a Packet with Action.Priority and the configured
//     VRID, version, interval, addresses (and VRRPv2 password), and send it
//     from the primary address with TTL 255 to the multicast group or to
//     each unicast peer. Priority 0 means the master is leaving.
//   - TakeVIPs: add the virtual addresses to the interface.
//   - ReleaseVIPs: remove them.
//   - Announce: send the gratuitous ARP / unsolicited NA burst for the
//     virtual addresses (GARP count, interval, repeat). It always comes
//     after TakeVIPs or while the addresses are held; the runner starts
//     at most one burst per advert interval, and defers (never drops) one
//     asked for sooner: after a healed partition the winner's last burst
//     must follow the loser's last announcement.
//   - SetTimer: (re)arm the machine's single timer to deliver a Timer event
//     at Action.At; a zero At stops it.
//   - Transition: the state changed from Action.From to Action.To, for
//     Action.Reason (startup, advert timeout, priority 0 received, preempt,
//     higher priority seen, fault, fault cleared, sync group, shutdown).
//     Log it with its reason, run the notify hook, tell the main loop (the connection-sync role
//     follows Master), and, if the machine is in a sync group, pass it to
//     Group.Transition and Step the returned orders into the other members'
//     machines at once, performing their actions the same way.
//
// Step emits Transition last, after the actions that make the new state
// true (the addresses are held when MASTER is reported).
//
// Where the RFC leaves room, tandem chooses:
//
//   - A master that hears a lower advert (another master: a healed
//     partition) re-asserts at once and announces again, as keepalived
//     does, instead of discarding it. A master that steps down for a
//     better one sends one last advert with its own priority, so the
//     winner always hears a lower master and announces: ARP caches that
//     followed the loser come back.
//   - A master that hears priority 0 re-asserts (RFC) and announces.
//   - A master that goes to Fault, or is ordered to Backup by its group,
//     sends priority 0 first, like one that shuts down.
//   - PreemptDelay (keepalived's preempt_delay): a backup follows a lower
//     master for PreemptDelay after first hearing it, then discards its
//     adverts, so it takes over one Master_Down_Interval later. A higher or
//     equal advert restarts the delay.
//   - PairHandover: a backup that hears priority 0 becomes master at once
//     instead of after Skew_Time.
//   - Skew_Time is computed exactly in nanoseconds, not in whole
//     centiseconds. VRRPv2 adverts whose interval differs from the local one
//     are ignored (RFC 3768 §7.1); VRRPv3 backups learn the master's.
//   - SetPriority changes nothing at once: a master whose priority falls
//     below a backup's stays master until the backup preempts (§6.4). The
//     owner's priority (255) does not move, and others stay in 1..254.
//   - Startup in Fault does nothing; Recover then starts the machine.
//
// # The edge: Runner
//
// Runner is the caller of Machine.Step in tandem: the loop above, for
// every instance of a node. Its goroutine owns the machines and the sync
// Groups and performs the actions; one reader goroutine per interface and
// family parses adverts (Conn, Parse, the TTL check, CheckAuth, unicast
// peers) and posts them to it; the machine's timer is a time.Timer armed
// on the earliest SetTimer; NetlinkVIPs, Announcer and NetlinkLinks are
// its VIP, GARP/NA and link edges (each replaceable in Options for tests);
// notify hooks and Options.OnTransition run off the loop, in order.
// cmd/tandem builds the Runner's Options from the cluster file and logs
// its transitions.
//
// What the runner logs: each transition once (at Info, by the runner when
// Options.OnTransition is nil, else by the callback's owner); each VIP
// added or removed, and each GARP/NA burst (once, not per packet), at
// Info; the periodic refresh at Debug. A refused advert is counted in
// Stats (and in its instance's Status) by reason and logged at Debug;
// when the reason says that another router on one of our VRIDs is
// configured differently (password, version, VRRPv2 interval, TTL other
// than 255) it is also logged at Warn, at most once per 30 s for each
// instance, reason and source, with the count refused in between, and as
// a possible split brain while the instance is master: two such routers
// do not hear each other and both take the VIPs. Adverts for a VRID the node does not run (another cluster
// on the segment) are normal: counted, logged at Debug.
//
// On a loaded host a late timer or a late read makes a backup believe the
// master dead. SetRealtime (SCHED_RR for the whole process: in Go a timer
// or a socket wakes a goroutine through whichever runtime thread polls)
// and LockMemory (mlockall) are keepalived's vrrp_rt_priority and
// vrrp_no_swap; `tandem run --realtime N --lock-memory` uses them.
//
// # Sync groups
//
// Group makes the members of a sync group move together, as keepalived's
// vrrp_sync_group: one becoming master pulls the others; one stepping
// down or failing holds the others in Backup, so that they cannot
// preempt their own peers and flap. See Group for the rules.
//
// # Reload
//
// Compare says what a new configuration does to each instance, sync group
// and track script, matched by name: kept, changed in place, added,
// removed or restarted, with the differences in the cluster file's terms;
// `tandem plan` prints it. Runner.Reconfigure applies it: an unchanged
// instance keeps its state, timers and socket (no advert out of its
// schedule, no GARP: the peer sees nothing); a change of priority,
// addresses, intervals, preemption, peers, password, tracking, GARP or
// notify is applied in place (Machine.SetConfig); only a new VRID,
// interface, version, address family, multicast or unicast mode, or a
// priority to or from the owner's restarts that one instance. A sync
// group made or changed by a reload adopts its members as they run
// (Group.Adopt), so members that agree do not move.
//
// # Status
//
// Runner.Status returns an InstanceStatus per instance, in the
// configuration's order, for `tandem status` and the metrics: state and
// the time of the last transition, effective and configured priority,
// the master as a backup sees it (its address and the priority of its
// last advert; itself when master; zero before any advert), the counts of
// transitions, of becoming and leaving master, of adverts sent, accepted
// and refused by reason (Drops, whose names, such as "bad_ttl" and
// "auth_failed", are stable label values), of GARP/NA bursts and rounds,
// and what it tracks (interfaces, scripts, SetTrack sources) with state,
// weight and the delta applied, plus the reasons of a Fault. Packets no
// instance owns (unparsable, another VRID) are counted only in Stats,
// which still counts every packet for the whole runner.
//
// The runner goroutine keeps the counters in plain fields and, after each
// event, rebuilds the snapshot of each instance that the event changed
// and publishes the list through an atomic pointer; Status copies it out.
// A reader never waits for the loop nor slows it beyond that copy. Before
// Start Status shows the configuration in Initialize; after Stop the last
// values; Reconfigure returns once its result is published. Across a
// reload the counters of an instance kept, changed in place or restarted
// go on (a restart is the same instance to an operator, and counters
// that do not reset spare the metrics a spurious reset); those of a
// removed instance go with it.
//
// # Concurrency
//
// Machine and Group are not safe for concurrent use: one goroutine owns a
// machine, and the machines of one group with their Group. Packet is a
// plain value.
package vrrp
