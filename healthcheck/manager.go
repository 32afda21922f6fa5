package healthcheck

import (
	"cmp"
	"context"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Verdict is the news that a check changed state. It is sent only on
// transitions: the first result of a check (from Unknown to Up or Down),
// then each rise or fall.
type Verdict struct {
	ID      ID
	Up      bool
	Err     error // the last probe's error; nil when Up
	Latency time.Duration
	At      time.Time // when the deciding probe ended
}

// Status is a snapshot of one check, for status pages and logs.
type Status struct {
	ID          ID
	Spec        Spec // normalised
	State       State
	LastResult  error  // the last probe's error, nil after a success
	LastErr     string // the last probe's error text, "" after a success
	LastLatency time.Duration
	LastCheck   time.Time // zero before the first probe
	Transitions int       // state changes so far, the first result included
	Since       time.Time // of the last state change; zero before the first
	Successes   int       // in a row
	Failures    int       // in a row
	Probes      int       // probes run so far
	// HeldTimeouts counts the probe timeouts not counted because the
	// checker was overloaded or its group in a mass timeout
	// (overload.go).
	HeldTimeouts int
}

// Options configures a Manager. The zero value is usable.
type Options struct {
	// Logger receives one line per transition; nil discards.
	Logger *slog.Logger
	// Now stamps results and verdicts; nil = time.Now. Scheduling itself
	// runs on the runtime's timers (tests fake them with testing/synctest).
	Now func() time.Time
	// Rand (math/rand/v2) draws the first-probe jitter; nil = a randomly
	// seeded source.
	// It is used only inside Set, under the Manager's lock.
	Rand *rand.Rand
	// NewChecker builds the probe of a Spec; nil = NewChecker's
	// checkers, their probes on the Manager's own poller (Linux, see
	// poller_linux.go). Tests plug fakes in here.
	NewChecker func(Spec) (Checker, error)
	// OnProbe, when set, is called after every probe with the check's
	// kind, the probe's latency and whether it succeeded (metrics: the
	// probe latency histogram). It runs on the probe's goroutine, outside
	// the Manager's locks, and must be quick.
	OnProbe func(kind Kind, latency time.Duration, ok bool)
}

// verdictBuffer is the capacity of the Verdicts channel.
const verdictBuffer = 256

// Manager runs a set of checks, each at its own interval, and reports their
// transitions on one channel.
//
// Each check is a runtime timer whose firing runs one probe in a goroutine
// of its own (see the package documentation for why). A probe that hangs
// holds only its own check, for at most its Timeout.
//
// Set, Status, Verdicts and Close are safe for concurrent use.
type Manager struct {
	log        *slog.Logger
	now        func() time.Time // Options.Now; nil: the probes' own clock
	newChecker func(Spec) (Checker, error)
	onProbe    func(Kind, time.Duration, bool)

	mu     sync.Mutex // guards rand, checks, closed, poller's start
	rand   *rand.Rand
	checks map[ID]*check
	closed bool
	// poller runs the probes of tcp and http checks on Linux
	// (poller_linux.go): the Manager's own, started with the first check
	// that needs it (see ensurePoller), stopped by Close. Set once, under
	// mu, before any probe that uses it is armed; read without mu after.
	poller      *connectPoller
	pollerTried bool

	wg    sync.WaitGroup // check goroutines and the deliverer
	q     *verdictQueue
	ov    overload  // the overload detector (overload.go)
	epoch time.Time // the origin of the grid of probe times (see start)
}

// check is one running check. Its probes run one at a time, each in the
// goroutine of its timer's firing; mu guards the fields below it.
//
// Its size is much of what a check costs (10 000 checks: 10 000 of
// them), so what only some checks need hangs off it: a check whose probes
// run on the poller (tcp and http on Linux) has no context, goroutine or
// runtime timer, its probe time being pt, in the poller's timers; and its
// Spec is a template shared with the checks that differ from it only in
// their Target (the checks of one virtual server, usually), plus target.
type check struct {
	id      ID
	tmpl    *Spec          // the Spec without its Target; read-only
	target  netip.AddrPort // the Spec's Target
	checker Checker
	doneFn  func(error) // m.asyncDone(c, ·) when checker is an asyncChecker, whose probes need no goroutine
	sync    *syncCheck  // nil when the probes run on the poller's timers

	mu          sync.Mutex
	pt          probeTimer    // the probe time on the poller's timers (pt.f nil: on sync's)
	probeStart  time.Duration // of the async probe in flight, since Manager.epoch
	running     bool          // an async probe is in flight
	stopped     bool
	startLate   bool          // the probe in flight started late (see probeLate)
	sent        sentState     // under Manager.q.mu (queue.go)
	gen         uint32        // async probes started (modulo 2³²: compared for equality only)
	inflight    probeHandle   // the async probe in flight, if known
	origin      time.Duration // the first probe's slot, since Manager.epoch; the others follow at Interval
	due         time.Duration // the slot of the next (or in-flight) probe, after origin
	hyst        Hysteresis
	lastErr     error
	lastLatency time.Duration
	lastCheck   wallTime
	since       wallTime // of the last transition
	probes      int
	transitions int32
	held        int32 // probe timeouts not counted (see overload.go)

	ov ovState // under Manager.ov.mu
}

// async returns c's checker as an asyncChecker; only for a check with a
// doneFn.
func (c *check) async() asyncChecker { return c.checker.(asyncChecker) }

// wallTime is a time as nanoseconds since 1970 (UnixNano), 0 for the zero
// Time: a third of a time.Time's size, for the times a check keeps only
// to report.
type wallTime int64

func wallOf(t time.Time) wallTime {
	if t.IsZero() {
		return 0
	}
	return wallTime(t.UnixNano())
}

func (w wallTime) time() time.Time {
	if w == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(w))
}

