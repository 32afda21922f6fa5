// Package director is tandem's director runtime: the one main loop that
// owns the running cluster file and everything derived from it (the
// desired IPVS table, the health view, the VRRP runner, the sync roles,
// the director settings) and keeps the kernel in line with it.
//
// Other goroutines (the VRRP runner, the health checkers, the control
// socket, the signal handler) never touch the loop's state: they post
// work to it (post, call), and read the Snapshot it publishes after each
// change. A reload is a Plan (the same one `tandem plan` prints) applied
// by the loop, touching only what changed.
package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// Config is what the binary hands the director.
type Config struct {
	Log *slog.Logger
	// Level, when set, is the logger's level: the file's log_level sets it
	// on start and on reload, unless LevelFixed (the --log-level flag).
	Level      *slog.LevelVar
	LevelFixed bool
	// Path is the cluster file, read again on reload.
	Path string
	// Load reads, validates and resolves a cluster file for this node,
	// checking what the node needs of this host (its interfaces). Its
	// errors are shown as they are (a *LoadError carries diagnostics).
	Load func(path string) (*conf.Cluster, *conf.Node, error)
	// ReportLoadError logs a file that does not load (nil: one line).
	ReportLoadError func(msg string, err error)
	// Resync is how often the kernel is read back and drift repaired.
	Resync time.Duration
	// NoIPVS runs VRRP only: IPVS and the director settings are left
	// alone.
	NoIPVS bool
	// Version is logged at start.
	Version string
	// StatePath is the maintenance overrides' file ("": not kept across
	// restarts).
	StatePath string
	// OnConfig, when set, is called on the loop each time a config
	// becomes the running one (start, reload): the binary moves its
	// metrics listener with it.
	OnConfig func(c *conf.Cluster, n *conf.Node)
	// OnProbe, when set, is given every health probe (the metrics'
	// latency histogram); see healthcheck.Options.OnProbe.
	OnProbe func(kind string, latency time.Duration, ok bool)
	// Notify, when set, is given systemd's notify states (notify.go):
	// the binary hands them to sd_notify.
	Notify func(state string)
	// Watchdog is systemd's watchdog period (WATCHDOG_USEC; 0: none):
	// the loop sends WATCHDOG=1 every half of it.
	Watchdog time.Duration
	// TestFreeze, a test hook, freezes "loop" (the main loop) or "vrrp"
	// (the VRRP runner) two seconds after the start.
	TestFreeze string
}

// Director is one director's runtime. Make it with New, start it with
// Run; Reload, Plan and Snapshot may be called from any goroutine.
type Director struct {
	cfg Config
	log *slog.Logger

	// The running config; set first by adopt, everything below follows
	// from it.
	c    *conf.Cluster
	node *conf.Node

	want     ipvs.Table            // the desired table, health-aware
	settings ipvs.DirectorSettings // the running config's director settings
	written  []ipvs.SysctlChange   // sysctls changed by this process
	rec      *ipvs.Reconciler      // nil with NoIPVS
	health   *health               // the checks' state (health.go)
	sync     *connSync             // sync daemons and timeouts (sync.go)
	vrrp     *vrrpRun              // the VRRP runner (vrrp.go); nil when none
	bgp      *bgpRun               // the BGP speaker (bgp.go); nil when none
	// placement is the running config's placement hash (placement.go),
	// peerPlacement the other directors' as last read.
	placement     string
	peerPlacement []PeerPlacement
	watching      bool            // watchPlacement runs
	runCtx        context.Context // Run's

	// scripts is who runs the scripts (scripts.go).
	scripts atomic.Pointer[scriptUser]

	// events carries work posted by other goroutines to run on the loop.
	events chan func()
	// running is closed when the loop runs; stopped when it has ended.
	running, stopped chan struct{}

	instances map[string]InstanceState // the VRRP instances' last transitions
	gen       uint64                   // the snapshot generation
	published time.Time                // when publish last ran
	snap      atomic.Pointer[Snapshot]
	order     []ipvs.ServiceKey // the services in key order, for publish
	loadedAt  time.Time
	reloads   ReloadCounts // the reloads so far
	started   time.Time
	overrides overrides       // maintenance (maintenance.go)
	reconcile ReconcileCounts // the IPVS writes so far

	// systemd (notify.go)
	ready   bool
	status  string       // the last STATUS= sent
	pinged  *vrrp.Runner // the runner pinged at pingAt
	pingAt  time.Time
	stalled bool
}

