// Package bgp is tandem's BGP speaker: an embedded GoBGP v4 server
// (github.com/osrg/gobgp/v4/pkg/server, no gRPC listener) that announces
// the director's VIPs (/32, /128) to its routers with next-hop self, so
// that a router spreads flows over the ready directors by ECMP.
//
// The speaker originates paths only: a global import policy accepts the
// locally originated paths and rejects everything the routers send (kept
// in GoBGP's Adj-RIB-In, not in its RIB), so a route learnt from a router can never replace or hide
// ours. Each path is originated with an unspecified next hop (0.0.0.0 or
// ::), which GoBGP rewrites, for eBGP and iBGP peers alike, to the local
// address of the session it is sent on: every director is its own next
// hop. An IPv6 VIP over an IPv4 session gets that IPv4 address as an
// IPv4-mapped IPv6 next hop (::ffff:a.b.c.d), the usual encoding.
//
// One process must run one GoBGP server at a time: GoBGP v4 keeps its
// route-selection settings (table.SelectionOptions, UseMultiplePaths) in
// package variables that every StartBgp writes and every server's route
// processing reads. A Speaker runs one server, and a restart
// (Reconfigure) stops the old one before starting the new; do not run two
// Speakers at once in one process (the tests run each GoBGP in its own
// child process for that reason).
//
// All methods are safe for concurrent use; each is a few calls into
// GoBGP's management loop (no network wait) except WithdrawAll, which
// waits for the withdrawals to be written, bounded by its context.
package bgp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
	"google.golang.org/protobuf/proto"
)

// PeerState is what Peers reports of one configured neighbour.
type PeerState struct {
	Address netip.Addr
	AS      uint32
	// State is the session state: "idle", "connect", "active",
	// "opensent", "openconfirm" or "established".
	State string
	// Since is when State was entered (or the peer was configured, if the
	// session has not moved since).
	Since time.Time
	// Announced is the number of paths we advertise to this peer (0 unless
	// established).
	Announced int
	// LastError is why the session last went down ("" if it never did).
	LastError string
}

// peerEvents is what the speaker learns from GoBGP's peer events.
type peerEvent struct {
	state   string
	since   time.Time
	lastErr string
}

// Speaker is a running BGP speaker.
type Speaker struct {
	log      *slog.Logger
	onChange func()

	mu        sync.Mutex
	cfg       *compiled
	srv       *server.BgpServer
	served    chan struct{} // closed when srv.Serve returns
	cancel    context.CancelFunc
	announced map[netip.Prefix]struct{}
	stopped   bool

	evMu   sync.Mutex
	events map[netip.Addr]*peerEvent
}

// ErrStopped is returned by every method called after Stop.
var ErrStopped = errors.New("bgp speaker stopped")

