package director

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"slices"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/vrrp"
)

// The VRRP wiring: the node's instances (conf.Cluster.VRRP) run in one
// vrrp.Runner, and their transitions reach the main loop through d.post,
// which logs them and hands them to onTransition (sync.go: the IPVS
// connection-sync daemons' roles).
//
// Reload keeps the runner untouched when the VRRP part of the file (as
// this node sees it) is unchanged, and changes priorities and addresses
// in place when only they changed; otherwise the runner is stopped gracefully (masters
// hand over with priority 0) and a new one started.

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

// reloadVRRP applies the plan's VRRP part.
func (d *Director) reloadVRRP(ctx context.Context, p *Plan) {
	var old vrrp.Options
	if d.vrrp != nil {
		old = d.vrrp.opts
	}
	opts := p.vrrpOpts
	if reflect.DeepEqual(old, opts) {
		return
	}
	if changes, ok := inPlaceChanges(old, opts); ok && d.vrrp != nil {
		// Only priorities or addresses changed: in place, no handover,
		// no advert gap.
		for _, ch := range changes {
			if ch.priority != 0 {
				d.log.Info("vrrp priority changed in place", "instance", ch.name, "priority", ch.priority)
				d.vrrp.runner.SetPriority(ch.name, ch.priority)
			}
			if ch.addresses != nil {
				d.log.Info("vrrp addresses changed in place", "instance", ch.name, "addresses", fmt.Sprint(ch.addresses))
				d.vrrp.runner.SetAddresses(ch.name, ch.addresses)
			}
		}
		d.vrrp.opts = opts
		return
	}
	d.log.Info("vrrp config changed: restarting the vrrp runner")
	d.stopVRRP()
	d.drainEvents() // the stop's transitions are logged before "reloaded"
	if err := d.startVRRP(ctx, p.c, p.node); err != nil {
		d.log.Error("vrrp not restarted", "err", err)
	}
}

// vrrpChanges lists what the new options change, instance by instance.
func (p *Plan) vrrpChanges(old, new vrrp.Options) {
	byName := map[string]*vrrp.Instance{}
	for i := range old.Instances {
		byName[old.Instances[i].Name] = &old.Instances[i]
	}
	seen := map[string]bool{}
	for i := range new.Instances {
		n := &new.Instances[i]
		seen[n.Name] = true
		o, ok := byName[n.Name]
		switch {
		case !ok:
			p.Changes = append(p.Changes, Change{Area: "vrrp", Kind: "added", What: n.Name})
		case reflect.DeepEqual(*o, *n):
			p.Kept.VRRP++
			p.Changes = append(p.Changes, Change{Area: "vrrp", Kind: "kept", What: n.Name})
		default:
			p.Changes = append(p.Changes, Change{Area: "vrrp", Kind: "restarted", What: n.Name})
		}
	}
	for _, o := range old.Instances {
		if !seen[o.Name] {
			p.Changes = append(p.Changes, Change{Area: "vrrp", Kind: "removed", What: o.Name})
		}
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

// inPlaceChange is what a reload changes of one instance in place: its
// priority (0: unchanged) and its addresses (nil: unchanged).
type inPlaceChange struct {
	name      string
	priority  uint8
	addresses []netip.Prefix
}

// inPlaceChanges reports whether new differs from old only in instances'
// priorities (none to or from the owner's 255) and addresses (of the same
// family), and returns those changes.
func inPlaceChanges(old, new vrrp.Options) ([]inPlaceChange, bool) {
	if len(old.Instances) != len(new.Instances) {
		return nil, false
	}
	same := new
	same.Instances = slices.Clone(new.Instances)
	var out []inPlaceChange
	for i := range same.Instances {
		o, n := &old.Instances[i], &same.Instances[i]
		ch := inPlaceChange{name: n.Name}
		if op, np := o.Config.Priority, n.Config.Priority; op != np {
			if op == vrrp.Owner || np == vrrp.Owner {
				return nil, false
			}
			ch.priority = np
			n.Config.Priority = op
		}
		if !slices.Equal(o.Addresses, n.Addresses) {
			if len(o.Addresses) == 0 || len(n.Addresses) == 0 || o.Addresses[0].Addr().Is6() != n.Addresses[0].Addr().Is6() {
				return nil, false
			}
			ch.addresses = n.Addresses
			n.Addresses = o.Addresses
		}
		if ch.priority != 0 || ch.addresses != nil {
			out = append(out, ch)
		}
	}
	return out, len(out) > 0 && reflect.DeepEqual(old, same)
}
