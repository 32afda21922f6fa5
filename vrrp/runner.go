package vrrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// An Instance is one virtual router as the runner runs it: the machine's
// Config plus what the edge needs (interface, addresses, peers, password,
// tracking, announcements, notify hook).
type Instance struct {
	Name      string
	Interface string
	// Config is the machine's config. Priority is the base priority,
	// before tracking. A zero Primary is found on Interface (PrimaryAddr).
	Config Config
	// Addresses are the VIPs, with their prefix length, all of one family.
	Addresses []netip.Prefix
	// UnicastPeers, when not empty, replace the multicast group: adverts
	// go to each peer (but this node's own primary), and adverts from
	// anyone else are dropped.
	UnicastPeers []netip.Addr
	// AuthPass is the VRRPv2 simple password ("" = none).
	AuthPass string
	// TrackInterfaces put the instance in Fault while one is down; the
	// instance's own Interface is always tracked.
	TrackInterfaces []string
	// TrackScripts name Options.TrackScripts entries.
	TrackScripts []string
	GARP         GARP
	// Notify is run on every transition with the arguments "INSTANCE",
	// Name, the new state (MASTER, BACKUP, FAULT, STOP) and the priority,
	// as keepalived's notify; nil = none.
	Notify []string
}

// GARP says when a master announces its addresses: Count at Interval on
// becoming master (or on the machine's Announce), RepeatCount more
// RepeatAfter later, and one every Refresh while master (0 = never).
type GARP struct {
	Count       int
	Interval    time.Duration
	RepeatCount int
	RepeatAfter time.Duration
	Refresh     time.Duration
}

// DefaultGARP is keepalived's: 5 at once, 5 more after 5 s.
var DefaultGARP = GARP{Count: 5, RepeatCount: 5, RepeatAfter: 5 * time.Second}

// A SyncGroup is a set of instances that change state together.
type SyncGroup struct {
	Name      string
	Instances []string
	// Notify is run when the whole group reaches a new state, with the
	// arguments "GROUP", Name, the state; nil = none.
	Notify []string
}

// A TrackScript is a command run every Interval (killed after Timeout):
// Fall failures in a row make it down, Rise successes up. Weight is added
// to the priority of the instances that track it while it is down
// (negative weight) or up (positive); weight 0 puts them in Fault while it
// is down. Until its first result a script changes nothing.
type TrackScript struct {
	Name              string
	Command           []string
	Interval, Timeout time.Duration
	Weight            int
	Rise, Fall        int
}

// The edges the runner acts through; Options leaves them nil for the real
// system.

// VIPs adds and removes virtual addresses (NetlinkVIPs). Adding one that
// is there, or removing one that is not, is not an error.
type VIPs interface {
	AddVIP(ifname string, p netip.Prefix) error
	DelVIP(ifname string, p netip.Prefix) error
}

// Announcing sends one gratuitous ARP or unsolicited NA per address
// (Announcer).
type Announcing interface {
	Announce(ifname string, addrs []netip.Addr) error
}

// Links reports whether interfaces are up (NetlinkLinks): Watch returns
// their state now and calls fn, from a goroutine of its own, on every
// change until ctx is done.
type Links interface {
	Watch(ctx context.Context, names []string, fn func(name string, up bool)) (map[string]bool, error)
}

// Options configures a Runner.
type Options struct {
	Instances    []Instance
	SyncGroups   []SyncGroup
	TrackScripts []TrackScript
	// OnTransition is called on every state change, in order, from a
	// goroutine of the runner's own (so it may block without stalling
	// VRRP); calls may still arrive shortly after Run returns. reason is
	// the machine's (Action.Reason). When it is set, the caller logs the
	// transitions; when nil, the runner logs each at Info.
	OnTransition func(instance string, from, to State, priority uint8, reason Reason)
	// Log receives the runner's log; nil discards it.
	Log *slog.Logger
	// HookTimeout bounds each notify hook and track script run; default 10s
	// for hooks (a script uses its own Timeout).
	HookTimeout time.Duration

	// The edges; nil means the real system.
	Dial      func(ifname string, v6 bool) (Transport, error)
	VIPs      VIPs
	Announcer Announcing
	Links     Links
	// Exec runs an argv to completion or until ctx is done; nil runs it
	// with os/exec (no shell).
	Exec func(ctx context.Context, argv []string) error
}

// Stats counts the runner's packets. Dropped packets are counted by
// reason, each under one: those that say another router on one of our
// VRIDs is configured differently (BadTTL, AuthFailed, VersionMismatch,
// IntervalMismatch) are also logged at Warn, at most once per 30 s for
// each instance, reason and source.
type Stats struct {
	Received         uint64 // adverts handed to a machine
	Sent             uint64
	SendErrors       uint64
	BadTTL           uint64 // TTL / hop limit not 255, on an advert for one of the instances
	Malformed        uint64 // refused by Parse (length, checksum, version, ...), whatever the TTL
	UnknownVRID      uint64 // no instance with that VRID on the interface (another cluster), whatever the TTL
	NotPeer          uint64 // unicast instance, source not a peer
	AuthFailed       uint64 // VRRPv2 authentication type or password mismatch
	VersionMismatch  uint64 // VRRP version other than the instance's
	IntervalMismatch uint64 // VRRPv2 interval other than the instance's (or zero)
	OwnAddress       uint64 // from the instance's own primary address
	Refused          uint64 // refused by Machine.Check for another reason
}

// counters are the Stats, updated by the runner goroutine (and the
// senders) and read by Stats from any goroutine.
type counters struct {
	received, sent, sendErrors atomic.Uint64
	drops                      [nDrops]atomic.Uint64
}