// New returns a director for cfg.
func New(cfg Config) *Director {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 30 * time.Second
	}
	return &Director{
		cfg:       cfg,
		log:       cfg.Log,
		health:    newHealth(),
		instances: map[string]InstanceState{},
		overrides: overrides{},
		started:   time.Now(),
		sync:      newConnSync(),
		events:    make(chan func(), 64),
		running:   make(chan struct{}),
		stopped:   make(chan struct{}),
	}
}

// post runs fn on the main loop (or drops it once ctx is done).
func (d *Director) post(ctx context.Context, fn func()) {
	select {
	case d.events <- fn:
	case <-ctx.Done():
	case <-d.stopped:
	}
}

// ErrNotRunning is returned by calls made when the loop is not running.
var ErrNotRunning = errors.New("the director is not running")

// call runs fn on the main loop and waits for it to finish; the snapshot
// shows fn's effect by then (the loop's own publishing waits for a burst
// of work to end).
func (d *Director) call(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	select {
	case <-d.running:
	case <-d.stopped:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case d.events <- func() { defer close(done); fn(); d.publish() }:
	case <-d.stopped:
		return ErrNotRunning
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-d.stopped:
		return ErrNotRunning
	}
}

// drainEvents runs the work already posted to the loop, from the loop:
// a step that waited for other goroutines (a VRRP stop) has its effects
// handled, and logged, before the step's own conclusion.
func (d *Director) drainEvents() {
	for {
		select {
		case fn := <-d.events:
			fn()
		default:
			return
		}
	}
}

// Run starts the director on c for node and runs its loop until ctx is
// done. A start that fails undoes the sysctls it wrote. On return the
// IPVS table and the director settings stay in place (connections
// survive a restart) and the VIPs are handed over.
func (d *Director) Run(ctx context.Context, c *conf.Cluster, node *conf.Node) (err error) {
	defer close(d.stopped)
	d.runCtx = ctx
	if !d.cfg.NoIPVS {
		if d.rec, err = ipvs.Open(""); err != nil {
			return err
		}
		defer d.rec.Close() // never flushes: the table stays for the next start
		if d.sync.ctl, err = ipvs.OpenControl(""); err != nil {
			return err
		}
		defer d.closeSync() // after stopVRRP: stops the sync master, keeps the backup
	}
	d.log.Info("tandem starting", "version", d.cfg.Version, "node", node.Name, "file", d.cfg.Path,
		"virtual_servers", len(c.VirtualServers))
	if d.cfg.NoIPVS {
		d.log.Info("ipvs and director settings not managed (--no-ipvs)")
	}
	started := false
	defer func() {
		if !started && len(d.written) > 0 {
			if uerr := ipvs.UndoSysctls(d.written); uerr != nil {
				d.log.Error("start failed; sysctls not all restored", "err", uerr)
			} else {
				d.log.Info("start failed; sysctls restored", "restored", len(d.written))
			}
		}
	}()
	if err := d.start(ctx, c, node); err != nil {
		return err
	}
	defer d.stopVRRP()
	defer d.stopHealth()
	started = true
	close(d.running)
	d.publish()
	d.ready = true
	d.status = summary(d.Snapshot())
	d.notify("READY=1\nSTATUS=" + d.status)
	wd, stopWD := d.watchdogTick()
	defer stopWD()
	if wd != nil {
		d.watchdog(time.Now())
	}
	if what := d.cfg.TestFreeze; what != "" {
		time.AfterFunc(2*time.Second, func() { d.post(ctx, func() { d.freeze(ctx, what) }) })
	}
	tick := time.NewTicker(d.cfg.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.notify("STOPPING=1")
			d.stopBGP(d.c.BGP != nil && d.c.BGP.GracefulRestart)
			return nil
		case <-d.bgpDrained():
			d.notify("STOPPING=1")
			d.stopBGP(false)
			d.log.Info("drain-node done: stopping")
			return nil
		case now := <-wd:
			d.watchdog(now)
		case fn := <-d.events:
			fn()
		case <-tick.C:
			if err := d.apply(ctx, nil, false); err != nil {
				d.log.Error("resync failed", "err", err)
			}
			d.resyncSync()
			d.trackQuorum()
			d.resyncBGP()
		}
		d.updateBGP()
		// One snapshot per burst of work: while more is queued, the
		// next turn publishes, unless the last snapshot is already
		// maxSnapshotAge old. (At 50 000 checks that time out under
		// load, a snapshot per batch of verdicts was a tenth of the
		// CPU and most of the garbage.)
		if len(d.events) == 0 || time.Since(d.published) >= maxSnapshotAge {
			d.publish()
		}
	}
}

