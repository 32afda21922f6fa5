package director

import (
	"context"
	"slices"
	"strings"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/vrrp"
)

// The VRRP wiring: the node's instances (conf.Cluster.VRRP) run in one
// vrrp.Runner, and their transitions reach the main loop through d.post,
// which logs them and hands them to onTransition (sync.go: the IPVS
// connection-sync daemons' roles).
//
// A reload reconfigures the runner instance by instance
// (vrrp.Runner.Reconfigure): an unchanged instance is not touched, a
// changed one changes in place (priorities, addresses, timers, tracking,
// hooks), and only one that became another virtual router (VRID,
// interface, version, family, unicast/multicast, owner priority) is
// restarted, masters handing over.

// vrrpRun is the running VRRP runner and the options it was built from.
type vrrpRun struct {
	runner *vrrp.Runner
	opts   vrrp.Options // without callbacks: compared on reload
}

// vrrpOptions are the runner's options for node n of c (callbacks unset).
// Primary addresses are left zero: the runner finds them on the
// interfaces.
func vrrpOptions(c *conf.Cluster, n *conf.Node) vrrp.Options {
	var o vrrp.Options
	for i := range c.VRRP {
		v := &c.VRRP[i]
		o.Instances = append(o.Instances, vrrp.Instance{
			Name:      v.Name,
			Interface: v.Interface,
			Config: vrrp.Config{
				VRID:           v.VRID,
				Version:        v.Version,
				Priority:       v.PriorityOf(n),
				AdvertInterval: v.AdvertInterval,
				Preempt:        v.Preempt,
				PreemptDelay:   v.PreemptDelay,
				Accept:         v.Accept,
				PairHandover:   v.PairHandover,
			},
			Addresses:       v.Addresses,
			UnicastPeers:    v.UnicastPeers,
			AuthPass:        v.AuthPass,
			TrackInterfaces: v.TrackInterfaces,
			TrackScripts:    v.TrackScripts,
			GARP:            vrrp.GARP(v.GARP),
			Notify:          v.Notify,
		})
	}
	for _, g := range c.SyncGroups {
		o.SyncGroups = append(o.SyncGroups, vrrp.SyncGroup{Name: g.Name, Instances: g.Instances, Notify: g.Notify})
	}
	for _, s := range c.TrackScripts {
		o.TrackScripts = append(o.TrackScripts, vrrp.TrackScript{
			Name: s.Name, Command: s.Command, Interval: s.Interval, Timeout: s.Timeout,
			Weight: s.Weight, Rise: s.Rise, Fall: s.Fall,
		})
	}
	return o
}

func (d *Director) startVRRP(ctx context.Context, c *conf.Cluster, n *conf.Node) error {
	opts := vrrpOptions(c, n)
	if len(opts.Instances) == 0 {
		return nil
	}
	run := opts
	run.Log = d.log.With("component", "vrrp")
	run.Exec = d.runScript // as the scripts' user
	// The runner leaves the transition's log line to this callback: one
	// line, in the main loop's order, without the component attribute
	// (tests and operators match `msg="vrrp transition" instance=`).
	run.OnTransition = func(inst string, from, to vrrp.State, prio uint8, reason vrrp.Reason) {
		line := func() {
			d.log.Info("vrrp transition", "instance", inst, "from", from.String(), "to", to.String(), "priority", prio, "reason", reason.String())
			d.noteTransition(inst, to, prio)
			d.onTransition(inst, from, to)
		}
		if ctx.Err() != nil { // the main loop is gone (shutting down)
			line()
			return
		}
		d.post(ctx, line)
	}
	r, err := vrrp.NewRunner(run)
	if err != nil {
		return err
	}
	if err := r.Start(); err != nil {
		return err
	}
	d.vrrp = &vrrpRun{runner: r, opts: opts}
	d.trackQuorum()
	d.log.Info("vrrp started", "instances", len(opts.Instances), "sync_groups", len(opts.SyncGroups))
	return nil
}

// reloadVRRP applies the plan's VRRP part: the runner reconfigures
// instance by instance (vrrp.Runner.Reconfigure), so an unchanged
// instance is not touched and a changed one changes in place unless it
// became another virtual router. A new config that the runner refuses
// keeps the running instances.
func (d *Director) reloadVRRP(ctx context.Context, p *Plan) {
	opts := p.vrrpOpts
	switch {
	case d.vrrp == nil && len(opts.Instances) == 0:
	case d.vrrp == nil:
		if err := d.startVRRP(ctx, p.c, p.node); err != nil {
			d.log.Error("vrrp not started", "err", err)
		}
	case len(opts.Instances) == 0:
		d.stopVRRP()
		d.drainEvents() // the stop's transitions are logged before "reloaded"
	default:
		if _, err := d.vrrp.runner.Reconfigure(opts); err != nil {
			d.log.Error("vrrp not reconfigured: the running instances are kept", "err", err)
			return
		}
		d.vrrp.opts = opts
		d.drainEvents()
	}
}

// vrrpChanges lists what the new options do to each instance, sync group
// and track script (vrrp.Compare: what Reconfigure will do).
func (p *Plan) vrrpChanges(old, new vrrp.Options) {
	insts, items := vrrp.Compare(old, new)
	for _, ic := range insts {
		what := ic.Name
		switch {
		case ic.Kind == vrrp.Kept:
			p.Kept.VRRP++
		case ic.Kind == vrrp.Restarted && len(ic.Restart) > 0:
			what += ": " + strings.Join(ic.Restart, ", ")
			if rest := slices.DeleteFunc(slices.Clone(ic.What), func(w string) bool { return slices.Contains(ic.Restart, w) }); len(rest) > 0 {
				what += " (also " + strings.Join(rest, ", ") + ")"
			}
		case len(ic.What) > 0:
			what += ": " + strings.Join(ic.What, ", ")
		}
		p.Changes = append(p.Changes, Change{Area: "vrrp", Kind: ic.Kind.String(), What: what})
	}
	for _, it := range items {
		if it.Kind == vrrp.Kept {
			continue
		}
		what := it.Name
		if len(it.What) > 0 {
			what += ": " + strings.Join(it.What, ", ")
		}
		p.Changes = append(p.Changes, Change{Area: it.Type, Kind: it.Kind.String(), What: what})
	}
}

// stopVRRP hands over gracefully: every master sends priority 0 and
// releases its addresses.
func (d *Director) stopVRRP() {
	if d.vrrp == nil {
		return
	}
	d.vrrp.runner.Stop()
	d.vrrp = nil
	d.log.Info("vrrp stopped", "addresses", "released")
}
