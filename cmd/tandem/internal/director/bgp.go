package director

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/bgp"
	"github.com/tandem-lb/tandem/conf"
)

// The BGP side of a director (a cluster file with a bgp block): the
// addresses on their interface, the embedded speaker, and the announce
// decision (announce.go) made again on every turn of the loop.
//
// Stop: a planned stop (drain-node, or SIGTERM without graceful_restart)
// withdraws every route, waits until the withdrawals are sent, then
// drain_timeout for the router to move the flows; with graceful_restart,
// SIGTERM closes the sessions as a graceful restart and the router keeps
// the routes. Either way the addresses and the IPVS table stay: the kernel
// goes on forwarding what still arrives.

// bgpRun is the BGP state of the loop; nil without a bgp block.
type bgpRun struct {
	sp    *bgp.Speaker
	cfg   bgp.Config
	addrs bgpAddrs
	// iface and held are the interface and the addresses tandem keeps
	// there (the running config's).
	iface string
	held  []netip.Addr
	// onIface is the interface's addresses, read at start, after a
	// change and at every resync.
	onIface map[netip.Addr]bool
	// decisions is the last announce decision, in the file's order.
	decisions []Announcement
	// draining is set from drain-node or a stop on.
	draining bool
	// drained is closed when drain-node has finished: the loop ends.
	drained chan struct{}
}

// BGPState is the BGP part of a snapshot.
type BGPState struct {
	LocalAS       uint32
	RouterID      netip.Addr
	Announcements []Announcement
	Peers         []bgp.PeerState
	Draining      bool
}

// bgpConfig is the speaker's config for node n of c.
func bgpConfig(c *conf.Cluster, n *conf.Node, restarting bool) (bgp.Config, error) {
	g := c.BGP
	cfg := bgp.Config{LocalAS: g.LocalAS, RouterID: n.RouterID, ListenPort: -1,
		Communities: g.Communities, MED: g.MED, Restarting: restarting}
	if !cfg.RouterID.IsValid() {
		src, err := routeSource(g.Peers[0].Address)
		if err != nil {
			return cfg, fmt.Errorf("bgp: no router_id for node %q and %v; set router_id in its node block", n.Name, err)
		}
		cfg.RouterID = src
	}
	for i := range g.Peers {
		p := &g.Peers[i]
		cfg.Peers = append(cfg.Peers, bgp.Peer{
			Address: p.Address, AS: p.AS, Port: p.Port, Password: p.Password,
			HoldTime: g.HoldTimeOf(p), Passive: p.Passive,
			GracefulRestart: g.GracefulRestart, RestartTime: g.RestartTime,
			BFD: p.BFD, BFDInterval: p.BFDInterval, BFDMultiplier: p.BFDMultiplier,
		})
		if p.Passive && cfg.ListenPort <= 0 {
			cfg.ListenPort = 179
		}
	}
	return cfg, nil
}

// checkBGP checks what the bgp block needs of this host (a router id)
// before anything is applied.
func checkBGP(c *conf.Cluster, node *conf.Node) error {
	if c.BGP == nil {
		return nil
	}
	cfg, err := bgpConfig(c, node, false)
	if err != nil {
		return err
	}
	return bgp.Check(cfg)
}

// startBGP puts the addresses on their interface and starts the speaker,
// announcing nothing yet: the loop's first updateBGP decides. The table
// is programmed (start calls it after the first apply).
func (d *Director) startBGP(ctx context.Context, c *conf.Cluster, node *conf.Node) error {
	if c.BGP == nil {
		return nil
	}
	b := &bgpRun{addrs: newBGPAddrs(), drained: make(chan struct{})}
	on, err := b.addrs.on(c.BGP.Interface)
	if err != nil {
		return err
	}
	// Addresses left by an earlier run: that run stopped (gracefully or
	// not) with its routes maybe still on the router.
	restarting := c.BGP.GracefulRestart && slices.ContainsFunc(c.BGP.Addresses, func(a netip.Addr) bool { return on[a] })
	cfg, err := bgpConfig(c, node, restarting)
	if err != nil {
		return err
	}
	b.cfg = cfg
	if err := b.hold(d, c.BGP); err != nil {
		return err
	}
	// A peer's change only needs a turn of the loop (which publishes);
	// GoBGP's event goroutine must not wait for it.
	nudge := func() {
		select {
		case d.events <- func() {}:
		default:
		}
	}
	b.sp, err = bgp.Start(ctx, cfg, d.log.With("part", "bgp"), nudge)
	if err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	d.bgp = b
	if !d.watching && d.runCtx != nil {
		d.watching = true
		go d.watchPlacement(d.runCtx)
	}
	d.log.Info("bgp speaker started", "local_as", cfg.LocalAS, "router_id", cfg.RouterID,
		"peers", len(cfg.Peers), "addresses", len(c.BGP.Addresses), "restarting", restarting)
	d.updateBGP()
	return nil
}