// syncCheck is what a check whose probe times are the runtime's timers
// needs: a probe that runs in a goroutine (Checker.Check) is cancelled
// through ctx.
type syncCheck struct {
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
}

// NewManager returns a Manager with no checks. Call Close to stop it.
func NewManager(opts Options) *Manager {
	m := &Manager{
		log:        opts.Logger,
		now:        opts.Now,
		newChecker: opts.NewChecker,
		onProbe:    opts.OnProbe,
		rand:       opts.Rand,
		checks:     make(map[ID]*check),
		epoch:      time.Now(),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.newChecker == nil {
		// The checks' probes run on the Manager's poller, started
		// when the first checker that can use it is built.
		m.newChecker = func(s Spec) (Checker, error) {
			return newChecker(s, func() bool { return m.ensurePoller() != nil })
		}
	}
	if m.rand == nil {
		m.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	m.q = newVerdictQueue()
	m.wg.Go(m.q.deliver)
	return m
}

// Verdicts returns the channel of transitions. It is never closed before
// Close, and closed after it. The Manager never blocks a probe on it: when
// the reader lags, the verdicts of a check that flapped meanwhile coalesce
// into its latest state, and a flap that ended where the reader last saw it
// is dropped, so the reader always ends up with each check's current state
// and sees each check's states alternate.
//
// A verdict for a check that a later Set removed may still be in the
// channel's buffer; readers ignore IDs they no longer want.
func (m *Manager) Verdicts() <-chan Verdict { return m.q.out }

// Set makes specs the complete set of running checks. Checks whose ID is
// new start (in Unknown, first probe after a random fraction of their
// interval); checks whose ID is gone stop, and no verdict of theirs is
// queued after Set returns; the others keep running untouched, with their
// state and phase. Specs with equal IDs run once. Invalid specs run as
// checks that fail with the reason.
func (m *Manager) Set(specs []Spec) { m.SetIDs(specs, nil) }

// SetIDs is Set for a caller that has computed the specs' IDs: ids[i] is
// specs[i].ID(), or ids is nil. The checks then share the caller's ID
// strings (10 000 checks: half a megabyte less).
func (m *Manager) SetIDs(specs []Spec, ids []ID) {
	if ids != nil && len(ids) != len(specs) {
		panic("healthcheck: SetIDs: ids and specs differ in length")
	}
	if ids == nil {
		ids = make([]ID, len(specs))
		for i := range specs {
			ids[i] = specs[i].ID()
		}
	}
	m.SetFunc(ids, func(i int) Spec { return specs[i] })
}

// SetFunc is SetIDs for a caller that builds each spec on demand: spec(i)
// returns the spec whose ID is ids[i], and is called, under the Manager's
// lock, only for the checks that start. A caller with 10 000 checks then
// never holds all their specs at once (3 MB at start).
func (m *Manager) SetFunc(ids []ID, spec func(i int) Spec) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	want := make(map[ID]int, len(ids)) // index in ids
	order := make([]ID, 0, len(ids))
	for i, id := range ids {
		if _, dup := want[id]; !dup {
			want[id] = i
			order = append(order, id)
		}
	}
	var gone []ID
	var news []episode
	for id, c := range m.checks {
		if _, ok := want[id]; !ok {
			m.stop(c)
			delete(m.checks, id)
			gone = append(gone, id)
			news = append(news, m.ov.leave(&c.ov, time.Now())...)
		}
	}
	defer m.logEpisodes(news) // under m.mu (the deferred unlock runs after): the logger never calls back
	m.q.forget(gone)
	tmpls := map[ID]*Spec{}
	for _, id := range order {
		if _, ok := m.checks[id]; ok {
			continue
		}
		s := spec(want[id]).Normalize()
		checker, err := m.newChecker(s)
		if err != nil {
			checker = brokenChecker{name: string(id), err: err}
		}
		c := &check{
			id:      id,
			tmpl:    template(s, tmpls),
			target:  s.Target,
			checker: checker,
			hyst:    Hysteresis{Rise: s.Rise, Fall: s.Fall},
		}
		if _, ok := checker.(asyncChecker); ok {
			c.doneFn = func(err error) { m.asyncDone(c, err) }
		}
		m.checks[id] = c
		m.ov.join(&c.ov)
		m.start(c, jitter(m.rand, s.Interval))
	}
}

// template returns s without its Target, the same pointer for equal
// templates (by ID, kept in tmpls). A spec with a RunAs is not shared: a
// func has no equality.
func template(s Spec, tmpls map[ID]*Spec) *Spec {
	s.Target = netip.AddrPort{}
	if s.RunAs != nil {
		return &s
	}
	k := s.ID()
	if t, ok := tmpls[k]; ok {
		return t
	}
	tmpls[k] = &s
	return &s
}

// spec returns c's Spec (normalised).
func (c *check) spec() Spec {
	s := *c.tmpl
	s.Target = c.target
	return s
}

// SetGroups declares groups of checks (in tandem, each virtual server's)
// watched for a mass timeout (see overload.go): a group whose checks
// mostly time out at once has its timeouts held. IDs that are not
// running are ignored; a check may be in several groups. It replaces the
// groups of the call before; call it after each Set.
func (m *Manager) SetGroups(groups map[string][]ID) {
	m.mu.Lock()
	members := make(map[string][]*ovState, len(groups))
	for name, ids := range groups {
		ss := make([]*ovState, 0, len(ids))
		for _, id := range ids {
			if c, ok := m.checks[id]; ok {
				ss = append(ss, &c.ov)
			}
		}
		members[name] = ss
	}
	all := make([]*ovState, 0, len(m.checks))
	for _, c := range m.checks {
		all = append(all, &c.ov)
	}
	var news []episode
	if !m.closed { // under m.mu: no check starts or stops meanwhile
		news = m.ov.setGroups(members, all, time.Now())
	}
	m.mu.Unlock()
	m.logEpisodes(news)
}

// Overload returns the checker's overload and mass-timeout state (see
// overload.go).
func (m *Manager) Overload() OverloadStatus { return m.ov.status(time.Now()) }

// logEpisodes logs the start or end of overload and mass-timeout
// episodes, once each.
func (m *Manager) logEpisodes(news []episode) {
	for _, e := range news {
		args := []any{"what", e.what}
		if e.what == "mass timeout" {
			name := e.group
			if name == "" {
				name = "(all checks)"
			}
			args = append(args, "group", name, "timing_out", e.g.TimingOut, "probed", e.g.Probed, "checks", e.g.Checks)
		} else {
			args = append(args, "late_probes", e.late, "probes", e.n, "window", OverloadWindow)
		}
		if e.start {
			m.log.Warn("health checks held: probe timeouts no longer take real servers out (other failures still do)", args...)
		} else {
			m.log.Info("health checks no longer held: probe timeouts count again", args...)
		}
	}
}

// Status returns a snapshot of every check, sorted by ID.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	checks := make([]*check, 0, len(m.checks))
	for _, c := range m.checks {
		checks = append(checks, c)
	}
	m.mu.Unlock()
	out := make([]Status, 0, len(checks))
	for _, c := range checks {
		c.mu.Lock()
		st := Status{
			ID:          c.id,
			Spec:        c.spec(),
			State:       c.hyst.State(),
			LastResult:  c.lastErr,
			LastLatency: c.lastLatency,
			LastCheck:   c.lastCheck.time(),
			Transitions: int(c.transitions),
			Since:       c.since.time(),
			Successes:   c.hyst.Successes(),
			Failures:    c.hyst.Failures(),
			Probes:      c.probes,

			HeldTimeouts: int(c.held),
		}
		c.mu.Unlock()
		if st.LastResult != nil {
			st.LastErr = st.LastResult.Error()
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// ensurePoller returns the Manager's poller, started on first use; nil
// where there is none (not Linux, no epoll: the probes then run without,
// see asyncChecker), or after Close. Called with m.mu held.
func (m *Manager) ensurePoller() *connectPoller {
	if !m.pollerTried && !m.closed {
		m.pollerTried = true
		p, err := startPoller()
		if err != nil {
			m.log.Warn("health checks: no probe poller: tcp and http probes run in goroutines of their own", "err", err)
		}
		m.poller = p
	}
	return m.poller
}

// Close stops every check, waits for their goroutines (a probe in flight is
// cancelled), stops the Manager's poller (its goroutine ends, its file
// descriptors close) and closes the Verdicts channel; verdicts not yet in
// its buffer are dropped. Close may be called more than once. It must not
// be called from Options.OnProbe.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	for id, c := range m.checks {
		m.stop(c)
		delete(m.checks, id)
	}
	m.mu.Unlock()
	m.q.close()
	m.wg.Wait()
	if m.poller != nil {
		// Every check has stopped and no probe is in flight: nothing
		// arms the poller's timers or starts a probe on it any more.
		m.poller.close()
	}
	close(m.q.out)
}

// start arms c's first probe, offset from now (then on the grid). Each probe runs in the goroutine its timer
// fires in (an async probe only starts there and ends on the connect
// poller), and arms the next one when done, so a check never overlaps
// itself and no goroutine waits between probes.
func (m *Manager) start(c *check, offset time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	origin := m.onGrid(now.Add(offset), c.tmpl.Interval)
	c.origin = origin.Sub(m.epoch)
	c.due = 0
	if c.doneFn != nil {
		if ts := c.async().timers(m.ensurePoller()); ts != nil {
			c.pt = probeTimer{idx: -1, f: func() { m.fire(c) }}
			ts.arm(&c.pt, origin)
			return
		}
	}
	sc := &syncCheck{}
	sc.ctx, sc.cancel = context.WithCancel(context.Background())
	sc.timer = time.AfterFunc(origin.Sub(now), func() { m.fire(c) })
	c.sync = sc
}

// gridStep is the granularity of probe times: a check's series starts on a
// multiple of it from the Manager's epoch, so with intervals that are
// multiples of it (1 s, 2 s, 10 s…) the probes of many checks fall on
// shared instants, gridStep apart. Their timers then fire together, and
// their connects end together: one wake-up of the process per instant
// instead of one per probe, which at thousands of probes a second is much
// of their cost (see the package documentation). 50 ms keeps 20 instants
// a second: flat at 100 ms resolution, and nothing for detection.
const gridStep = 50 * time.Millisecond

// onGrid moves t back to the grid (see gridStep), for intervals of at
// least 10 steps; shorter ones keep their exact phase. The first probe
// stays within its first interval (it may come at once).
func (m *Manager) onGrid(t time.Time, interval time.Duration) time.Time {
	if interval < 10*gridStep {
		return t
	}
	return t.Add(-t.Sub(m.epoch) % gridStep)
}

// stop stops c: no probe starts after it returns, and the one in flight, if
// any, is cancelled (Close waits for it).
func (m *Manager) stop(c *check) {
	c.mu.Lock()
	c.stopped = true
	sc := c.sync
	if sc == nil {
		c.async().timers(m.poller).disarm(&c.pt)
	} else {
		sc.timer.Stop()
	}
	h := c.inflight
	c.mu.Unlock()
	if sc != nil {
		sc.cancel()
	}
	if h.pr != nil {
		h.abort()
	}
	if ic, ok := c.checker.(idleCloser); ok {
		ic.closeIdle()
	}
}

// fire runs one probe of c and arms the next at the following slot of c's
// series origin, origin+interval, ….
func (m *Manager) fire(c *check) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return
	}
	// Close marks every check stopped under c.mu before it waits, so this
	// Add happens before the Wait.
	m.wg.Add(1)
	if c.doneFn != nil {
		c.gen++
		gen := c.gen
		start := time.Now()
		c.probeStart, c.running = start.Sub(m.epoch), true
		c.startLate = probeLate(m.epoch.Add(c.origin+c.due), start, c.tmpl.Interval)
		c.mu.Unlock()
		// asyncDone ends the probe (and calls wg.Done), maybe before
		// start returns.
		h := c.async().start(m.poller, start.Add(c.tmpl.Timeout), c.doneFn)
		if h.pr == nil {
			return
		}
		c.mu.Lock()
		if c.running && c.gen == gen {
			c.inflight = h
		}
		stopped := c.stopped
		c.mu.Unlock()
		if stopped {
			h.abort() // stop ran before inflight was set
		}
		return
	}
	start := time.Now()
	c.startLate = probeLate(m.epoch.Add(c.origin+c.due), start, c.tmpl.Interval)
	c.mu.Unlock()
	defer m.wg.Done()

	ctx, cancel := context.WithTimeout(c.sync.ctx, c.tmpl.Timeout)
	err := c.checker.Check(ctx)
	now := time.Now()
	cancel()
	m.record(c, err, now.Sub(start), now)
}