// Start validates cfg and starts the speaker: GoBGP's server, its peers
// (outgoing connections start about 2 s later, then retry every 5 s), no
// announced path. onChange (may be nil) is called, from a GoBGP event
// goroutine, whenever a peer's session state changes; it must not block.
// ctx bounds only the start-up, not the speaker's life (see Stop).
func Start(ctx context.Context, cfg Config, log *slog.Logger, onChange func()) (*Speaker, error) {
	c, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if onChange == nil {
		onChange = func() {}
	}
	s := &Speaker{
		log:       log,
		onChange:  onChange,
		announced: map[netip.Prefix]struct{}{},
		events:    map[netip.Addr]*peerEvent{},
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startServer(ctx, c, cfg.Restarting); err != nil {
		return nil, err
	}
	return s, nil
}

// startServer starts a GoBGP server for c; s.mu held.
func (s *Speaker) startServer(ctx context.Context, c *compiled, restarting bool) error {
	lvl := new(slog.LevelVar)
	lvl.Set(slog.LevelWarn)
	srv := server.NewBgpServer(server.LoggerOption(slog.New(&gobgpHandler{h: s.log.Handler(), lvl: lvl}).With("component", "gobgp"), lvl))
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	fail := func(err error) error {
		srv.Stop()
		<-served
		return err
	}
	port := listenPort(c.cfg)
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:        c.cfg.LocalAS,
		RouterId:   c.cfg.RouterID.Unmap().String(),
		ListenPort: port,
	}}); err != nil {
		return fail(fmt.Errorf("bgp: start (AS %d, router id %s, listen port %d): %w", c.cfg.LocalAS, c.cfg.RouterID, c.cfg.ListenPort, err))
	}
	// The global import policy applies to our own paths too: accept the
	// locally originated ones, reject the rest (what routers send).
	onlyLocal := &api.Policy{Name: "tandem-only-local", Statements: []*api.Statement{{
		Name:       "tandem-accept-local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT},
	}}}
	if err := srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: onlyLocal}); err != nil {
		return fail(fmt.Errorf("bgp: add the import policy: %w", err))
	}
	if err := srv.SetPolicyAssignment(ctx, &api.SetPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name:          "global",
		Direction:     api.PolicyDirection_POLICY_DIRECTION_IMPORT,
		Policies:      []*api.Policy{{Name: onlyLocal.Name}},
		DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT,
	}}); err != nil {
		return fail(fmt.Errorf("bgp: set the import policy: %w", err))
	}
	wctx, cancel := context.WithCancel(context.Background())
	if err := srv.WatchEvent(wctx, server.WatchEventMessageCallbacks{OnPeerUpdate: s.peerEvent}, server.WatchPeer()); err != nil {
		cancel()
		return fail(fmt.Errorf("bgp: watch peer events: %w", err))
	}
	s.srv, s.served, s.cancel, s.cfg = srv, served, cancel, c
	for _, a := range sortedAddrs(c.peers) {
		if err := s.addPeer(ctx, c, a, restarting); err != nil {
			s.stopServer(false)
			return err
		}
	}
	if err := s.addPaths(slices.Collect(maps.Keys(s.announced))); err != nil {
		s.stopServer(false)
		return err
	}
	return nil
}

// listenPort is GoBGP's ListenPort for cfg: -1 for none.
func listenPort(cfg Config) int32 {
	if cfg.ListenPort <= 0 {
		return -1
	}
	return cfg.ListenPort
}

// errNoServer is returned when a restart of the GoBGP server (Reconfigure)
// failed; the next successful Reconfigure starts it again.
var errNoServer = errors.New("bgp speaker: no running BGP server (the last reconfiguration failed to start it)")

// usable reports why s cannot be used; s.mu held.
func (s *Speaker) usable() error {
	if s.stopped {
		return ErrStopped
	}
	if s.srv == nil {
		return errNoServer
	}
	return nil
}

func sortedAddrs[V any](m map[netip.Addr]V) []netip.Addr {
	return slices.SortedFunc(maps.Keys(m), netip.Addr.Compare)
}

// addPeer configures peer a of c in the running server; s.mu held.
func (s *Speaker) addPeer(ctx context.Context, c *compiled, a netip.Addr, restarting bool) error {
	ap := c.peers[a]
	if restarting && ap.GracefulRestart != nil {
		// Clone: c.peers stays as configured.
		cp := proto.Clone(ap).(*api.Peer)
		cp.GracefulRestart.LocalRestarting = true
		ap = cp
	}
	s.evMu.Lock()
	if _, ok := s.events[a]; !ok {
		s.events[a] = &peerEvent{state: "idle", since: time.Now()}
	}
	s.evMu.Unlock()
	if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: ap}); err != nil {
		return fmt.Errorf("bgp peer %s: add: %w", a, err)
	}
	return nil
}

// stopServer stops the running server; s.mu held. graceful: peers with
// graceful restart get no NOTIFICATION (GoBGP's StopBgp with
// AllowGracefulRestart just closes their TCP connections).
func (s *Speaker) stopServer(graceful bool) {
	if s.srv == nil {
		return
	}
	s.cancel()
	if graceful {
		if err := s.srv.StopBgp(context.Background(), &api.StopBgpRequest{AllowGracefulRestart: true}); err != nil {
			s.log.Warn("bgp: graceful stop", "err", err)
		}
	}
	// Stop also ends the BFD goroutine that NewBgpServer started; after a
	// graceful StopBgp its own StopBgp fails ("not running"), which the
	// gobgpHandler keeps out of the log.
	s.srv.Stop()
	<-s.served
	s.srv = nil
}

