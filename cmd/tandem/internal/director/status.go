package director

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// Status builds the status document (package status) from the last
// snapshot, the VRRP runner's and the checks' own status, and one read
// of the kernel's table (connection counters, weights, statistics). It
// runs on the caller's goroutine: the main loop is not held while the
// kernel is read.
func (d *Director) Status(ctx context.Context) (*status.Status, error) {
	snap := d.Snapshot()
	if snap == nil {
		return nil, ErrNotRunning
	}
	st := &status.Status{
		Schema:     status.Schema,
		Version:    d.cfg.Version,
		Node:       snap.Node,
		File:       snap.File,
		ConfigHash: snap.Config.Hash,
		Started:    d.started.UTC(),
		Loaded:     snap.Loaded.UTC(),
		Reloads: status.Reloads{OK: snap.Reloads.OK, Failed: snap.Reloads.Failed,
			Last: opt(snap.Reloads.Last), LastError: snap.Reloads.LastError},
		VRRP:           []status.Instance{},
		VirtualServers: []status.VirtualServer{},
		IPVS: status.IPVS{Managed: snap.rec != nil, Reconciles: snap.reconcile.Runs, ReconcileWrites: snap.reconcile.Writes,
			ReconcileErrors: snap.reconcile.Errors, LastReconcile: opt(snap.reconcile.Last),
			LastReconcileSeconds: snap.reconcile.LastTook.Seconds()},
	}
	var kernel map[ipvs.ServiceKey]ipvs.ServiceStatus
	if snap.rec != nil {
		k, err := snap.rec.Status(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			st.IPVS.KernelError = err.Error()
		}
		kernel = k
	}
	st.VRRP, st.VRRPDropped = instancesStatus(snap)
	st.BGP = bgpStatus(snap)
	var checks map[healthcheck.ID]healthcheck.Status
	var ov *healthcheck.OverloadStatus
	if snap.mgr != nil {
		all := snap.mgr.Status()
		checks = make(map[healthcheck.ID]healthcheck.Status, len(all))
		for _, c := range all {
			checks[c.ID] = c
		}
		o := snap.mgr.Overload()
		ov = &o
		st.HealthChecks = &status.HealthChecks{Overloaded: o.Overloaded, OverloadedSince: optIf(o.Overloaded, o.OverloadedSince),
			MassTimeout: o.MassTimeout, MassTimeoutSince: optIf(o.MassTimeout, o.MassTimeoutSince),
			LateProbes: o.LateProbes, HeldTimeouts: o.HeldTimeouts}
	}
	health := make(map[ipvs.ServiceKey]*ServiceHealth, len(snap.Services))
	for _, sh := range snap.Services {
		health[sh.Key] = sh
	}
	owned := make(map[ipvs.ServiceKey]bool, len(snap.Config.VirtualServers))
	for i := range snap.Config.VirtualServers {
		vs := &snap.Config.VirtualServers[i]
		key := serviceKey(vs)
		owned[key.Canonical()] = true
		ks, inKernel := kernel[key.Canonical()]
		out := virtualServerStatus(vs, health[key], ks, inKernel, checks, snap.overrides)
		out.Held = heldStatus(vs.Name, ov)
		st.VirtualServers = append(st.VirtualServers, out)
	}
	for _, k := range sortedKeys(kernel) {
		if owned[k] {
			continue
		}
		ks := kernel[k]
		f := status.Foreign{Service: k.String(), Scheduler: ks.Scheduler, Stats: stats(ks.Stats), RealServers: []status.ForeignDest{}}
		for _, ds := range ks.Dests {
			f.RealServers = append(f.RealServers, status.ForeignDest{
				Address: ds.AddrPort().String(), Forward: forwardName(ds.Forward), Weight: ds.Weight,
				ActiveConns: ds.Conns.Active, InactiveConns: ds.Conns.Inactive, Stats: stats(ds.Stats)})
		}
		st.Foreign = append(st.Foreign, f)
	}
	st.Taken = time.Now().UTC()
	return st, nil
}

func sortedKeys(m map[ipvs.ServiceKey]ipvs.ServiceStatus) []ipvs.ServiceKey {
	keys := make([]ipvs.ServiceKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, ipvs.ServiceKey.Compare)
	return keys
}

// optIf is opt(t) when ok, nil otherwise.
func optIf(ok bool, t time.Time) *time.Time {
	if !ok {
		return nil
	}
	return opt(t)
}