// maxSnapshotAge bounds how stale the snapshot (status, metrics, the
// status page) gets while the loop is never idle.
const maxSnapshotAge = 100 * time.Millisecond

// start adopts c: the config first, then the kernel's table read once
// (the checks' starting point), the director settings, the table, then
// VRRP and the checks.
func (d *Director) start(ctx context.Context, c *conf.Cluster, node *conf.Node) error {
	if err := checkBGP(c, node); err != nil {
		return err // before anything is applied
	}
	d.setConfig(c, node)
	d.loadOverrides()
	d.pruneOverrides(c)
	var initial ipvs.Table
	if hasChecks(c) && d.rec != nil {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t, err := d.rec.Dump(dctx)
		cancel()
		if err != nil {
			// Safe side: checked real servers enter on their first success.
			d.log.Warn("cannot read the kernel table at start; checked real servers will enter on their first success", "err", err)
		}
		initial = t
	}
	want := d.desiredFrom(c, initial)
	if !d.cfg.NoIPVS {
		if err := d.applyDirector(c, node); err != nil {
			return err
		}
	}
	d.adoptSync(c)
	d.warnPreferredVIPs(c)
	if err := d.apply(ctx, want, true); err != nil {
		return err
	}
	if err := d.startVRRP(ctx, c, node); err != nil {
		return err
	}
	if err := d.startHealth(ctx, c); err != nil {
		return err
	}
	return d.startBGP(ctx, c, node)
}

// setConfig makes c the running config and applies its log level.
func (d *Director) setConfig(c *conf.Cluster, node *conf.Node) {
	d.c, d.node = c, node
	d.loadedAt = time.Now()
	d.placement = placementHash(c)
	d.setScripts(c)
	if d.cfg.OnConfig != nil {
		d.cfg.OnConfig(c, node)
	}
	if d.cfg.Level != nil && !d.cfg.LevelFixed {
		lv := slog.LevelInfo
		if c.Director.LogLevel != "" {
			lv.UnmarshalText([]byte(c.Director.LogLevel)) // conf checked it
		}
		if d.cfg.Level.Level() != lv {
			d.log.Info("log level", "level", lv.String())
			d.cfg.Level.Set(lv)
		}
	}
}

