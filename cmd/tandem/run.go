package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/control"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/metrics"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/vrrp"
)

// cmdRun is tandem run (runCommand has its flags).
func cmdRun(f *runFlags, stdout, stderr io.Writer) int {
	tuneStartupMemory() // memlimit.go
	path, node, logFormat, logLevel, socket := f.path, f.node, f.logFormat, f.logLevel, f.socket
	resync, noIPVS, realtime, lockMemory := f.resync, f.noIPVS, f.realtime, f.lockMemory
	// Every flag is checked before anything is done.
	level := new(slog.LevelVar)
	log, err := newLogger(stderr, *logFormat, *logLevel, level)
	if err == nil {
		err = checkRunFlags(*resync, *realtime)
	}
	if err == nil {
		if _, gerr := control.ResolveGroup(*f.socketGroup); gerr != nil {
			err = fmt.Errorf("bad --socket-group: %w", gerr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "tandem run:", err)
		return 2
	}
	ld := &loader{log: log, stderr: stderr, text: *logFormat == "text", nodeName: *node}
	c, n, err := ld.load(*path)
	if err != nil {
		ld.report("tandem not started", err)
		return 1
	}
	// Nothing is written before the node is known to be able to run.
	if err := preflight(c, *noIPVS); err != nil {
		log.Error("tandem not started", "err", err)
		return 1
	}
	// One tandem per node: a second would fight the first over the VIPs
	// and, on its exit, remove them from under it.
	// The lock sits beside the control socket: /run/tandem by default
	// (systemd's RuntimeDirectory=), or where --socket points, for a
	// tandem run as an unprivileged user.
	unlock, err := lockNode(filepath.Dir(*socket))
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
	// The director and its metrics refer to each other: the metrics read
	// the director's status, the director feeds the probe histogram and
	// moves the listener with its config.
	// The listener starts first (a taken port fails the start before
	// anything is applied), so a scrape may come before the director
	// exists: it is answered with an error until then.
	var dp atomic.Pointer[director.Director]
	getStatus := func(ctx context.Context) (*status.Status, error) {
		d := dp.Load()
		if d == nil {
			return nil, errors.New("tandem is starting")
		}
		return d.Status(ctx)
	}
	m := metrics.New(getStatus, versionString())
	sl := newStatusListener(log, m, getStatus, func() (director.Placement, bool) {
		if d := dp.Load(); d != nil {
			return d.Placement()
		}
		return director.Placement{}, false
	})
	defer sl.Close()
	if err := sl.start(c, n); err != nil {
		log.Error("tandem not started", "err", err)
		return 1
	}
	// No other host holds a VIP (unless as a VRRP master of it).
	if err := director.ProbeVIPs(ctx, c, log); err != nil {
		log.Error("tandem not started", "err", err)
		return 1
	}
	d := director.New(director.Config{
		Log: log, Level: level, LevelFixed: *logLevel != "",
		Path: *path, Load: ld.load, ReportLoadError: ld.report,
		Resync: *resync, NoIPVS: *noIPVS, Version: versionString(),
		StatePath: strings.TrimSuffix(*socket, ".sock") + ".overrides.json",
		OnConfig:  sl.configure,
		OnProbe: func(kind string, lat time.Duration, ok bool) {
			m.ObserveProbe(kind, lat, ok)
		},
		// systemd: sd_notify states, and the watchdog when the unit has
		// WatchdogSec (no-ops without NOTIFY_SOCKET / WATCHDOG_USEC).
		Notify:     func(state string) { daemon.SdNotify(false, state) },
		Watchdog:   watchdogPeriod(),
		TestFreeze: os.Getenv("TANDEM_TEST_FREEZE"),
	})
	dp.Store(d)
	srv, err := control.Serve(*socket, d, control.Access{Group: *f.socketGroup}, log)
	if err != nil {
		log.Error("tandem not started", "err", err)
		return 1
	}
	defer srv.Close()
	// SIGHUP is `tandem reload` without the answer: the log says it.
	// SIGUSR1 and SIGUSR2 write what `tandem status` and `tandem status
	// --stats` print to a file beside the socket, as keepalived writes
	// /tmp/keepalived.data and .stats (Go's default would end the
	// process: an operator's habit must not stop a director).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	base := strings.TrimSuffix(*socket, ".sock")
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				switch s {
				case syscall.SIGHUP:
					d.Reload(ctx)
				case syscall.SIGUSR1:
					dumpStatus(ctx, log, d, base+".data", status.Conns)
				case syscall.SIGUSR2:
					dumpStatus(ctx, log, d, base+".stats", status.Totals)
				}
			}
		}
	}()
	if err := d.Run(ctx, c, n); err != nil && !(ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		log.Error("tandem stopped", "err", err)
		return 1
	}
	// A signal during the start (the first apply cancelled) is an
	// ordinary stop too.
	reason := "signal"
	if ctx.Err() == nil {
		reason = "drain-node"
	}
	log.Info("tandem stopped", "reason", reason, "left_in_place", d.LeftInPlace())
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