// heldStatus says whether and why the virtual server called name has its
// probe timeouts held, nil when not (or when it has no checks).
func heldStatus(name string, ov *healthcheck.OverloadStatus) *status.Held {
	if ov == nil {
		return nil
	}
	i, found := slices.BinarySearchFunc(ov.Groups, name, func(g healthcheck.GroupStatus, n string) int { return strings.Compare(g.Name, n) })
	if !found {
		return nil // no checks
	}
	g := ov.Groups[i]
	h := &status.Held{TimingOut: g.TimingOut, Checked: g.Probed}
	switch {
	case g.MassTimeout:
		h.Reason, h.Since = "mass timeout", g.Since.UTC()
	case ov.Overloaded:
		h.Reason, h.Since = "checker overloaded", ov.OverloadedSince.UTC()
	case ov.MassTimeout:
		h.Reason, h.Since = "mass timeout of all checks", ov.MassTimeoutSince.UTC()
	default:
		return nil
	}
	return h
}

// opt is t in UTC, nil when zero.
func opt(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func stats(s ipvs.Stats) *status.Stats {
	return &status.Stats{Conns: s.Conns, InPackets: s.InPkts, OutPackets: s.OutPkts, InBytes: s.InBytes, OutBytes: s.OutBytes,
		CPS: s.CPS, InPPS: s.InPPS, OutPPS: s.OutPPS, InBPS: s.InBPS, OutBPS: s.OutBPS}
}

// forwardName is the file's word for a forwarding method.
func forwardName(f ipvs.Forward) string {
	switch f & ipvs.ForwardMask {
	case ipvs.Masq:
		return string(conf.NAT)
	case ipvs.Route:
		return string(conf.DR)
	case ipvs.Tunnel:
		return string(conf.TUN)
	}
	return strings.ToLower(f.String())
}

// virtualServerStatus is one virtual server's part of the document.
func virtualServerStatus(vs *conf.VirtualServer, sh *ServiceHealth, ks ipvs.ServiceStatus, inKernel bool,
	checks map[healthcheck.ID]healthcheck.Status, ovr overrides) status.VirtualServer {
	key := serviceKey(vs)
	out := status.VirtualServer{
		Name: vs.Name, Service: key.String(), Protocol: string(vs.Protocol), FWMark: vs.FWMark,
		Family: string(vs.Family), Scheduler: vs.Scheduler, Forward: string(vs.Forward),
		Quorum: vs.Quorum, InKernel: inKernel, RealServers: []status.RealServer{},
	}
	if vs.FWMark == 0 {
		out.Address = vs.Address.String()
	}
	for _, f := range vs.SchedulerFlags {
		out.Flags = append(out.Flags, string(f))
	}
	if vs.OnePacket {
		out.Flags = append(out.Flags, "ops")
	}
	if p := vs.Persistence; p != nil {
		out.PersistenceSeconds = p.Timeout.Seconds()
	}
	if sh != nil {
		out.Up, out.HealthyWeight, out.Sorry = sh.Up, sh.HealthyWeight, sh.Sorry
		out.Panic = sh.Panic
	}
	if vs.PanicThreshold > 0 {
		out.PanicThreshold = fmtPercent(vs.PanicThreshold)
	}
	if inKernel {
		out.Stats = stats(ks.Stats)
	}
	kdest := finder(ks.Dests, func(ds ipvs.DestStatus) netip.AddrPort { return ds.AddrPort() })
	fill := func(r *status.RealServer, ap netip.AddrPort) {
		r.Weight = -1
		if ds, ok := kdest(ap); ok {
			r.Weight = ds.Weight
			r.ActiveConns, r.InactiveConns, r.PersistentConns = ds.Conns.Active, ds.Conns.Inactive, ds.Conns.Persistent
			r.Stats = stats(ds.Stats)
		}
	}
	for i := range vs.RealServers {
		rs := &vs.RealServers[i]
		r := status.RealServer{Name: rs.Name, Address: rs.Address.String(), Forward: string(rs.Forward),
			ConfiguredWeight: int(rs.Weight), Health: status.Unchecked}
		if sh != nil && i < len(sh.RealServers) {
			r.Health = sh.RealServers[i].State
			if id := sh.RealServers[i].Check; id != "" {
				if c, ok := checks[id]; ok {
					r.Check = string(c.Spec.Kind)
					r.Since, r.LastProbe = opt(c.Since), opt(c.LastCheck)
					r.LastError = c.LastErr
					r.LastProbeSeconds = c.LastLatency.Seconds()
					r.CheckTransitions = c.Transitions
				} else if rs.Check != nil {
					r.Check = string(rs.Check.Type)
				}
			}
		}
		fill(&r, rs.Address)
		if o, ok := ovr[rsKey{key, rs.Address}]; ok {
			r.Override = &status.Override{Mode: string(o.Mode), Since: o.Since.UTC()}
			r.Health = status.Draining
			if o.Mode == ModeDisable && (o.Out || r.Weight < 0) {
				r.Health = status.Maintenance
			}
		}
		out.RealServers = append(out.RealServers, r)
	}
	if ss := vs.SorryServer; ss != nil {
		ap := netip.AddrPortFrom(ss.Address.Addr().Unmap(), ss.Address.Port())
		r := status.RealServer{Name: "sorry_server", Address: ap.String(), Forward: string(ss.Forward),
			ConfiguredWeight: 1, Health: status.Unchecked, Sorry: true}
		fill(&r, ap)
		out.RealServers = append(out.RealServers, r)
	}
	lists := lister(vs)
	for _, ds := range ks.Dests {
		ap := netip.AddrPortFrom(ds.Addr.Unmap(), ds.Port)
		if lists(ap) {
			continue
		}
		r := status.RealServer{Name: "", Address: ap.String(), Forward: forwardName(ds.Forward),
			Health: status.Draining, Removed: true}
		fill(&r, ap)
		out.RealServers = append(out.RealServers, r)
	}
	return out
}

// instancesStatus is the VRRP part: each instance of the running file,
// as the runner reports it (or INIT before it runs), and the runner-wide
// drops.
func instancesStatus(snap *Snapshot) ([]status.Instance, map[string]uint64) {
	var live map[string]vrrp.InstanceStatus
	var dropped map[string]uint64
	if snap.runner != nil {
		all := snap.runner.Status()
		live = make(map[string]vrrp.InstanceStatus, len(all))
		for _, s := range all {
			live[s.Name] = s
		}
		dropped = map[string]uint64{}
		for reason, n := range snap.runner.Stats().Drops() {
			if reason == "malformed" || reason == "unknown_vrid" {
				dropped[reason] = n
			}
		}
	}
	out := make([]status.Instance, 0, len(snap.Config.VRRP))
	for i := range snap.Config.VRRP {
		v := &snap.Config.VRRP[i]
		in := status.Instance{
			Name: v.Name, Interface: v.Interface, VRID: int(v.VRID), Version: v.Version, Family: string(v.Family),
			State: "INIT", Dropped: map[string]uint64{}, Addresses: []string{},
		}
		if i < len(snap.VRRP) && snap.VRRP[i].Name == v.Name {
			in.Priority = int(snap.VRRP[i].Priority)
			in.ConfiguredPriority = in.Priority
		}
		for _, a := range v.Addresses {
			in.Addresses = append(in.Addresses, a.String())
		}
		if s, ok := live[v.Name]; ok {
			in.State = s.State.String()
			in.Since = opt(s.Since)
			in.Priority, in.ConfiguredPriority = int(s.Priority), int(s.ConfiguredPriority)
			switch {
			case s.State == vrrp.Master:
				in.Master = "self"
			case s.Master.IsValid():
				in.Master = s.Master.String()
				in.MasterPriority = int(s.MasterPriority)
			}
			in.Transitions, in.BecameMaster, in.ReleasedMaster = s.Transitions, s.BecameMaster, s.ReleasedMaster
			in.AdvertsSent, in.AdvertsReceived = s.AdvertsSent, s.AdvertsReceived
			for reason, n := range s.Drops.All() {
				in.Dropped[reason] = n
			}
			in.Group = s.Group
			for _, t := range s.Track {
				in.Track = append(in.Track, status.Track{Kind: string(t.Kind), Name: t.Name, OK: t.OK || !t.Known, Weight: t.Weight})
			}
			in.Fault = s.Fault
		}
		out = append(out, in)
	}
	return out, dropped
}

// bgpStatus is the BGP part of the status; nil without BGP.
func bgpStatus(snap *Snapshot) *status.BGP {
	b := snap.BGP
	if b == nil {
		return nil
	}
	out := &status.BGP{LocalAS: b.LocalAS, RouterID: b.RouterID.String(), Draining: b.Draining,
		PlacementHash: snap.Placement, Placements: []status.BGPPlacement{}, Routes: []status.BGPRoute{}, Peers: []status.BGPPeer{}}
	for _, p := range snap.PeerPlacement {
		out.Placements = append(out.Placements, status.BGPPlacement{Node: p.Node, Hash: p.Hash,
			Same: p.Hash != "" && p.Hash == snap.Placement, Error: p.Err, Checked: opt(p.Checked)})
	}
	for _, a := range b.Announcements {
		out.Routes = append(out.Routes, status.BGPRoute{Prefix: netip.PrefixFrom(a.Addr, a.Addr.BitLen()).String(),
			Announced: a.Announced, Reason: a.Reason})
	}
	for _, p := range b.Peers {
		out.Peers = append(out.Peers, status.BGPPeer{Address: p.Address.String(), AS: p.AS, State: p.State,
			Since: opt(p.Since), Announced: p.Announced, LastError: p.LastError})
	}
	return out
}