// applyDirector applies the director settings of c (sysctls,
// masquerading) and keeps what it changed in d.written.
func (d *Director) applyDirector(c *conf.Cluster, node *conf.Node) error {
	s := directorSettings(c, node)
	// nftables is touched only when the file masquerades, or to remove
	// a table of tandem's an earlier file made (ApplyMasquerade does not
	// fail on a kernel without nftables when it is asked for nothing).
	changed, err := ipvs.ApplyMasquerade(s.Masquerade)
	if err != nil {
		return err
	}
	for _, ch := range changed {
		d.log.Info("director setting", "changed", ch)
	}
	written, err := ipvs.ApplySysctls(s, "")
	if err != nil {
		return err
	}
	d.settings = s
	for _, w := range written {
		d.log.Info("director setting", "changed", w.String())
	}
	d.written = append(d.written, written...)
	return nil
}

// LeftInPlace says, for the log on exit, what tandem leaves behind on
// purpose: the IPVS table (connections survive a restart) and the
// director settings. The VIPs are released by the VRRP stop.
func (d *Director) LeftInPlace() string {
	if d.cfg.NoIPVS {
		return "nothing (--no-ipvs: ipvs and director settings were not managed)"
	}
	parts := []string{fmt.Sprintf("ipvs table (%d services)", len(d.want))}
	s := d.settings
	if s.IPForward {
		parts = append(parts, "net.ipv4.ip_forward=1")
	}
	if s.SendRedirectsOff {
		parts = append(parts, "send_redirects=0 on "+strings.Join(append([]string{"all", "default"}, s.Interfaces...), ","))
	}
	if s.ExpireNodestConn {
		parts = append(parts, "net.ipv4.vs.expire_nodest_conn=1")
	}
	if s.SloppyTCP {
		parts = append(parts, "net.ipv4.vs.sloppy_tcp=1")
	}
	if len(s.Masquerade) > 0 {
		parts = append(parts, "nftables table "+ipvs.NFTTable+" (masquerade)")
	}
	if d.sync.cfg != nil {
		if d.sync.cfg.VRRP == "" {
			parts = append(parts, "ipvs sync master and backup daemons")
		} else {
			parts = append(parts, "ipvs sync backup daemon")
		}
	}
	if b := d.bgp; b != nil && len(b.held) > 0 {
		parts = append(parts, fmt.Sprintf("bgp addresses on %s (%d)", b.iface, len(b.held)))
	}
	return strings.Join(parts, "; ")
}

// apply reconciles the kernel to want (nil: the current desired table)
// with a full read of the kernel's table.
func (d *Director) apply(ctx context.Context, want ipvs.Table, always bool, retire ...ipvs.ServiceKey) error {
	if want == nil {
		want = d.want
	}
	if d.rec == nil { // --no-ipvs
		d.want = want
		return nil
	}
	res, err := d.rec.Reconcile(ctx, want, retire)
	d.noteReconcile(res, err)
	for _, op := range res.Ops {
		d.log.Debug("ipvs write", "op", op.String())
	}
	if err != nil {
		return err
	}
	d.want = want
	if always || res.Writes > 0 {
		d.log.Info("ipvs reconciled", "services", len(want), "writes", res.Writes,
			"foreign", len(res.Foreign), "took", res.Took.Round(time.Microsecond))
	}
	if always && len(res.Foreign) > 0 {
		keys := make([]string, len(res.Foreign))
		for i, k := range res.Foreign {
			keys[i] = k.String()
		}
		d.log.Info("foreign ipvs services left alone (not owned by this cluster file)",
			"services", strings.Join(keys, ", "))
	}
	return nil
}

// ReconcileCounts count the IPVS writes made since start (full
// reconciles and updates alike).
type ReconcileCounts struct {
	Runs, Writes, Errors uint64
	Last                 time.Time
	LastTook             time.Duration
}

// noteReconcile counts a reconcile or update.
func (d *Director) noteReconcile(res ipvs.Result, err error) {
	r := &d.reconcile
	r.Runs++
	r.Writes += uint64(res.Writes)
	if err != nil {
		r.Errors++
	}
	r.Last, r.LastTook = time.Now(), res.Took
}
