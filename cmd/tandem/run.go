package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("c", "/etc/tandem/cluster.hcl", "cluster file")
	node := fs.String("node", "", "this director's node name (default: the node whose hostname matches)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	resync := fs.Duration("resync", 30*time.Second, "re-read the kernel and repair drift this often (100ms..24h)")
	noIPVS := fs.Bool("no-ipvs", false, "VRRP only: leave IPVS and the director settings alone (hosts without IPVS, tests)")
	realtime := fs.Int("realtime", 0, "run under SCHED_RR at this priority, 1..99 (keepalived's vrrp_rt_priority); 0 = off")
	lockMemory := fs.Bool("lock-memory", false, "lock the process's memory against swapping (keepalived's vrrp_no_swap)")
	if code := parseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	// Every flag is checked before anything is done.
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err == nil {
		err = checkRunFlags(*resync, *realtime)
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem run:", err)
		return 2
	}
	d := &daemon{log: log, stderr: stderr, text: *logFormat == "text", path: *path,
		nodeName: *node, resync: *resync, noIPVS: *noIPVS}
	c, n, err := d.load()
	if err != nil {
		d.logLoadError("tandem not started", err)
		return 1
	}
	// Nothing is written before the node is known to be able to run.
	if err := preflight(c, n, *noIPVS); err != nil {
		log.Error("tandem not started", "err", err)
		return 1
	}
	// One tandem per node: a second would fight the first over the VIPs
	// and, on its exit, remove them from under it.
	unlock, err := lockNode(runDir)
	if err != nil {
		log.Error("tandem not started", "err", err)
		return 1
	}
	defer unlock()
	if *realtime != 0 {
		if err := vrrp.SetRealtime(*realtime); err != nil {
			log.Error("tandem not started", "err", err)
			return 1
		}
		log.Info("real-time scheduling", "policy", "SCHED_RR", "priority", *realtime)
	}
	if *lockMemory {
		if err := vrrp.LockMemory(); err != nil {
			log.Error("tandem not started", "err", err)
			return 1
		}
		log.Info("memory locked")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	if f := os.Getenv("TANDEM_CPUPROFILE"); f != "" {
		// A developer's aid: a CPU profile of the whole run, written
		// when tandem stops (go tool pprof FILE).
		stopProfile, err := startCPUProfile(f)
		if err != nil {
			log.Error("tandem not started", "err", err)
			return 1
		}
		defer stopProfile()
	}
	if f := os.Getenv("TANDEM_MEMPROFILE"); f != "" {
		// Its heap counterpart: a heap profile and memory statistics,
		// once, a while into the run.
		stopProfile, err := startMemProfile(f, log)
		if err != nil {
			log.Error("tandem not started", "err", err)
			return 1
		}
		defer stopProfile()
	}
	if err := d.run(ctx, hup, c, n); err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		log.Error("tandem stopped", "err", err)
		return 1
	}
	// A signal during the start (the first apply cancelled) is an
	// ordinary stop too.
	log.Info("tandem stopped", "reason", "signal", "left_in_place", d.leftInPlace())
	return 0
}

// checkRunFlags checks the values of run's flags that their types do not.
func checkRunFlags(resync time.Duration, realtime int) error {
	if resync < 100*time.Millisecond || resync > 24*time.Hour {
		return fmt.Errorf("bad --resync %v: it must be between 100ms and 24h", resync)
	}
	if realtime < 0 || realtime > 99 {
		return fmt.Errorf("bad --realtime %d: it must be 1..99, or 0 for off", realtime)
	}
	return nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("bad --log-format %q (text or json)", format)
}

// daemon is one director's main loop: the only place that decides. It
// loads the cluster file, programs IPVS and the director settings, and
// then waits for signals and timers.
//
// The VRRP instances (vrrp.go) and the health checkers (health.go) run in
// goroutines of their own and hand their transitions and verdicts to this
// loop through post; only the loop changes the daemon's state.
type daemon struct {
	log      *slog.Logger
	stderr   io.Writer // where a bad file's diagnostics go (text logs)
	text     bool      // the log format is text
	path     string
	nodeName string
	resync   time.Duration
	noIPVS   bool     // --no-ipvs: d.rec stays nil and apply does nothing
	vrrp     *vrrpRun // the VRRP runner (vrrp.go); nil when none

	want     ipvs.Table            // the running config's table
	settings ipvs.DirectorSettings // the running config's director settings
	written  []ipvs.SysctlChange   // sysctls changed by this process
	rec      *ipvs.Reconciler
	health   *health   // the checks' state (health.go)
	sync     *connSync // sync daemons and timeouts (sync.go)

	// events carries work posted by other goroutines to run on the loop.
	events chan func()
}

// post runs fn on the main loop (or drops it once ctx is done).
func (d *daemon) post(ctx context.Context, fn func()) {
	select {
	case d.events <- fn:
	case <-ctx.Done():
	}
}

// drainEvents runs the work already posted to the loop, from the loop:
// a step that waited for other goroutines (a VRRP stop) has its effects
// handled, and logged, before the step's own conclusion.
func (d *daemon) drainEvents() {
	for {
		select {
		case fn := <-d.events:
			fn()
		default:
			return
		}
	}
}