func (c *counters) stats() Stats {
	d := func(k drop) uint64 { return c.drops[k].Load() }
	return Stats{
		Received: c.received.Load(), Sent: c.sent.Load(), SendErrors: c.sendErrors.Load(),
		BadTTL: d(dropTTL), Malformed: d(dropMalformed), UnknownVRID: d(dropUnknownVRID),
		NotPeer: d(dropNotPeer), AuthFailed: d(dropAuth), VersionMismatch: d(dropVersion),
		IntervalMismatch: d(dropInterval), OwnAddress: d(dropSelf), Refused: d(dropOther),
	}
}

// A Runner runs the VRRP instances of one node: one goroutine (Run) owns
// every Machine and sync Group, so a group's orders apply synchronously;
// one reader goroutine per interface and family feeds it the received
// adverts; timers, link changes, track script results and SetTrack calls
// reach it through the same channel. It performs each Step's actions in
// order: SendAdvert on the transport, TakeVIPs/ReleaseVIPs through the VIP
// edge, Announce as a GARP/NA burst, Transition as the OnTransition
// callback and the notify hooks (asynchronous, bounded by a timeout).
//
// Start (or Run) may be called once; Stop from any goroutine once Start
// has returned. SetTrack, Reconfigure (and its SetPriority and
// SetAddresses), Stats and Status are safe for concurrent use.
type Runner struct {
	opts  Options
	log   *slog.Logger
	core  *core
	inbox chan func(now time.Time)
	quit  chan struct{} // closed when the loop is over: posts are dropped
	qonce sync.Once
	cnt   counters
	// pinged is when the loop last answered Ping (UnixNano; 0: never).
	pinged atomic.Int64

	// mu serializes Start and Reconfigure; it guards what follows, the
	// running configuration as Reconfigure compares it.
	mu      sync.Mutex
	given   Options               // the instances, groups and scripts as given (primaries as given)
	primary map[string]netip.Addr // the primary address each instance runs with
	keys    map[tkey]bool         // the transports open
	watched map[string]bool       // the interfaces watched (until Stop, used or not)
	rctx    context.Context       // the runner's, for the goroutines Reconfigure starts; made by Start
	wg      sync.WaitGroup        // the readers and scripts, waited for by Stop

	// calls runs the OnTransition callbacks, in order (made by Start).
	calls *queue

	stop, stopped chan struct{} // made by Start
	sonce         sync.Once
	ownAnnouncer  *Announcer // the default one, closed by Stop
}

// NewRunner checks opts and builds the machines (finding the primary
// addresses the instances leave zero). It opens no socket.
func NewRunner(opts Options) (*Runner, error) {
	r := &Runner{opts: opts, inbox: make(chan func(time.Time), 256), quit: make(chan struct{})}
	r.log = opts.Log
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if opts.HookTimeout <= 0 {
		r.opts.HookTimeout = 10 * time.Second
	}
	if r.opts.Exec == nil {
		r.opts.Exec = runArgv
	}
	if r.opts.Dial == nil {
		r.opts.Dial = func(ifname string, v6 bool) (Transport, error) { return Dial(ifname, v6) }
	}
	if r.opts.VIPs == nil {
		r.opts.VIPs = NewNetlinkVIPs()
	}
	if r.opts.Announcer == nil {
		r.ownAnnouncer = NewAnnouncer()
		r.opts.Announcer = r.ownAnnouncer
	}
	if r.opts.Links == nil {
		r.opts.Links = NetlinkLinks{}
	}
	r.opts.Instances = slices.Clone(opts.Instances) // Primary is filled in below
	for i := range r.opts.Instances {
		in := &r.opts.Instances[i]
		if !in.Config.Primary.IsValid() {
			v6 := len(in.Addresses) > 0 && in.Addresses[0].Addr().Is6()
			p, err := PrimaryAddr(in.Interface, v6, in.Addresses)
			if err != nil {
				return nil, fmt.Errorf("vrrp instance %s: %w", in.Name, err)
			}
			in.Config.Primary = p
		}
	}
	c, err := newCore(r.opts, r.log, &r.cnt)
	if err != nil {
		return nil, err
	}
	r.core = c
	c.publish()
	r.given = configOf(opts)
	r.primary = map[string]netip.Addr{}
	for _, in := range r.opts.Instances {
		r.primary[in.Name] = in.Config.Primary
	}
	return r, nil
}

// Stats returns the packet counters.
func (r *Runner) Stats() Stats { return r.cnt.stats() }

// SetTrack sets the priority adjustment that source (a name of the
// caller's choosing, such as "health") applies to instance; 0 removes it.
// The effective priority is the base plus every adjustment, kept in 1..254.
func (r *Runner) SetTrack(instance, source string, delta int) {
	r.post(func(now time.Time) { r.core.setTrack(now, instance, "api:"+source, delta) })
}

// SetPriority is Reconfigure with instance's configured priority
// changed: in place (its track adjustments still apply on top; a master
// stays master unless a peer now preempts it; a backup with the higher
// priority preempts under the preempt rules; no advert gap, no GARP),
// except to or from the owner's 255, which restarts the instance. It
// returns once applied; a failure (an unknown instance, a stopped runner)
// is logged.
func (r *Runner) SetPriority(instance string, prio uint8) {
	r.edit(instance, func(in *Instance) { in.Config.Priority = prio })
}

// SetAddresses is Reconfigure with instance's virtual addresses changed:
// in place (a master adds the new ones, removes the dropped ones and
// announces them all; a backup only remembers them; state, timers and
// socket untouched), except for another family, which restarts the
// instance. It returns once applied; a failure is logged.
func (r *Runner) SetAddresses(instance string, addrs []netip.Prefix) {
	addrs = slices.Clone(addrs)
	r.edit(instance, func(in *Instance) { in.Addresses = addrs })
}