// peerEvent records a GoBGP peer event and calls onChange on a state change.
func (s *Speaker) peerEvent(ev *apiutil.WatchEventMessage_PeerEvent, t time.Time) {
	if ev == nil || (ev.Type != apiutil.PEER_EVENT_STATE && ev.Type != apiutil.PEER_EVENT_INIT) {
		return
	}
	a := ev.Peer.State.NeighborAddress.Unmap()
	if !a.IsValid() {
		a = ev.Peer.Conf.NeighborAddress.Unmap()
	}
	st := fsmStateName(ev.Peer.State.SessionState)
	changed := false
	s.evMu.Lock()
	e, ok := s.events[a]
	if !ok {
		// Not (or no longer) configured.
		s.evMu.Unlock()
		return
	}
	if e.state != st {
		if e.state == "established" || st == "idle" {
			if msg := ev.Peer.State.DisconnectMessage; msg != "" {
				e.lastErr = msg
			}
		}
		e.state, e.since = st, t
		changed = true
	}
	s.evMu.Unlock()
	if changed && ev.Type == apiutil.PEER_EVENT_STATE {
		s.log.Info("bgp peer state", "peer", a, "state", st, "reason", ev.Peer.State.DisconnectMessage)
		s.onChange()
		if st == "idle" {
			go s.renewBFDPeer(a)
		}
	}
}

// renewBFDPeer deletes peer a and adds it again, when it runs BFD and its
// session is down. GoBGP 4.8's BFD resets the session of a peer whose BFD
// session expires even when that BGP session is already down: the reset
// stays queued and kills the next session the moment it is established,
// and against a router that recreates its BFD session when BGP goes down
// (bird) this repeats forever (osrg/gobgp#3561, fixed in GoBGP 4.9.0). A
// new peer has a new FSM, with no queued reset, and a new BFD session.
func (s *Speaker) renewBFDPeer(a netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.srv == nil {
		return
	}
	ap, ok := s.cfg.peers[a]
	if !ok || !ap.GetBfd().GetEnabled() {
		return
	}
	s.evMu.Lock()
	e := s.events[a]
	down := e != nil && e.state == "idle"
	s.evMu.Unlock()
	if !down {
		return
	}
	ctx := context.Background()
	if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
		s.log.Warn("bgp: renew BFD peer", "peer", a, "err", err)
		return
	}
	if err := s.addPeer(ctx, s.cfg, a, false); err != nil {
		s.log.Warn("bgp: renew BFD peer", "peer", a, "err", err)
	}
}

func fsmStateName(st bgp.FSMState) string {
	switch st {
	case bgp.BGP_FSM_CONNECT:
		return "connect"
	case bgp.BGP_FSM_ACTIVE:
		return "active"
	case bgp.BGP_FSM_OPENSENT:
		return "opensent"
	case bgp.BGP_FSM_OPENCONFIRM:
		return "openconfirm"
	case bgp.BGP_FSM_ESTABLISHED:
		return "established"
	}
	return "idle"
}

func apiStateName(st api.PeerState_SessionState) string {
	switch st {
	case api.PeerState_SESSION_STATE_CONNECT:
		return "connect"
	case api.PeerState_SESSION_STATE_ACTIVE:
		return "active"
	case api.PeerState_SESSION_STATE_OPENSENT:
		return "opensent"
	case api.PeerState_SESSION_STATE_OPENCONFIRM:
		return "openconfirm"
	case api.PeerState_SESSION_STATE_ESTABLISHED:
		return "established"
	}
	return "idle"
}