// hold puts g's addresses on g's interface and removes those tandem
// held before that g no longer lists.
func (b *bgpRun) hold(d *Director, g *conf.BGP) error {
	for _, a := range b.held {
		if b.iface != g.Interface || !slices.Contains(g.Addresses, a) {
			if err := b.addrs.del(b.iface, a); err != nil {
				d.log.Error("bgp address not removed", "address", a, "interface", b.iface, "err", err)
			} else {
				d.log.Info("bgp address removed", "address", a, "interface", b.iface)
			}
		}
	}
	on, err := b.addrs.on(g.Interface)
	if err != nil {
		return err
	}
	for _, a := range g.Addresses {
		if on[a] {
			continue
		}
		if err := b.addrs.add(g.Interface, a); err != nil {
			return fmt.Errorf("bgp: %w", err)
		}
		on[a] = true
		d.log.Info("bgp address added", "address", a, "interface", g.Interface)
	}
	b.iface, b.held, b.onIface = g.Interface, slices.Clone(g.Addresses), on
	return nil
}

// updateBGP makes the announce decision again and hands the speaker the
// routes it says, when they changed. It runs on the loop.
func (d *Director) updateBGP() {
	b := d.bgp
	if b == nil || d.c.BGP == nil {
		return
	}
	in := announceInput{
		Programmed:  true, // the speaker starts after the first apply
		Draining:    b.draining,
		OnInterface: func(a netip.Addr) bool { return b.onIface[a] },
		Services:    d.health.services,
	}
	next := decideAnnounce(d.c, in)
	if slices.Equal(next, b.decisions) {
		return
	}
	for _, n := range next {
		i := slices.IndexFunc(b.decisions, func(o Announcement) bool { return o.Addr == n.Addr })
		switch {
		case n.Announced && (i < 0 || !b.decisions[i].Announced):
			d.log.Info("bgp announce", "address", n.Addr, "reason", n.Reason)
		case !n.Announced && i >= 0 && b.decisions[i].Announced:
			d.log.Info("bgp withdraw", "address", n.Addr, "reason", n.Reason)
		case !n.Announced && i < 0:
			d.log.Info("bgp route held back", "address", n.Addr, "reason", n.Reason)
		}
	}
	b.decisions = next
	if err := b.sp.Announce(announced(next)); err != nil {
		d.log.Error("bgp announce failed", "err", err)
	}
}

// resyncBGP reads the interface's addresses again (one removed by hand
// withdraws its route) and puts back the missing ones.
func (d *Director) resyncBGP() {
	b := d.bgp
	if b == nil || d.c.BGP == nil {
		return
	}
	if err := b.hold(d, d.c.BGP); err != nil {
		d.log.Error("bgp addresses", "err", err)
	}
	d.updateBGP()
}

// reloadBGP applies a reload's bgp block: starts, reconfigures or stops
// the speaker.
func (d *Director) reloadBGP(ctx context.Context, c *conf.Cluster, node *conf.Node) error {
	b := d.bgp
	switch {
	case b == nil && c.BGP == nil:
		return nil
	case b == nil:
		return d.startBGP(ctx, c, node)
	case c.BGP == nil:
		d.stopBGP(false)
		for _, a := range b.held {
			if err := b.addrs.del(b.iface, a); err == nil {
				d.log.Info("bgp address removed", "address", a, "interface", b.iface)
			}
		}
		d.bgp = nil
		return nil
	}
	cfg, err := bgpConfig(c, node, false)
	if err != nil {
		return err
	}
	if err := b.hold(d, c.BGP); err != nil {
		return err
	}
	if err := b.sp.Reconfigure(cfg); err != nil {
		return fmt.Errorf("bgp: %w", err)
	}
	b.cfg = cfg
	b.decisions = nil // announce again under the new config
	d.updateBGP()
	return nil
}