// edit reconfigures the runner with one instance of the running
// configuration edited by fn.
func (r *Runner) edit(instance string, fn func(*Instance)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := configOf(r.given)
	k := slices.IndexFunc(o.Instances, func(in Instance) bool { return in.Name == instance })
	if k < 0 {
		r.log.Warn("vrrp instance not changed: unknown", "instance", instance)
		return
	}
	fn(&o.Instances[k])
	if _, err := r.reconfigure(o); err != nil {
		r.log.Warn("vrrp instance not changed", "instance", instance, "err", err)
	}
}

// post hands fn to the runner goroutine (dropped once its loop is over).
func (r *Runner) post(fn func(time.Time)) {
	select {
	case r.inbox <- fn:
	case <-r.quit:
	}
}

// do runs fn on the runner goroutine and waits for it; false means that
// the loop is over and fn did not and will not run.
func (r *Runner) do(fn func(time.Time)) bool {
	done := make(chan struct{})
	r.post(func(now time.Time) {
		fn(now)
		r.core.publish() // before the caller goes on: Status sees what fn did
		close(done)
	})
	select {
	case <-done:
		return true
	case <-r.quit:
		// fn runs on the loop, before quit is closed, or never.
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
}

func (r *Runner) stopPosts() { r.qonce.Do(func() { close(r.quit) }) }

// Ping asks the runner's loop to note the time, which LastPing returns
// once the loop has turned: a liveness probe for a watchdog (the
// director withholds systemd's WATCHDOG=1 while a ping stays
// unanswered). It never blocks: a full queue, which a stalled loop
// leaves, drops the ping.
func (r *Runner) Ping() {
	select {
	case r.inbox <- func(now time.Time) { r.pinged.Store(now.UnixNano()) }:
	default:
	}
}

// LastPing is when the loop last answered Ping; zero before the first.
func (r *Runner) LastPing() time.Time {
	if n := r.pinged.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Freeze holds the runner's loop until release is closed: what a stalled
// loop looks like to a watchdog (tests; tandem's TANDEM_TEST_FREEZE).
func (r *Runner) Freeze(release <-chan struct{}) {
	r.post(func(time.Time) {
		select {
		case <-release:
		case <-r.stop:
		}
	})
}

// Run is Start, then Stop when ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.Start(); err != nil {
		return err
	}
	<-ctx.Done()
	r.Stop()
	return nil
}

// Start opens the sockets, starts the machines and returns; the runner
// goroutine runs until Stop. An error means nothing was started (and
// nothing is left open). Start may be called once.
func (r *Runner) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.core
	fail := func(err error) error {
		c.closeTransports()
		r.stopPosts()
		return err
	}
	if r.stop != nil {
		return fail(errors.New("vrrp: runner started twice"))
	}
	// Sockets, one per interface and family.
	for _, k := range c.keys {
		t, err := r.opts.Dial(k.ifname, k.v6)
		if err != nil {
			return fail(err)
		}
		c.tr[k] = t
	}
	rctx, cancel := context.WithCancel(context.Background())
	names := c.linkNames()
	links, err := r.opts.Links.Watch(rctx, names, func(name string, up bool) {
		r.post(func(now time.Time) { c.link(now, name, up) })
	})
	if err != nil {
		cancel()
		return fail(err)
	}
	r.rctx = rctx
	r.keys, r.watched = map[tkey]bool{}, map[string]bool{}
	for k, t := range c.tr {
		r.keys[k] = true
		r.wg.Go(func() { r.read(rctx, k, t) })
	}
	for _, n := range names {
		r.watched[n] = true
	}
	for _, s := range c.scripts {
		r.startScript(s)
	}
	// Hooks and the OnTransition callback run off the loop, in order.
	hooks, calls := newQueue(), newQueue()
	c.hook = func(argv []string) {
		if !hooks.push(func() {
			hctx, hcancel := context.WithTimeout(context.Background(), r.opts.HookTimeout)
			defer hcancel()
			if err := r.opts.Exec(hctx, argv); err != nil {
				r.log.Warn("notify hook failed", "argv", strings.Join(argv, " "), "err", err)
			}
		}) {
			r.log.Warn("notify hook dropped: too many pending", "argv", strings.Join(argv, " "))
		}
	}
	if r.opts.OnTransition != nil {
		c.onTransition = func(name string, from, to State, prio uint8, why Reason) {
			calls.push(func() { r.opts.OnTransition(name, from, to, prio, why) })
		}
	}
	r.calls = calls
	hooksDone := hooks.run()
	calls.run()

	r.stop, r.stopped = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.stopped)
		r.loop(links)
		r.stopPosts()
		cancel()
		c.closeTransports()
		if r.ownAnnouncer != nil {
			r.ownAnnouncer.Close()
		}
		r.wg.Wait()
		calls.close()
		hooks.close()
		select { // let the last hooks (STOP) run, within a bound
		case <-hooksDone:
		case <-time.After(2 * time.Second):
		}
	}()
	return nil
}

// Stop shuts the machines down (every master sends priority 0 and releases
// its addresses), closes the sockets and returns when the runner
// goroutine is done. It does nothing before a successful Start, and may be
// called more than once.
func (r *Runner) Stop() {
	if r.stop == nil {
		return
	}
	r.sonce.Do(func() { close(r.stop) })
	<-r.stopped
}

// loop is the runner goroutine's select loop, until Stop; it returns once
// the machines are shut down.
func (r *Runner) loop(links map[string]bool) {
	c := r.core
	c.start(time.Now(), links)
	c.publish()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var tc <-chan time.Time
		next := c.next()
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			tc = timer.C
		}
		select {
		case <-r.stop:
			c.shutdown(time.Now())
			c.publish()
			return
		case fn := <-r.inbox:
			fn(time.Now())
		case <-tc:
			r.timerFired(next)
		}
		c.publish()
	}
}