// Reconfigure applies cfg: removed peers are deleted (their session ends
// with a Cease NOTIFICATION, so the router drops our routes from it), new
// peers are added, and a peer whose settings changed is deleted and added
// again (its session restarts). Changed communities or MED re-announce
// every path (an implicit replace, no withdrawal). A change of LocalAS,
// RouterID or ListenPort restarts the whole GoBGP server: gracefully for
// peers with graceful restart (no NOTIFICATION; the router keeps our
// routes stale until the new session re-announces them), with a
// NOTIFICATION (the router drops our routes at once) for the others.
// cfg.Restarting is ignored. On a validation error nothing changes.
func (s *Speaker) Reconfigure(cfg Config) error {
	c, err := compile(cfg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	old := s.cfg
	ctx := context.Background()
	if s.srv == nil || old.cfg.LocalAS != c.cfg.LocalAS || old.cfg.RouterID != c.cfg.RouterID || listenPort(old.cfg) != listenPort(c.cfg) {
		s.log.Info("bgp: AS, router id or listen port changed: restarting the BGP server")
		s.stopServer(true)
		return s.startServer(ctx, c, true)
	}
	oldPeers := map[netip.Addr]Peer{}
	for _, p := range old.cfg.Peers {
		oldPeers[p.Address] = p
	}
	newPeers := map[netip.Addr]Peer{}
	for _, p := range c.cfg.Peers {
		newPeers[p.Address] = p
	}
	var errs []error
	for _, a := range sortedAddrs(oldPeers) {
		if np, ok := newPeers[a]; ok && samePeer(np, oldPeers[a]) {
			continue
		}
		if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: a.String()}); err != nil {
			errs = append(errs, fmt.Errorf("bgp peer %s: delete: %w", a, err))
		}
		if _, ok := newPeers[a]; !ok {
			s.evMu.Lock()
			delete(s.events, a)
			s.evMu.Unlock()
		}
	}
	for _, a := range sortedAddrs(newPeers) {
		if op, ok := oldPeers[a]; ok && samePeer(op, newPeers[a]) {
			continue
		}
		s.evMu.Lock()
		delete(s.events, a)
		s.evMu.Unlock()
		if err := s.addPeer(ctx, c, a, false); err != nil {
			errs = append(errs, err)
		}
	}
	medChanged := (old.cfg.MED == nil) != (c.cfg.MED == nil) || old.cfg.MED != nil && *old.cfg.MED != *c.cfg.MED
	s.cfg = c
	if medChanged || !slices.Equal(old.communities, c.communities) {
		if err := s.addPaths(slices.Collect(maps.Keys(s.announced))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// path builds our path for prefix p (unspecified next hop: next-hop self).
func (s *Speaker) path(p netip.Prefix, withdraw bool) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(p)
	if err != nil {
		return nil, fmt.Errorf("bgp prefix %s: %w", p, err)
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(bgp.BGP_ORIGIN_ATTR_TYPE_IGP)}
	family := bgp.RF_IPv4_UC
	if p.Addr().Is4() {
		nh, err := bgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, fmt.Errorf("bgp prefix %s: %w", p, err)
		}
		attrs = append(attrs, nh)
	} else {
		family = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, fmt.Errorf("bgp prefix %s: %w", p, err)
		}
		attrs = append(attrs, mp)
	}
	if len(s.cfg.communities) > 0 {
		attrs = append(attrs, bgp.NewPathAttributeCommunities(slices.Clone(s.cfg.communities)))
	}
	if s.cfg.cfg.MED != nil {
		attrs = append(attrs, bgp.NewPathAttributeMultiExitDisc(*s.cfg.cfg.MED))
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: attrs, Age: time.Now().Unix(), Withdrawal: withdraw}, nil
}

// addPaths (re)originates ps; s.mu held.
func (s *Speaker) addPaths(ps []netip.Prefix) error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortFunc(ps, comparePrefix)
	paths := make([]*apiutil.Path, 0, len(ps))
	for _, p := range ps {
		ap, err := s.path(p, false)
		if err != nil {
			return err
		}
		paths = append(paths, ap)
	}
	resp, err := s.srv.AddPath(apiutil.AddPathRequest{Paths: paths})
	if err != nil {
		var errs []error
		for i, r := range resp {
			if r.Error != nil && i < len(ps) {
				errs = append(errs, fmt.Errorf("bgp: announce %s: %w", ps[i], r.Error))
			}
		}
		if len(errs) == 0 {
			errs = append(errs, fmt.Errorf("bgp: announce %v: %w", ps, err))
		}
		return errors.Join(errs...)
	}
	return nil
}

// deletePaths withdraws ps; s.mu held.
func (s *Speaker) deletePaths(ps []netip.Prefix) error {
	if len(ps) == 0 {
		return nil
	}
	slices.SortFunc(ps, comparePrefix)
	paths := make([]*apiutil.Path, 0, len(ps))
	for _, p := range ps {
		ap, err := s.path(p, true)
		if err != nil {
			return err
		}
		paths = append(paths, ap)
	}
	if err := s.srv.DeletePath(apiutil.DeletePathRequest{Paths: paths}); err != nil {
		return fmt.Errorf("bgp: withdraw %v: %w", ps, err)
	}
	return nil
}

func comparePrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// Announce makes prefixes the set of announced paths: it originates the
// missing ones and withdraws the others (idempotent). Prefixes are masked;
// an IPv4 prefix goes in IPv4 unicast, an IPv6 one in IPv6 unicast, each
// to every peer that negotiated the family. On an invalid prefix nothing
// changes.
func (s *Speaker) Announce(prefixes []netip.Prefix) error {
	want := make(map[netip.Prefix]struct{}, len(prefixes))
	for _, p := range prefixes {
		if !p.IsValid() {
			return fmt.Errorf("bgp: announce: invalid prefix %q", p.String())
		}
		if p.Addr().Zone() != "" {
			return fmt.Errorf("bgp: announce %s: prefix has a zone", p)
		}
		want[p.Masked()] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	var add, del []netip.Prefix
	for p := range want {
		if _, ok := s.announced[p]; !ok {
			add = append(add, p)
		}
	}
	for p := range s.announced {
		if _, ok := want[p]; !ok {
			del = append(del, p)
		}
	}
	var errs []error
	if err := s.deletePaths(del); err != nil {
		errs = append(errs, err)
	} else {
		for _, p := range del {
			delete(s.announced, p)
		}
	}
	if err := s.addPaths(add); err != nil {
		errs = append(errs, err)
	} else {
		for _, p := range add {
			s.announced[p] = struct{}{}
		}
	}
	return errors.Join(errs...)
}

// Announced returns the announced prefixes, sorted.
func (s *Speaker) Announced() []netip.Prefix {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.SortedFunc(maps.Keys(s.announced), comparePrefix)
}

// listPeers returns GoBGP's view of the peers (with advertised counts).
func listPeers(srv *server.BgpServer) ([]*api.Peer, error) {
	var out []*api.Peer
	err := srv.ListPeer(context.Background(), &api.ListPeerRequest{EnableAdvertised: true}, func(p *api.Peer) {
		out = append(out, p)
	})
	return out, err
}

// Peers reports every configured peer, sorted by address. After Stop it
// returns nil.
func (s *Speaker) Peers() []PeerState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.srv == nil {
		return nil
	}
	list, err := listPeers(s.srv)
	if err != nil {
		s.log.Warn("bgp: list peers", "err", err)
	}
	byAddr := map[netip.Addr]*api.Peer{}
	for _, p := range list {
		if p.Conf == nil {
			continue
		}
		if a, err := netip.ParseAddr(p.Conf.NeighborAddress); err == nil {
			byAddr[a.Unmap()] = p
		}
	}
	s.evMu.Lock()
	defer s.evMu.Unlock()
	out := make([]PeerState, 0, len(s.cfg.cfg.Peers))
	for _, cp := range s.cfg.cfg.Peers {
		ps := PeerState{Address: cp.Address, AS: cp.AS, State: "idle"}
		if e, ok := s.events[cp.Address]; ok {
			ps.State, ps.Since, ps.LastError = e.state, e.since, e.lastErr
		}
		if p, ok := byAddr[cp.Address]; ok && p.State != nil {
			ps.State = apiStateName(p.State.SessionState)
			for _, af := range p.AfiSafis {
				if af.State != nil {
					ps.Announced += int(af.State.Advertised)
				}
			}
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b PeerState) int { return a.Address.Compare(b.Address) })
	return out
}

// sentState is what WithdrawAll waits on for one established peer.
type sentState struct {
	updates  uint64 // UPDATE messages written before the withdrawal
	families uint64 // families with advertised paths: ≥ 1 UPDATE each
}

// WithdrawAll withdraws every announced path (Announced becomes empty) and
// waits, bounded by ctx, until each peer that was established and had
// paths from us has written the withdrawals: GoBGP's count of UPDATE
// messages written to its socket has grown by at least one per address
// family that had paths (withdrawals of up to ~1000 /32s fit in one
// UPDATE per family) and its Adj-RIB-Out is empty. A peer whose session
// goes down meanwhile counts as done (the router drops our routes with
// it, unless it is keeping them stale for graceful restart). It cannot
// know when the router has processed them. On timeout the error names
// the peers still pending; the paths are withdrawn either way.
func (s *Speaker) WithdrawAll(ctx context.Context) error {
	s.mu.Lock()
	if err := s.usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	srv := s.srv
	before, err := sentSnapshot(srv)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("bgp: withdraw all: %w", err)
	}
	err = s.deletePaths(slices.Collect(maps.Keys(s.announced)))
	if err == nil {
		clear(s.announced)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return waitSent(ctx, srv, before)
}