// stopBGP ends the speaker on exit. graceful keeps the routes on the
// router (graceful restart); otherwise they are withdrawn first, and the
// stop waits until the withdrawals are sent, then drain_timeout.
func (d *Director) stopBGP(graceful bool) {
	b := d.bgp
	if b == nil || b.sp == nil {
		return
	}
	if graceful {
		d.log.Info("bgp graceful restart: routes kept on the router", "restart_time", d.c.BGP.RestartTime)
		b.sp.Stop(true)
		return
	}
	if !b.draining {
		d.withdrawAll()
	}
	b.sp.Stop(false)
	d.log.Info("bgp speaker stopped")
}

// withdrawAll withdraws every route, waits until the withdrawals are
// sent (at most 5 s) and then drain_timeout. It runs on the loop.
func (d *Director) withdrawAll() (sent time.Duration, err error) {
	b := d.bgp
	b.draining = true
	d.updateBGP()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	err = b.sp.WithdrawAll(ctx)
	cancel()
	sent = time.Since(t0)
	if err != nil {
		d.log.Error("bgp withdrawals not confirmed", "err", err, "after", sent.Round(time.Millisecond))
	} else {
		d.log.Info("bgp routes withdrawn", "peers", len(b.cfg.Peers), "took", sent.Round(time.Millisecond))
	}
	if w := d.c.BGP.Drain; w > 0 {
		d.log.Info("bgp drain: waiting for the router to move the flows", "drain_timeout", w)
		time.Sleep(w)
	}
	return sent, err
}

// DrainResult is what drain-node did.
type DrainResult struct {
	Withdrawn []netip.Addr  `json:"withdrawn"`
	Peers     int           `json:"peers"`
	Sent      time.Duration `json:"sent_ns"`
	Waited    time.Duration `json:"waited_ns"`
	Error     string        `json:"error,omitempty"`
}

// ErrNoBGP is drain-node's answer on a cluster without a bgp block.
var ErrNoBGP = errors.New("drain-node: the cluster file has no bgp block (a VRRP pair hands over with a stop or a lower priority)")

// DrainNode withdraws this director's routes, waits until the
// withdrawals are sent and drain_timeout has passed, answers, and then
// ends the director (tandem run exits 0).
func (d *Director) DrainNode(ctx context.Context) (*DrainResult, error) {
	var res *DrainResult
	var derr error
	err := d.call(ctx, func() {
		b := d.bgp
		if b == nil {
			derr = ErrNoBGP
			return
		}
		var was []netip.Addr
		for _, a := range b.decisions {
			if a.Announced {
				was = append(was, a.Addr)
			}
		}
		d.log.Info("drain-node: withdrawing the routes and stopping")
		sent, err := d.withdrawAll()
		res = &DrainResult{Withdrawn: was, Peers: len(b.cfg.Peers), Sent: sent, Waited: d.c.BGP.Drain}
		if err != nil {
			res.Error = err.Error()
		}
		time.AfterFunc(100*time.Millisecond, func() { close(b.drained) })
	})
	if err != nil {
		return nil, err
	}
	return res, derr
}

// bgpDrained is closed when drain-node has finished; nil (never ready)
// without BGP.
func (d *Director) bgpDrained() <-chan struct{} {
	if d.bgp == nil {
		return nil
	}
	return d.bgp.drained
}

// bgpState is the snapshot's BGP part.
func (d *Director) bgpState() *BGPState {
	b := d.bgp
	if b == nil || d.c.BGP == nil {
		return nil
	}
	return &BGPState{
		LocalAS:       b.cfg.LocalAS,
		RouterID:      b.cfg.RouterID,
		Announcements: slices.Clone(b.decisions),
		Peers:         b.sp.Peers(),
		Draining:      b.draining,
	}
}
