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

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

func cmdRun(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tandem/cluster.hcl", "cluster file")
	node := fs.String("node", "", "this director's node name (default: the node whose hostname matches)")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	resync := fs.Duration("resync", 30*time.Second, "re-read the kernel and repair drift this often")
	noIPVS := fs.Bool("no-ipvs", false, "VRRP only: leave IPVS alone (hosts without IPVS, tests)")
	realtime := fs.Int("realtime", 0, "run under SCHED_RR at this priority, 1..99 (keepalived's vrrp_rt_priority); 0 = off")
	lockMemory := fs.Bool("lock-memory", false, "lock the process's memory against swapping (keepalived's vrrp_no_swap)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "tandem:", err)
		return 2
	}
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
	d := &daemon{log: log, path: *path, nodeName: *node, resync: *resync, noIPVS: *noIPVS}
	if err := d.run(ctx, hup); err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		log.Error("tandem stopped", "err", err)
		return 1
	}
	// A signal during the start (the first apply cancelled) is an
	// ordinary stop too.
	log.Info("tandem stopped", "reason", "signal", "ipvs", "left in place")
	return 0
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
	path     string
	nodeName string
	resync   time.Duration
	noIPVS   bool     // --no-ipvs: d.rec stays nil and apply does nothing
	vrrp     *vrrpRun // the VRRP runner (vrrp.go); nil when none

	want   ipvs.Table // the running config's table
	rec    *ipvs.Reconciler
	health *health   // the checks' state (health.go)
	sync   *connSync // sync daemons and timeouts (sync.go)

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

func (d *daemon) run(ctx context.Context, hup <-chan os.Signal) error {
	c, node, err := d.load()
	if err != nil {
		return err
	}
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
	d.events = make(chan func(), 64)
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

// load reads, validates and resolves the cluster file for this node.
func (d *daemon) load() (*conf.Cluster, *conf.Node, error) {
	c, files, diags := conf.Load(d.path)
	if diags.HasErrors() {
		var b strings.Builder
		files.WriteDiagnostics(&b, diags)
		return nil, nil, fmt.Errorf("%s is not valid:\n%s", d.path, b.String())
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
		return nil, nil, err
	}
	return c, node, nil
}

// reload switches to a new version of the file; a bad file keeps the
// running config.
func (d *daemon) reload(ctx context.Context) {
	c, node, err := d.load()
	if err != nil {
		d.log.Error("reload rejected, keeping the running config", "err", err)
		return
	}
	if err := d.adopt(ctx, c, node); err != nil {
		d.log.Error("reload failed", "err", err)
		return
	}
	d.reloadVRRP(ctx, c, node)
	d.reloadHealth(ctx, c)
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
	changed, err := ipvs.ApplyDirector(directorSettings(c, node), "")
	if err != nil {
		return err
	}
	for _, ch := range changed {
		d.log.Info("director setting", "changed", ch)
	}
	d.adoptSync(c)
	d.warnPreferredVIPs(c)
	return d.apply(ctx, want, true, retire...)
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