// timerFired handles the loop's timer, after what the readers posted
// before it. After a stall (a starved process on a loaded host) the timer
// and the adverts that should have kept a backup's Master_Down_Timer from
// running out can be ready together, and select picks either: the timer
// first would make the backup master for nothing, and the advert handled
// next would send it back at once (two false transitions).
//
// A stall can also hold the readers themselves: the advert is in the
// socket, not yet posted, when the timer is handled. So when the timer
// fires late (by more than stallLate: this process did not run) and a
// backup's Master_Down_Timer is among what is due, the readers get as
// long as the stall lasted (at most stallGrace) to post what arrived
// meanwhile; an advert that resets the timer ends the wait. A backup
// whose master is really gone takes over that much later, only after a
// stall of its own.
func (r *Runner) timerFired(due time.Time) {
	if late := time.Since(due); late > stallLate && r.core.backupDue(time.Now()) {
		grace := time.NewTimer(min(late, stallGrace))
	wait:
		for r.core.backupDue(time.Now()) {
			select {
			case fn := <-r.inbox:
				fn(time.Now())
			case <-grace.C:
				break wait
			}
		}
		grace.Stop()
	}
	for n := len(r.inbox); n > 0; n-- { // bounded: a flood cannot hold the timer off
		fn := <-r.inbox
		fn(time.Now())
	}
	r.core.fire(time.Now())
}

// A timer handled more than stallLate after it was due means the runner
// did not run meanwhile; stallGrace bounds the wait for the readers then
// (see timerFired).
const (
	stallLate  = 5 * time.Millisecond
	stallGrace = 20 * time.Millisecond
)