// asyncDone ends c's async probe in flight with its result.
func (m *Manager) asyncDone(c *check, err error) {
	defer m.wg.Done()
	now := time.Now()
	c.mu.Lock()
	c.running, c.inflight = false, probeHandle{}
	m.recordLocked(c, err, now.Sub(m.epoch)-c.probeStart, now)
}

// record records the result of one probe of c, which ended at now, arms
// the next, and queues and logs a transition.
func (m *Manager) record(c *check, err error, latency time.Duration, now time.Time) {
	c.mu.Lock()
	m.recordLocked(c, err, latency, now)
}

// recordLocked is record with c.mu held, which it releases: under one
// hold of the lock it updates c's state, queues a transition (before the
// next probe can end) and arms c's next probe, unless c stopped; it logs
// the transition after.
func (m *Manager) recordLocked(c *check, err error, latency time.Duration, now time.Time) {
	if c.stopped { // stop sets it under c.mu before it cancels the probe
		c.mu.Unlock()
		return // stopped meanwhile: the result means nothing
	}
	at := now
	if m.now != nil { // Options.Now: stamp with it, not the probes' own clock
		at = m.now()
	}
	from := c.hyst.State()
	// Overload is not failure (overload.go): a timeout while the checker
	// is overloaded, or while most of a group's checks time out, does
	// not count.
	timedOut := isTimeout(err)
	late := c.startLate || (timedOut && probeLate(now.Add(-latency).Add(c.tmpl.Timeout), now, c.tmpl.Interval))
	hold, news := m.ov.observe(&c.ov, timedOut, late, now)
	to, changed := from, false
	switch {
	case timedOut && hold && from != Down:
		c.held++
	case timedOut:
		to, changed = c.hyst.ObserveTimeout()
	default:
		to, changed = c.hyst.Observe(err == nil)
	}
	c.lastErr, c.lastLatency, c.lastCheck = err, latency, wallOf(at)
	c.probes++
	queued := false
	if changed {
		c.transitions++
		c.since = wallOf(at)
		queued = m.q.push(Verdict{ID: c.id, Up: to == Up, Err: err, Latency: latency, At: at}, &c.sent)
	}
	origin := m.epoch.Add(c.origin)
	next := nextSlot(origin, c.tmpl.Interval, now)
	c.due = next.Sub(origin)
	if c.sync == nil {
		c.async().timers(m.poller).arm(&c.pt, next)
	} else {
		c.sync.timer.Reset(next.Sub(now))
	}
	c.mu.Unlock()
	if news != nil {
		m.logEpisodes(news)
	}
	if m.onProbe != nil {
		m.onProbe(c.tmpl.Kind, latency, err == nil)
	}
	if !queued {
		return
	}
	level := slog.LevelInfo
	if to == Down {
		level = slog.LevelWarn
	}
	m.log.Log(context.Background(), level, "health check state changed",
		"id", string(c.id), "check", c.checker.String(),
		"from", from.String(), "to", to.String(), "err", err, "latency", latency)
}

// jitter returns a random delay in [0, interval) for a check's first probe.
func jitter(r *rand.Rand, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(interval)))
}

// nextSlot returns the first probe time after now in the series origin,
// origin+interval, origin+2·interval, …: slots missed while a probe ran
// long are skipped, and timer lateness never accumulates into drift.
func nextSlot(origin time.Time, interval time.Duration, now time.Time) time.Time {
	if now.Before(origin) {
		return origin
	}
	k := now.Sub(origin)/interval + 1
	return origin.Add(k * interval)
}