// sentSnapshot records, for each established peer with advertised paths,
// its UPDATE count and the families with paths.
func sentSnapshot(srv *server.BgpServer) (map[string]sentState, error) {
	list, err := listPeers(srv)
	if err != nil {
		return nil, err
	}
	out := map[string]sentState{}
	for _, p := range list {
		if p.Conf == nil || p.State == nil || p.State.SessionState != api.PeerState_SESSION_STATE_ESTABLISHED {
			continue
		}
		var st sentState
		for _, af := range p.AfiSafis {
			if af.State != nil && af.State.Advertised > 0 {
				st.families++
			}
		}
		if st.families == 0 {
			continue
		}
		if m := p.State.Messages; m != nil && m.Sent != nil {
			st.updates = m.Sent.Update
		}
		out[p.Conf.NeighborAddress] = st
	}
	return out, nil
}

// waitSent polls until every peer of before has written its withdrawals.
func waitSent(ctx context.Context, srv *server.BgpServer, before map[string]sentState) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		list, err := listPeers(srv)
		if err != nil {
			return fmt.Errorf("bgp: withdraw all: %w", err)
		}
		pending := []string{}
		for _, p := range list {
			if p.Conf == nil || p.State == nil {
				continue
			}
			b, ok := before[p.Conf.NeighborAddress]
			if !ok || p.State.SessionState != api.PeerState_SESSION_STATE_ESTABLISHED {
				continue
			}
			var adv, sent uint64
			for _, af := range p.AfiSafis {
				if af.State != nil {
					adv += af.State.Advertised
				}
			}
			if m := p.State.Messages; m != nil && m.Sent != nil {
				sent = m.Sent.Update
			}
			if adv > 0 || sent < b.updates+b.families {
				pending = append(pending, p.Conf.NeighborAddress)
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			slices.Sort(pending)
			return fmt.Errorf("bgp: withdraw all: withdrawals not yet sent to peer(s) %v: %w", pending, ctx.Err())
		case <-tick.C:
		}
	}
}

// stopWithdrawBound bounds the withdrawal wait of Stop(false).
const stopWithdrawBound = 3 * time.Second

// Stop stops the speaker; it is idempotent and waits for GoBGP's
// goroutines to end.
//
// graceful (a planned restart): nothing is withdrawn; GoBGP's StopBgp with
// AllowGracefulRestart closes the TCP connection of each peer with
// graceful restart without a NOTIFICATION, so the router (as GR helper)
// keeps our routes, marked stale, for the peer's RestartTime or until the
// restarted speaker (Config.Restarting) replaces them. Peers without
// graceful restart get a Cease NOTIFICATION and drop our routes.
//
// Not graceful: the paths are withdrawn (waiting up to 3 s for the
// withdrawals to be written, as WithdrawAll), then every session is
// closed with a Cease NOTIFICATION.
func (s *Speaker) Stop(graceful bool) {
	if !graceful {
		ctx, cancel := context.WithTimeout(context.Background(), stopWithdrawBound)
		if err := s.WithdrawAll(ctx); err != nil && !errors.Is(err, ErrStopped) && !errors.Is(err, errNoServer) {
			s.log.Warn("bgp: stop", "err", err)
		}
		cancel()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.stopServer(graceful)
}

// gobgpHandler is the slog handler given to GoBGP: its level is lvl
// (Warn), and it drops the error GoBGP's Stop logs after a graceful
// StopBgp already stopped the server.
type gobgpHandler struct {
	h   slog.Handler
	lvl slog.Leveler
}

func (g *gobgpHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= g.lvl.Level() && g.h.Enabled(ctx, l)
}

func (g *gobgpHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "failed to stop BGP server" {
		return nil
	}
	return g.h.Handle(ctx, r)
}

func (g *gobgpHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &gobgpHandler{h: g.h.WithAttrs(as), lvl: g.lvl}
}

func (g *gobgpHandler) WithGroup(name string) slog.Handler {
	return &gobgpHandler{h: g.h.WithGroup(name), lvl: g.lvl}
}