// run starts the director on c for node and runs its loop until ctx is
// done. A start that fails undoes the sysctls it wrote.
func (d *daemon) run(ctx context.Context, hup <-chan os.Signal, c *conf.Cluster, node *conf.Node) (err error) {
	if !d.noIPVS {
		if d.rec, err = ipvs.Open(""); err != nil {
			return err
		}
		defer d.rec.Close() // never flushes: the table stays for the next start
		if d.syncState().ctl, err = ipvs.OpenControl(""); err != nil {
			return err
		}
		defer d.closeSync() // after stopVRRP: stops the sync master, keeps the backup
	}
	d.log.Info("tandem starting", "version", versionString(), "node", node.Name, "file", d.path,
		"virtual_servers", len(c.VirtualServers))
	if d.noIPVS {
		d.log.Info("ipvs and director settings not managed (--no-ipvs)")
	}
	d.events = make(chan func(), 64)
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
	if err := d.adopt(ctx, c, node); err != nil {
		return err
	}
	if err := d.startVRRP(ctx, c, node); err != nil {
		return err
	}
	defer d.stopVRRP()
	if err := d.startHealth(ctx, c); err != nil {
		return err
	}
	defer d.stopHealth()
	started = true
	tick := time.NewTicker(d.resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case fn := <-d.events:
			fn()
		case <-hup:
			d.reload(ctx)
		case <-tick.C:
			if err := d.apply(ctx, nil, false); err != nil {
				d.log.Error("resync failed", "err", err)
			}
			d.resyncSync()
		}
	}
}

// loadError is a cluster file that does not load: its diagnostics, or
// why the node cannot be resolved.
type loadError struct {
	path  string
	files conf.Files
	diags hcl.Diagnostics // nil when err is set
	err   error
}

func (e *loadError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	n := len(e.diags.Errs())
	first := ""
	for _, dg := range e.diags {
		if dg.Severity == hcl.DiagError {
			first = conf.FormatDiagnostic(dg)
			break
		}
	}
	return fmt.Sprintf("%s is not valid (%d error(s)); the first: %s", e.path, n, first)
}

// load reads, validates and resolves the cluster file for this node.
func (d *daemon) load() (*conf.Cluster, *conf.Node, error) {
	c, files, diags := conf.Load(d.path)
	if diags.HasErrors() {
		return nil, nil, &loadError{path: d.path, files: files, diags: diags}
	}
	var node *conf.Node
	var err error
	if d.nodeName != "" {
		node, err = c.Node(d.nodeName)
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			return nil, nil, herr
		}
		node, err = c.NodeForHost(host)
	}
	if err != nil {
		return nil, nil, &loadError{path: d.path, err: fmt.Errorf("%s: %w", d.path, err)}
	}
	return c, node, nil
}

// logLoadError reports a file that does not load. With text logs the
// diagnostics are printed as `tandem check` prints them, snippets and
// all, before the log line; with JSON logs each is a record of its own.
func (d *daemon) logLoadError(msg string, err error) {
	var le *loadError
	if errors.As(err, &le) && le.diags != nil {
		if d.text {
			le.files.WriteDiagnostics(d.stderr, le.diags)
		} else {
			for i, dg := range le.diags {
				if i == conf.MaxDiagnostics {
					d.log.Error("cluster file", "diagnostic", fmt.Sprintf("... and %d more", len(le.diags)-i))
					break
				}
				d.log.Error("cluster file", "diagnostic", conf.FormatDiagnostic(dg))
			}
		}
	}
	d.log.Error(msg, "err", err)
}

// reload switches to a new version of the file; a bad file keeps the
// running config.
func (d *daemon) reload(ctx context.Context) {
	c, node, err := d.load()
	if err != nil {
		d.logLoadError("reload rejected, keeping the running config", err)
		return
	}
	if err := localInterfaces(c, node); err != nil {
		d.log.Error("reload rejected, keeping the running config", "err", err)
		return
	}
	if err := d.adopt(ctx, c, node); err != nil {
		d.log.Error("reload failed", "err", err)
		return
	}
	d.reloadVRRP(ctx, c, node)
	d.reloadHealth(ctx, c)
	d.trackQuorum() // new track_virtual_servers weights apply now, not at the next verdict
	d.log.Info("reloaded", "file", d.path)
}

// adopt makes c the running config: director settings, then the IPVS
// table, retiring services the previous config owned and this one drops.
func (d *daemon) adopt(ctx context.Context, c *conf.Cluster, node *conf.Node) error {
	want := d.desired(c)
	var retire []ipvs.ServiceKey
	for k := range d.want {
		if _, ok := want[k]; !ok {
			retire = append(retire, k)
		}
	}
	if !d.noIPVS {
		if err := d.applyDirector(c, node); err != nil {
			return err
		}
	}
	d.adoptSync(c)
	d.warnPreferredVIPs(c)
	return d.apply(ctx, want, true, retire...)
}

// applyDirector applies the director settings of c (sysctls,
// masquerading) and keeps what it changed in d.written.
func (d *daemon) applyDirector(c *conf.Cluster, node *conf.Node) error {
	s := directorSettings(c, node)
	d.settings = s
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
	for _, w := range written {
		d.log.Info("director setting", "changed", w.String())
	}
	d.written = append(d.written, written...)
	return nil
}

// leftInPlace says, for the log on exit, what tandem leaves behind on
// purpose: the IPVS table (connections survive a restart) and the
// director settings. The VIPs are released by the VRRP stop.
func (d *daemon) leftInPlace() string {
	if d.noIPVS {
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
	if len(s.Masquerade) > 0 {
		parts = append(parts, "nftables table "+ipvs.NFTTable+" (masquerade)")
	}
	if d.syncState().cfg != nil {
		parts = append(parts, "ipvs sync backup daemon")
	}
	return strings.Join(parts, "; ")
}

// apply reconciles the kernel to want (nil: the current desired table).
func (d *daemon) apply(ctx context.Context, want ipvs.Table, always bool, retire ...ipvs.ServiceKey) error {
	if want == nil {
		want = d.want
	}
	if d.rec == nil { // --no-ipvs
		d.want = want
		return nil
	}
	res, err := d.rec.Reconcile(ctx, want, retire)
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