// newLogger returns the logger of format at level (""; the file's, else
// info), through lv so that a reload can change it.
func newLogger(w io.Writer, format, level string, lv *slog.LevelVar) (*slog.Logger, error) {
	if level != "" {
		var l slog.Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("bad --log-level %q", level)
		}
		lv.Set(l)
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

// loader reads the cluster file for this node, at start and for each
// reload and plan.
type loader struct {
	log      *slog.Logger
	stderr   io.Writer // where a bad file's diagnostics go (text logs)
	text     bool      // the log format is text
	nodeName string
}

// load reads, validates and resolves the cluster file at path for this
// node, and checks that this host has the interfaces the node uses and
// the scripts the file names, safe to run.
func (l *loader) load(path string) (*conf.Cluster, *conf.Node, error) {
	c, files, diags := conf.Load(path)
	if diags.HasErrors() {
		return nil, nil, &director.LoadError{Path: path, Files: files, Diags: diags}
	}
	var node *conf.Node
	var err error
	if l.nodeName != "" {
		node, err = c.Node(l.nodeName)
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			return nil, nil, herr
		}
		node, err = c.NodeForHost(host)
	}
	if err != nil {
		return nil, nil, &director.LoadError{Path: path, Err: fmt.Errorf("%s: %w", path, err)}
	}
	if err := localInterfaces(c, node); err != nil {
		return nil, nil, &director.LoadError{Path: path, Err: err}
	}
	// The scripts' user exists, and no one else can replace a program
	// the file runs (a reload that fails this keeps the running config).
	if err := director.CheckScripts(c); err != nil {
		return nil, nil, &director.LoadError{Path: path, Err: err}
	}
	return c, node, nil
}

// report logs a file that does not load. With text logs the
// diagnostics are printed as `tandem check` prints them, snippets and
// all, before the log line; with JSON logs each is a record of its own.
func (l *loader) report(msg string, err error) {
	var le *director.LoadError
	if errors.As(err, &le) && le.Diags != nil {
		if l.text {
			le.Files.WriteDiagnostics(l.stderr, le.Diags)
		} else {
			for i, dg := range le.Diags {
				if i == conf.MaxDiagnostics {
					l.log.Error("cluster file", "diagnostic", fmt.Sprintf("... and %d more", len(le.Diags)-i))
					break
				}
				l.log.Error("cluster file", "diagnostic", conf.FormatDiagnostic(dg))
			}
		}
	}
	l.log.Error(msg, "err", err)
}

// dumpStatus writes the status text to path (mode 0600), for SIGUSR1
// and SIGUSR2.
func dumpStatus(ctx context.Context, log *slog.Logger, d *director.Director, path string, cols status.Columns) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := d.Status(ctx)
	if err == nil {
		var b strings.Builder
		status.Write(&b, st, cols, time.Now())
		tmp := path + ".tmp"
		if err = os.WriteFile(tmp, []byte(b.String()), 0o600); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		log.Error("status not written", "file", path, "err", err)
		return
	}
	log.Info("status written", "file", path)
}

// watchdogPeriod is systemd's WatchdogSec for this process, 0 when none.
func watchdogPeriod() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}
