package director

import (
	"context"
	"fmt"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/tandem-lb/tandem/conf"
)

// A Timing splits a reload's time: reading and validating the file,
// computing the plan, applying it.
type Timing struct {
	Load  time.Duration `json:"load"`
	Plan  time.Duration `json:"plan"`
	Apply time.Duration `json:"apply"`
}

// ReloadResult is what Reload did.
type ReloadResult struct {
	Plan   *Plan  `json:"plan"`
	Timing Timing `json:"timing"`
}

// Reload reads the file again and applies what changed (the plan
// `tandem plan` shows). A file that does not load is rejected, the
// running config kept: the error is then a *LoadError or the reason the
// node cannot run it.
func (d *Director) Reload(ctx context.Context) (*ReloadResult, error) {
	var (
		res *ReloadResult
		err error
	)
	if cerr := d.call(ctx, func() {
		d.notify("RELOADING=1\nMONOTONIC_USEC=" + monotonicUsec())
		res, err = d.reload(ctx)
		d.notify("READY=1")
	}); cerr != nil {
		return nil, cerr
	}
	return res, err
}

// Plan returns what a reload with the file at path would do, applying
// nothing.
func (d *Director) Plan(ctx context.Context, path string) (*Plan, error) {
	var (
		p   *Plan
		err error
	)
	if cerr := d.call(ctx, func() {
		defer d.loading(ctx)()
		c, node, lerr := d.cfg.Load(path)
		if lerr != nil {
			err = lerr
			return
		}
		p = d.plan(c, node, path)
	}); cerr != nil {
		return nil, cerr
	}
	return p, err
}

// reloadGCPercent is the most the GC's heap goal is raised to while a
// reload loads the file: loading is a burst of short-lived garbage, which
// the daemon's tight steady-state goal would collect many times over; the
// heap is handed back once the reload is done.
const reloadGCPercent = 400

// reloadHeadroom bounds what the raised goal adds to the live heap. A
// fixed percentage grows with what tandem holds, not with the file: at
// 50 000 checks (a live heap of ~100 MB) 400 % let a reload take the
// resident set from 170 to 520 MB, keepalived#2318's checker killed on a
// reload. With the bound the peak is the live heap plus this.
const reloadHeadroom = 64 << 20

// reloadPercent is the GC percentage for loading a file when live bytes
// of heap are live and the steady percentage is steady.
func reloadPercent(live uint64, steady int) int {
	if steady < 0 {
		return steady // GOGC=off: the operator's
	}
	p := reloadGCPercent
	if live > 0 {
		p = int(min(uint64(reloadGCPercent), reloadHeadroom*100/live))
	}
	return max(p, steady)
}

// liveHeap is the heap the last collection left live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// loading sets the GC for loading a file; the returned func restores it
// and, on the next turn of the loop (after the answer), hands the heap
// back.
func (d *Director) loading(ctx context.Context) func() {
	steady := debug.SetGCPercent(reloadGCPercent) // (the only way to read it)
	debug.SetGCPercent(reloadPercent(liveHeap(), steady))
	return func() {
		debug.SetGCPercent(steady)
		go d.post(ctx, trimMemory)
	}
}

// reload runs on the loop.
func (d *Director) reload(ctx context.Context) (*ReloadResult, error) {
	defer d.loading(ctx)()
	t0 := time.Now()
	c, node, err := d.cfg.Load(d.cfg.Path)
	if err != nil {
		d.reloads.Failed++
		d.reloads.Last, d.reloads.LastError = time.Now(), err.Error()
		d.logLoadError("reload rejected, keeping the running config", err)
		return nil, err
	}
	if err := checkBGP(c, node); err != nil {
		d.reloads.Failed++
		d.reloads.Last, d.reloads.LastError = time.Now(), err.Error()
		d.log.Error("reload rejected, keeping the running config", "err", err)
		return nil, err
	}
	t1 := time.Now()
	p := d.plan(c, node, d.cfg.Path)
	t2 := time.Now()
	if err := d.applyPlan(ctx, p); err != nil {
		d.reloads.Failed++
		d.reloads.Last, d.reloads.LastError = time.Now(), err.Error()
		d.log.Error("reload failed", "err", err)
		return &ReloadResult{Plan: p}, err
	}
	t3 := time.Now()
	d.reloads.OK++
	d.reloads.Last, d.reloads.LastError = t3, ""
	res := &ReloadResult{Plan: p, Timing: Timing{Load: t1.Sub(t0), Plan: t2.Sub(t1), Apply: t3.Sub(t2)}}
	d.log.Info("reloaded", "file", d.cfg.Path, "changes", p.Summary(),
		"load", res.Timing.Load.Round(time.Microsecond), "plan", res.Timing.Plan.Round(time.Microsecond),
		"apply", res.Timing.Apply.Round(time.Microsecond))
	return res, nil
}

// applyPlan switches to the plan's config, applying only what it lists.
// The file was valid; what can still fail is the host (a sysctl, a
// netlink write): the director settings are applied first and their
// failure keeps the running config; a failed IPVS write is left to the
// next resync, which repairs the table.
func (d *Director) applyPlan(ctx context.Context, p *Plan) error {
	if !d.cfg.NoIPVS {
		if p.Count("director", "") > 0 {
			if err := d.applyDirector(p.c, p.node); err != nil {
				return err
			}
		}
		d.settings = directorSettings(p.c, p.node) // what LeftInPlace reports
	}
	d.setConfig(p.c, p.node)
	d.pruneOverrides(p.c)
	d.want = p.want
	for _, sh := range p.states {
		d.noteService(sh)
	}
	d.health.draining = true
	d.setCheckSpecs(p.c, p.checks)
	d.reloadVRRP(ctx, p)
	if d.rec != nil && (len(p.svcs) > 0 || len(p.retire) > 0) {
		res, err := d.rec.Update(ctx, p.svcs, p.retire)
		d.noteReconcile(res, err)
		for _, op := range res.Ops {
			d.log.Debug("ipvs write", "op", op.String())
		}
		if err != nil {
			d.log.Error("ipvs update failed (the next resync repairs it)", "err", err)
		} else {
			d.log.Info("ipvs updated", "reason", "reload", "services", len(p.svcs), "retired", len(p.retire),
				"writes", res.Writes, "took", res.Took.Round(time.Microsecond))
		}
	}
	d.adoptSync(p.c)
	if err := d.reloadBGP(ctx, p.c, p.node); err != nil {
		d.log.Error("bgp not reconfigured", "err", err)
	}
	d.warnPreferredVIPs(p.c)
	d.trackQuorum() // new track_virtual_servers weights apply now, not at the next verdict
	return nil
}

// LoadError is a cluster file that does not load: its diagnostics, or
// why the node cannot run it.
type LoadError struct {
	Path  string
	Files conf.Files
	Diags hcl.Diagnostics // nil when Err is set
	Err   error
}

func (e *LoadError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	errs := e.Diags.Errs()
	first := ""
	for _, dg := range e.Diags {
		if dg.Severity == hcl.DiagError {
			first = conf.FormatDiagnostic(dg)
			break
		}
	}
	return fmt.Sprintf("%s is not valid (%d error(s)); the first: %s", e.Path, len(errs), first)
}

func (e *LoadError) Unwrap() error { return e.Err }

// logLoadError reports a file that does not load, through the binary's
// ReportLoadError when it has one (it prints the diagnostics as `tandem
// check` does), else as one line.
func (d *Director) logLoadError(msg string, err error) {
	if d.cfg.ReportLoadError != nil {
		d.cfg.ReportLoadError(msg, err)
		return
	}
	d.log.Error(msg, "err", err)
}