// read feeds the adverts of one transport to the loop.
func (r *Runner) read(ctx context.Context, k tkey, t Transport) {
	for {
		p, src, dst, err := t.ReadFrom()
		if err != nil {
			var de *DropError
			switch {
			case errors.As(err, &de):
				r.post(func(now time.Time) { r.core.dropped(now, k, de) })
				continue
			case ctx.Err() != nil || errors.Is(err, net.ErrClosed):
				return
			}
			r.log.Warn("vrrp read failed", "interface", k.ifname, "err", err)
			select { // do not spin on a persistent error
			case <-ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		r.post(func(now time.Time) { r.core.packet(now, k, p, src, dst) })
	}
}

// startScript runs s on a goroutine of its own until Stop, or until a
// reload stops it (s.cancel).
func (r *Runner) startScript(s *scriptState) {
	ctx, cancel := context.WithCancel(r.rctx)
	s.cancel = cancel
	r.wg.Go(func() { r.script(ctx, s) })
}

// script runs one track script every Interval and posts its results, which
// count while s is the script of that name (a reload may have replaced
// it).
func (r *Runner) script(ctx context.Context, st *scriptState) {
	s := st.TrackScript
	tk := time.NewTicker(s.Interval)
	defer tk.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, s.Timeout)
		err := r.opts.Exec(sctx, s.Command)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil
		r.post(func(now time.Time) {
			if r.core.scripts[s.Name] == st {
				r.core.scriptResult(now, s.Name, ok)
			}
		})
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

func runArgv(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return errors.New("empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return err
}

// queue runs funcs in order on one goroutine, never blocking the pusher.
type queue struct {
	mu     sync.Mutex
	items  []func()
	closed bool
	wake   chan struct{}
}

// queueMax bounds a queue; a push beyond it is refused.
const queueMax = 1024

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(fn func()) bool {
	q.mu.Lock()
	if q.closed || len(q.items) >= queueMax {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, fn)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run starts the goroutine; the channel closes when the queue is closed and
// drained.
func (q *queue) run() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			q.mu.Lock()
			items, closed := q.items, q.closed
			q.items = nil
			q.mu.Unlock()
			for _, fn := range items {
				fn()
			}
			if closed && len(items) == 0 {
				return
			}
			if len(items) == 0 {
				<-q.wake
			}
		}
	}()
	return done
}

// tkey names a transport: an interface and an address family.
type tkey struct {
	ifname string
	v6     bool
}

// inst is one instance inside the core.
type inst struct {
	Instance
	m     *Machine
	key   tkey
	vips  []netip.Addr
	group *group

	deadline time.Time // the machine's timer; zero when none
	tracks   map[string]int
	faults   map[string]bool
	faulted  bool // Fault was sent to the machine
	started  bool
	cleaned  bool // stale VIPs removed after the first state decision

	garp      []time.Time // pending announcements, sorted
	lastBurst time.Time
	burstDue  time.Time // a burst asked for too soon after lastBurst, deferred; zero when none
	// The step-down advert (a master that heard a better one) when it
	// could not be sent: retried every stepDownRetry, stepDownTries times
	// at most, while the instance stays backup.
	stepDownAt    time.Time
	stepDownPrio  uint8
	stepDownTries int
	refreshAt     time.Time
	sendFail      bool // the last send failed (log once)

	// For Status: the counters, when the state last changed, the
	// priority of the master's last advert, and the snapshot last
	// published (rebuilt by publish when dirty).
	n          instCounters
	since      time.Time
	masterPrio uint8
	dirty      bool
	snap       *InstanceStatus
}

type group struct {
	SyncGroup
	g     *Group
	state State // last state the whole group reached
}

type scriptState struct {
	TrackScript
	known, up bool
	run       int                // results in a row that disagree with up
	cancel    context.CancelFunc // stops its goroutine; nil when none
}

// core is the runner's synchronous heart: every method runs on the
// runner goroutine (or a test's), takes the time, and acts through the
// edges. Tests drive it directly with a fake clock.
type core struct {
	opts    Options
	log     *slog.Logger
	cnt     *counters
	insts   []*inst
	byName  map[string]*inst
	byVRID  map[tkey]map[uint8]*inst
	keys    []tkey
	tr      map[tkey]Transport
	scripts map[string]*scriptState
	groups  []*group
	links   map[string]bool // the last state heard of each watched interface

	refusals map[refKey]*refLog // rate limit of the refused adverts' warnings

	// pub is the published status of the instances (Status); relist
	// says that the list of instances changed since.
	pub    atomic.Pointer[[]*InstanceStatus]
	relist bool

	stopping bool
	hook     func(argv []string)
	// onTransition is Options.OnTransition (queued); nil when none, and
	// then the core logs the transitions itself.
	onTransition func(name string, from, to State, prio uint8, why Reason)
}

func newCore(opts Options, log *slog.Logger, cnt *counters) (*core, error) {
	c := &core{
		opts: opts, log: log, cnt: cnt,
		byName: map[string]*inst{}, byVRID: map[tkey]map[uint8]*inst{},
		tr: map[tkey]Transport{}, scripts: map[string]*scriptState{},
		links: map[string]bool{}, refusals: map[refKey]*refLog{},
		hook: func([]string) {}, relist: true,
	}
	for _, s := range opts.TrackScripts {
		if len(s.Command) == 0 || s.Interval <= 0 || s.Timeout <= 0 {
			return nil, fmt.Errorf("vrrp track script %s: needs a command, an interval and a timeout", s.Name)
		}
		if c.scripts[s.Name] != nil {
			return nil, fmt.Errorf("vrrp track script %s: defined twice", s.Name)
		}
		c.scripts[s.Name] = &scriptState{TrackScript: s}
	}
	for _, in := range opts.Instances {
		if _, dup := c.byName[in.Name]; dup {
			return nil, fmt.Errorf("vrrp instance %s: defined twice", in.Name)
		}
		if len(in.Addresses) == 0 {
			return nil, fmt.Errorf("vrrp instance %s: no addresses", in.Name)
		}
		m, err := NewMachine(in.Config)
		if err != nil {
			return nil, fmt.Errorf("vrrp instance %s: %w", in.Name, err)
		}
		i := &inst{Instance: in, m: m, tracks: map[string]int{}, faults: map[string]bool{}}
		i.key = tkey{in.Interface, in.Config.Primary.Is6()}
		for _, p := range in.Addresses {
			if p.Addr().Is6() != i.key.v6 {
				return nil, fmt.Errorf("vrrp instance %s: address %v is not of the family of %v", in.Name, p, in.Config.Primary)
			}
			i.vips = append(i.vips, p.Addr())
		}
		for _, s := range in.TrackScripts {
			if c.scripts[s] == nil {
				return nil, fmt.Errorf("vrrp instance %s: unknown track script %q", in.Name, s)
			}
		}
		if c.byVRID[i.key] == nil {
			c.byVRID[i.key] = map[uint8]*inst{}
			c.keys = append(c.keys, i.key)
		}
		if o := c.byVRID[i.key][in.Config.VRID]; o != nil {
			return nil, fmt.Errorf("vrrp instance %s: VRID %d already used by %s on %s", in.Name, in.Config.VRID, o.Name, in.Interface)
		}
		c.byVRID[i.key][in.Config.VRID] = i
		c.byName[in.Name] = i
		c.insts = append(c.insts, i)
	}
	for _, sg := range opts.SyncGroups {
		if slices.ContainsFunc(c.groups, func(g *group) bool { return g.Name == sg.Name }) {
			return nil, fmt.Errorf("vrrp sync group %s: defined twice", sg.Name)
		}
		g := &group{SyncGroup: sg, g: NewGroup(sg.Instances)}
		c.groups = append(c.groups, g)
		for _, n := range sg.Instances {
			i := c.byName[n]
			if i == nil {
				return nil, fmt.Errorf("vrrp sync group %s: unknown instance %q", sg.Name, n)
			}
			if i.group != nil {
				return nil, fmt.Errorf("vrrp sync group %s: instance %s is already in group %s", sg.Name, n, i.group.Name)
			}
			i.group = g
		}
	}
	return c, nil
}

// linkNames are the interfaces to watch.
func (c *core) linkNames() []string {
	var names []string
	for _, i := range c.insts {
		for _, n := range append([]string{i.Interface}, i.TrackInterfaces...) {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

func (c *core) closeTransports() {
	for k, t := range c.tr {
		t.Close()
		delete(c.tr, k)
	}
}

// start starts every machine, then applies the interfaces' state.
func (c *core) start(now time.Time, links map[string]bool) {
	for _, i := range c.insts {
		i.started = true
		c.step(now, i, Event{Kind: Startup}, 0)
	}
	for n, up := range links {
		c.link(now, n, up)
	}
}

// shutdown stops every machine: masters send priority 0 and release.
func (c *core) shutdown(now time.Time) {
	c.stopping = true
	for _, i := range c.insts {
		c.step(now, i, Event{Kind: Shutdown}, 0)
	}
}

// next is when the core next needs fire; zero when never.
func (c *core) next() time.Time {
	var t time.Time
	earlier := func(u time.Time) {
		if !u.IsZero() && (t.IsZero() || u.Before(t)) {
			t = u
		}
	}
	for _, i := range c.insts {
		earlier(i.deadline)
		if len(i.garp) > 0 {
			earlier(i.garp[0])
		}
		earlier(i.burstDue)
		earlier(i.stepDownAt)
		earlier(i.refreshAt)
	}
	return t
}

// backupDue reports whether a backup's Master_Down_Timer has run out at
// now (its takeover is due).
func (c *core) backupDue(now time.Time) bool {
	for _, i := range c.insts {
		if i.m.State() == Backup && !i.deadline.IsZero() && !now.Before(i.deadline) {
			return true
		}
	}
	return false
}

// fire delivers the timers and announcements due at now.
func (c *core) fire(now time.Time) {
	for _, i := range c.insts {
		if !i.deadline.IsZero() && !now.Before(i.deadline) {
			i.deadline = time.Time{}
			c.step(now, i, Event{Kind: Timer}, 0)
		}
		if !i.burstDue.IsZero() && !now.Before(i.burstDue) {
			i.burstDue = time.Time{}
			c.burst(now, i)
		}
		if !i.stepDownAt.IsZero() && !now.Before(i.stepDownAt) {
			i.stepDownAt = time.Time{}
			if i.m.State() == Backup {
				c.stepDownAdvert(now, i, i.stepDownPrio)
			}
		}
		n := 0
		for n < len(i.garp) && !now.Before(i.garp[n]) {
			n++
		}
		if n > 0 {
			i.garp = i.garp[n:]
			for range n {
				c.announce(i)
			}
		}
		if !i.refreshAt.IsZero() && !now.Before(i.refreshAt) {
			i.refreshAt = now.Add(i.GARP.Refresh)
			c.log.Debug("vrrp announce refresh", "instance", i.Name, "interface", i.Interface, "kind", announceKind(i), "addresses", len(i.vips))
			c.announce(i)
		}
	}
}

// maxDepth bounds the chain of sync-group orders one event may cause.
const maxDepth = 8

// step hands ev to i's machine and performs the actions.
func (c *core) step(now time.Time, i *inst, ev Event, depth int) {
	i.dirty = true
	for _, a := range i.m.Step(now, ev) {
		switch a.Kind {
		case SendAdvert:
			if i.m.State() == Backup && a.Priority != 0 {
				// A master stepping down for a better one: its last
				// advert makes the winner announce again (see Machine).
				i.stepDownTries = 0
				c.stepDownAdvert(now, i, a.Priority)
				break
			}
			c.send(i, a.Priority)
		case TakeVIPs:
			c.addVIPs(i, i.Addresses)
		case ReleaseVIPs:
			c.delVIPs(i, i.Addresses, true)
		case Announce:
			c.burst(now, i)
		case SetTimer:
			i.deadline = a.At
		case Transition:
			c.transition(now, i, a, depth)
		}
	}
}

// addVIPs adds ps to i's interface, each logged at Info, and reports
// whether any was added.
func (c *core) addVIPs(i *inst, ps []netip.Prefix) bool {
	added := false
	for _, p := range ps {
		if err := c.opts.VIPs.AddVIP(i.Interface, p); err != nil {
			c.log.Error("cannot add vip", "instance", i.Name, "address", p, "interface", i.Interface, "err", err)
			continue
		}
		c.log.Info("vrrp vip added", "instance", i.Name, "address", p, "interface", i.Interface)
		added = true
	}
	return added
}

// delVIPs removes ps from i's interface, each logged at Info when loud
// (the machine's ReleaseVIPs; the clean-up of a fresh start cannot tell
// whether an address was there, so it is quiet).
func (c *core) delVIPs(i *inst, ps []netip.Prefix, loud bool) {
	for _, p := range ps {
		if err := c.opts.VIPs.DelVIP(i.Interface, p); err != nil {
			c.log.Error("cannot remove vip", "instance", i.Name, "address", p, "interface", i.Interface, "err", err)
			continue
		}
		if loud {
			c.log.Info("vrrp vip removed", "instance", i.Name, "address", p, "interface", i.Interface)
		}
	}
}

// transition performs a Transition action: exactly one log line, by the
// core at Info when no OnTransition is set, else by whoever set it.
func (c *core) transition(now time.Time, i *inst, a Action, depth int) {
	from, to := a.From, a.To
	prio := i.m.Priority()
	i.since = now
	i.n.transitions++
	if to == Master {
		i.n.becameMaster++
	}
	if from == Master {
		i.n.releasedMaster++
	}
	if c.onTransition == nil {
		c.log.Info("vrrp transition", "instance", i.Name, "from", from.String(), "to", to.String(), "priority", prio, "reason", a.Reason.String())
	} else {
		c.onTransition(i.Name, from, to, prio, a.Reason)
	}
	if from == Master {
		i.garp, i.burstDue, i.refreshAt = nil, time.Time{}, time.Time{}
	}
	if to != Backup {
		i.stepDownAt = time.Time{} // its retry is a backup's business
	}
	if to == Master && i.GARP.Refresh > 0 {
		i.refreshAt = now.Add(i.GARP.Refresh)
	}
	// The first decision of a fresh start: addresses a crashed run left
	// behind go unless this node is master.
	if !i.cleaned && from == Initialize {
		i.cleaned = true
		if to != Master {
			c.log.Debug("vrrp vips removed in case an earlier run left them", "instance", i.Name, "interface", i.Interface)
			c.delVIPs(i, i.Addresses, false)
		}
	}
	if i.Notify != nil {
		c.hook(append(slices.Clip(i.Notify), "INSTANCE", i.Name, stateWord(to), strconv.Itoa(int(prio))))
	}
	g := i.group
	if g == nil || c.stopping {
		return
	}
	if depth >= maxDepth {
		c.log.Error("vrrp sync group orders do not settle", "group", g.Name, "instance", i.Name)
		return
	}
	for _, o := range g.g.Transition(i.Name, from, to) {
		if t := c.byName[o.Member]; t != nil {
			c.step(now, t, o.Event, depth+1)
		}
	}
	c.groupState(g)
}

// groupState runs the group's notify hook when the group's state changes.
func (c *core) groupState(g *group) {
	st := g.g.State()
	if st == g.state {
		return
	}
	g.state = st
	if g.Notify != nil {
		c.hook(append(slices.Clip(g.Notify), "GROUP", g.Name, stateWord(st)))
	}
}

// stateWord is the state as keepalived's notify scripts get it.
func stateWord(s State) string {
	switch s {
	case Master:
		return "MASTER"
	case Backup:
		return "BACKUP"
	case Fault:
		return "FAULT"
	}
	return "STOP"
}

// burst schedules a fresh announcement burst (the first ones now),
// replacing the pending one. One asked for less than an advert interval
// after the last one started is deferred until an interval has passed
// (several asks in between make one burst): a lower master that keeps
// asserting itself must not make this one flood the link, but the last
// ask must not be lost either — in a partition that heals, the loser may
// announce between the winner's burst and its own step-down advert, and
// only a burst after that advert brings the ARP caches back.
func (c *core) burst(now time.Time, i *inst) {
	if c.stopping {
		return
	}
	if !i.lastBurst.IsZero() && now.Sub(i.lastBurst) < i.Config.AdvertInterval {
		if i.burstDue.IsZero() {
			i.burstDue = i.lastBurst.Add(i.Config.AdvertInterval)
			c.log.Debug("vrrp announce burst deferred: one started less than an advert interval ago", "instance", i.Name, "until", i.burstDue)
		}
		return
	}
	i.lastBurst, i.burstDue = now, time.Time{}
	i.garp = i.garp[:0]
	g := i.GARP
	if g.Count+g.RepeatCount > 0 {
		i.n.bursts++
		i.dirty = true
		c.log.Info("vrrp announce burst", "instance", i.Name, "interface", i.Interface, "kind", announceKind(i),
			"addresses", len(i.vips), "count", g.Count, "interval", g.Interval,
			"repeat", g.RepeatCount, "repeat_after", g.RepeatAfter, "packets", len(i.vips)*(g.Count+g.RepeatCount))
	}
	for k := range g.Count {
		i.garp = append(i.garp, now.Add(time.Duration(k)*g.Interval))
	}
	for k := range g.RepeatCount {
		i.garp = append(i.garp, now.Add(g.RepeatAfter+time.Duration(k)*g.Interval))
	}
	slices.SortFunc(i.garp, func(a, b time.Time) int { return a.Compare(b) })
	// The ones due now go out at once.
	n := 0
	for n < len(i.garp) && !now.Before(i.garp[n]) {
		n++
	}
	i.garp = i.garp[n:]
	for range n {
		c.announce(i)
	}
}

// announceKind names what an announcement of i sends.
func announceKind(i *inst) string {
	if i.key.v6 {
		return "unsolicited NA"
	}
	return "gratuitous ARP"
}

func (c *core) announce(i *inst) {
	if err := c.opts.Announcer.Announce(i.Interface, i.vips); err != nil {
		c.log.Warn("announce failed", "instance", i.Name, "err", err)
		return
	}
	i.n.announced++
	i.dirty = true
}

// Retries of a step-down advert that could not be sent.
const (
	stepDownRetry = 10 * time.Millisecond
	stepDownTries = 10
)

// stepDownAdvert sends the last advert of a master that stepped down for
// a better one. The winner announces again only when it hears it (or
// another of ours), and ARP caches that followed this router during a
// partition come back only then. One that cannot be sent (a local filter
// on its way out may pass input before output: the lab's nftables heal
// deletes the input and the output chain of one table) is retried every
// stepDownRetry, stepDownTries times at most, while the instance stays
// backup.
func (c *core) stepDownAdvert(now time.Time, i *inst, prio uint8) {
	i.stepDownTries++
	i.dirty = true
	if c.send(i, prio) {
		i.stepDownAt = time.Time{}
		return
	}
	if i.stepDownTries >= stepDownTries {
		c.log.Warn("vrrp step-down advert not sent: the winner may not announce again", "instance", i.Name, "tries", i.stepDownTries)
		i.stepDownAt = time.Time{}
		return
	}
	c.log.Info("vrrp step-down advert not sent, retrying", "instance", i.Name, "try", i.stepDownTries, "in", stepDownRetry)
	i.stepDownAt, i.stepDownPrio = now.Add(stepDownRetry), prio
}

// send sends an advert of i with prio, to the group or each peer, and
// reports whether it went to every destination.
func (c *core) send(i *inst, prio uint8) bool {
	t := c.tr[i.key]
	if t == nil {
		return false
	}
	p := &Packet{
		Version: uint8(i.Config.Version), Type: TypeAdvertisement, VRID: i.Config.VRID,
		Priority: prio, Interval: i.Config.AdvertInterval, Addresses: i.vips,
	}
	if i.Config.Version == 2 {
		p.SetPassword(i.AuthPass)
	}
	src := i.Config.Primary
	dsts := []netip.Addr{GroupV4}
	if i.key.v6 {
		dsts[0] = GroupV6
	}
	if len(i.UnicastPeers) > 0 {
		dsts = i.UnicastPeers
	}
	ok := true
	for _, dst := range dsts {
		if dst == src {
			continue // the file lists every node; not this one
		}
		if err := t.WriteTo(p, src, dst); err != nil {
			c.cnt.sendErrors.Add(1)
			i.n.sendErrors++
			if !i.sendFail {
				c.log.Warn("cannot send advert", "instance", i.Name, "err", err)
			}
			i.sendFail, ok = true, false
			continue
		}
		i.sendFail = false
		c.cnt.sent.Add(1)
		i.n.sent++
	}
	return ok
}

// packet handles a received advert. Machine.Check comes before the
// password, so that a VRRPv3 advert to a VRRPv2 instance with a password
// counts as the version mismatch it is.
func (c *core) packet(now time.Time, k tkey, p *Packet, src, dst netip.Addr) {
	i := c.byVRID[k][p.VRID]
	if i == nil {
		c.refused(now, k, nil, dropUnknownVRID, p.VRID, src, nil)
		return
	}
	if len(i.UnicastPeers) > 0 && !slices.Contains(i.UnicastPeers, src.WithZone("")) {
		c.refused(now, k, i, dropNotPeer, p.VRID, src, nil)
		return
	}
	if err := i.m.Check(p, src); err != nil {
		c.refused(now, k, i, checkDrop(err), p.VRID, src, err)
		return
	}
	if err := p.CheckAuth(i.AuthPass); err != nil {
		c.refused(now, k, i, dropAuth, p.VRID, src, err)
		return
	}
	c.cnt.received.Add(1)
	i.n.received++
	c.step(now, i, Event{Kind: Advert, Packet: p, From: src}, 0)
	if m := i.m.Master(); m.IsValid() && m == src.Unmap().WithZone("") {
		i.masterPrio = p.Priority // the master it follows, or one it discards
	}
}

// dropped handles a packet the transport dropped: a malformed one, or
// one with a TTL other than 255. A wrong TTL is blamed on the instance
// whose VRID the advert is for; one that no instance owns is counted as
// what it is besides: malformed when it did not parse, another VRID when
// it did. (Counted as bad TTL without an instance it would show in
// Stats only, in neither an instance's Drops nor the runner-wide reasons
// that status and the metrics show.)
func (c *core) dropped(now time.Time, k tkey, e *DropError) {
	if !errors.Is(e.Err, ErrTTL) || e.Packet == nil {
		c.refused(now, k, nil, dropMalformed, 0, e.Src, e.Err)
		return
	}
	vrid := e.Packet.VRID
	i := c.byVRID[k][vrid]
	if i == nil {
		c.refused(now, k, nil, dropUnknownVRID, vrid, e.Src, e.Err)
		return
	}
	c.refused(now, k, i, dropTTL, vrid, e.Src, e.Err)
}

// link records an interface's state and applies it to the instances that
// track it.
func (c *core) link(now time.Time, name string, up bool) {
	c.links[name] = up
	for _, i := range c.insts {
		if i.Interface == name || slices.Contains(i.TrackInterfaces, name) {
			c.setFault(now, i, "interface:"+name, !up)
		}
	}
}

// scriptResult counts a track script's result.
func (c *core) scriptResult(now time.Time, name string, ok bool) {
	s := c.scripts[name]
	if s == nil {
		return
	}
	switch {
	case !s.known:
		s.known, s.up = true, ok
	case ok == s.up:
		s.run = 0
		return
	default:
		s.run++
		need := s.Fall
		if ok {
			need = s.Rise
		}
		if s.run < max(need, 1) {
			return
		}
		s.up, s.run = ok, 0
	}
	c.log.Info("track script", "script", name, "up", s.up)
	for _, i := range c.insts {
		if slices.Contains(i.TrackScripts, name) {
			c.scriptEffect(now, i, s)
		}
	}
}

// scriptEffect applies s's result to i, which tracks it: with weight 0 a
// fault while s is down, else a priority adjustment. A reload that changed
// the weight left the other kind of effect until this result: it is
// cleared, the priority before the fault so that a machine that recovers
// uses the new priority.
func (c *core) scriptEffect(now time.Time, i *inst, s *scriptState) {
	src := "script:" + s.Name
	if s.Weight == 0 {
		c.setFault(now, i, src, !s.up)
		c.setTrack(now, i.Name, src, 0)
		return
	}
	d := 0
	if (s.Weight < 0) != s.up {
		d = s.Weight
	}
	c.setTrack(now, i.Name, src, d)
	c.setFault(now, i, src, false)
}

// setTrack sets one source's priority adjustment and tells the machine
// the new effective priority.
func (c *core) setTrack(now time.Time, instance, source string, delta int) {
	i := c.byName[instance]
	if i == nil {
		c.log.Warn("priority adjustment for an unknown vrrp instance", "instance", instance, "source", source)
		return
	}
	if delta == 0 {
		delete(i.tracks, source)
	} else {
		i.tracks[source] = delta
	}
	i.dirty = true
	c.applyPriority(now, i, source)
}

// setAddresses replaces i's addresses, of its family, in place: a master
// adds the new ones, removes the dropped ones and announces at once if it
// added any; a backup only remembers them.
func (c *core) setAddresses(now time.Time, i *inst, addrs []netip.Prefix) {
	master := i.m.State() == Master
	old := i.Addresses
	i.Addresses = addrs
	i.vips = nil
	for _, p := range addrs {
		i.vips = append(i.vips, p.Addr())
	}
	if !master {
		return
	}
	c.delVIPs(i, slices.DeleteFunc(slices.Clone(old), func(p netip.Prefix) bool { return slices.Contains(addrs, p) }), true)
	added := c.addVIPs(i, slices.DeleteFunc(slices.Clone(addrs), func(p netip.Prefix) bool { return slices.Contains(old, p) }))
	if added {
		i.lastBurst = time.Time{} // the new addresses are announced now
		c.burst(now, i)
	}
}

// applyPriority gives i's machine its configured priority plus its track
// adjustments, when that changes it.
func (c *core) applyPriority(now time.Time, i *inst, source string) {
	p := int(i.Config.Priority)
	for _, d := range i.tracks {
		p += d
	}
	p = min(max(p, 1), Owner-1)
	if uint8(p) != i.m.Priority() {
		c.log.Info("vrrp priority", "instance", i.Name, "priority", p, "source", source)
		c.step(now, i, Event{Kind: SetPriority, Priority: uint8(p)}, 0)
	}
}

// setFault sets or clears one reason for i to be in Fault.
func (c *core) setFault(now time.Time, i *inst, reason string, on bool) {
	i.dirty = true
	if on {
		i.faults[reason] = true
	} else {
		delete(i.faults, reason)
	}
	switch {
	case len(i.faults) > 0 && !i.faulted:
		i.faulted = true
		c.log.Warn("vrrp fault", "instance", i.Name, "reason", reason)
		c.step(now, i, Event{Kind: Fail}, 0)
	case len(i.faults) == 0 && i.faulted:
		i.faulted = false
		c.log.Info("vrrp fault cleared", "instance", i.Name, "reason", reason)
		c.step(now, i, Event{Kind: Recover}, 0)
	}
}
