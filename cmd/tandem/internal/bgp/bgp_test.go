package bgp

import (
	"context"
	"flag"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// See child_test.go for how the sessions are set up.

const waitBound = 10 * time.Second

// TestMain runs a child (see child_test.go) when asked to, and otherwise
// raises the default -parallel (GOMAXPROCS): the tests mostly wait on
// BGP timers (GoBGP connects about 2 s after a peer is configured and
// idles 5 s after a session ends), not on the CPU.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}

// eventually polls cond every 10ms for at most waitBound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", waitBound, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s: %s", time.Since(start).Round(time.Millisecond), what)
}

func waitEstablished(t *testing.T, r *router, s *speaker, local netip.Addr) {
	t.Helper()
	eventually(t, "session "+local.String()+" established on both sides", func() bool {
		ps := s.Peers()
		return len(ps) == 1 && ps[0].State == "established" && r.established(local)
	})
}

var (
	sp2 = netip.MustParseAddr("127.0.0.2")
	sp3 = netip.MustParseAddr("127.0.0.3")
	vip = netip.MustParsePrefix("10.9.0.1/32")
)

// TestEBGPTwoSpeakersECMP: two eBGP speakers announce the same /32; the
// router has two paths, each with its speaker's address as next hop;
// Peers reports established and the count of advertised paths; a
// smaller Announce withdraws; WithdrawAll empties the router's paths for
// that speaker only.
func TestEBGPTwoSpeakersECMP(t *testing.T) {
	t.Parallel()
	r := newRouter(t, 65000, neighbor{Addr: sp2, AS: 65002}, neighbor{Addr: sp3, AS: 65003})
	s2 := startSpeaker(t, "s2", r.speakerCfg(sp2, 65002, false))
	s3 := startSpeaker(t, "s3", r.speakerCfg(sp3, 65003, false))
	vip2 := netip.MustParsePrefix("10.9.0.2/32")
	if err := s2.Announce([]netip.Prefix{vip, vip2}); err != nil {
		t.Fatal(err)
	}
	if err := s3.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, r, s2, sp2)
	waitEstablished(t, r, s3, sp3)
	if s2.changes() == 0 {
		t.Error("onChange never called")
	}
	ps := s2.Peers()[0]
	if ps.Address != netip.MustParseAddr("127.0.0.1") || ps.AS != 65000 || ps.Since.IsZero() || time.Since(ps.Since) > time.Minute {
		t.Errorf("Peers() = %+v", ps)
	}
	eventually(t, "router has 2 paths for the VIP and 1 for vip2", func() bool {
		var n1, n2 int
		for _, p := range r.paths() {
			switch p.Prefix {
			case vip:
				n1++
			case vip2:
				n2++
			}
		}
		return n1 == 2 && n2 == 1
	})
	for _, p := range r.paths() {
		if p.Nexthop != p.From {
			t.Errorf("path %v: next hop is not the speaker's address", p)
		}
		if want := []uint32{map[netip.Addr]uint32{sp2: 65002, sp3: 65003}[p.From]}; !slices.Equal(p.ASPath, want) {
			t.Errorf("path %v: AS path %v, want %v", p, p.ASPath, want)
		}
	}
	eventually(t, "Peers() reports 2 announced paths for s2", func() bool { return s2.Peers()[0].Announced == 2 })
	if got := s2.Announced(); !slices.Equal(got, []netip.Prefix{vip, vip2}) {
		t.Errorf("Announced() = %v", got)
	}

	// A smaller set withdraws the other prefix; idempotent.
	for range 2 {
		if err := s2.Announce([]netip.Prefix{vip}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "vip2 withdrawn from the router", func() bool {
		ps := r.pathsFrom(sp2)
		return len(ps) == 1 && ps[0].Prefix == vip
	})

	// WithdrawAll: s2's paths go, s3's stays; the session stays up.
	if err := s2.WithdrawAll(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if len(s2.Announced()) != 0 {
		t.Errorf("Announced() after WithdrawAll = %v", s2.Announced())
	}
	eventually(t, "router has no path from s2", func() bool { return len(r.pathsFrom(sp2)) == 0 })
	if ps := r.pathsFrom(sp3); len(ps) != 1 || ps[0].Prefix != vip {
		t.Errorf("s3's paths on the router: %v", ps)
	}
	if !r.established(sp2) {
		t.Error("WithdrawAll closed the session")
	}
	if n := s2.Peers()[0].Announced; n != 0 {
		t.Errorf("Peers() reports %d announced after WithdrawAll", n)
	}
	// WithdrawAll with nothing announced returns at once.
	if err := s2.WithdrawAll(time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestIBGPNextHopSelf: with iBGP (same AS), the next hop is still the
// speaker's own address (GoBGP sets it for locally originated paths with
// an unspecified next hop).
func TestIBGPNextHopSelf(t *testing.T) {
	t.Parallel()
	sp4, sp5 := netip.MustParseAddr("127.0.0.4"), netip.MustParseAddr("127.0.0.5")
	r := newRouter(t, 65000, neighbor{Addr: sp4, AS: 65000}, neighbor{Addr: sp5, AS: 65000})
	s4 := startSpeaker(t, "s4", r.speakerCfg(sp4, 65000, false))
	s5 := startSpeaker(t, "s5", r.speakerCfg(sp5, 65000, false))
	for _, s := range []*speaker{s4, s5} {
		if err := s.Announce([]netip.Prefix{vip}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "router has the VIP from both iBGP speakers", func() bool { return len(r.paths()) == 2 })
	for _, p := range r.paths() {
		if p.Nexthop != p.From || p.Prefix != vip {
			t.Errorf("path %v: next hop is not the speaker's address", p)
		}
		if p.LocalPref == nil || *p.LocalPref != 100 {
			t.Errorf("path %v: local pref %v", p, p.LocalPref)
		}
		if len(p.ASPath) != 0 {
			t.Errorf("path %v: AS path %v, want empty (iBGP)", p, p.ASPath)
		}
	}
}

// TestAttributesAndIPv6: communities and MED arrive; a /128 goes over the
// IPv4 session with the IPv4-mapped speaker address as next hop; a
// Reconfigure that changes communities/MED re-announces.
func TestAttributesAndIPv6(t *testing.T) {
	t.Parallel()
	sp6 := netip.MustParseAddr("127.0.0.6")
	r := newRouter(t, 65000, neighbor{Addr: sp6, AS: 65006})
	cfg := r.speakerCfg(sp6, 65006, false)
	cfg.Communities = []string{"65000:100", "no-export", "65000:100"}
	med := uint32(50)
	cfg.MED = &med
	s := startSpeaker(t, "s6", cfg)
	v6 := netip.MustParsePrefix("2001:db8::1/128")
	if err := s.Announce([]netip.Prefix{vip, v6}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "router has the /32 and the /128", func() bool { return len(r.pathsFrom(sp6)) == 2 })
	for _, p := range r.pathsFrom(sp6) {
		if !slices.Equal(p.Communities, []uint32{65000<<16 | 100, 0xFFFFFF01}) {
			t.Errorf("path %v: communities %v", p, p.Communities)
		}
		if p.MED == nil || *p.MED != 50 {
			t.Errorf("path %v: MED %v", p, p.MED)
		}
		want := sp6
		if p.Prefix == v6 {
			want = netip.AddrFrom16(sp6.As16())
		}
		if p.Nexthop != want {
			t.Errorf("path %v: next hop %s, want %s", p, p.Nexthop, want)
		}
		t.Logf("router path %v", p)
	}
	med2 := uint32(7)
	cfg.MED = &med2
	cfg.Communities = []string{"65000:200"}
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new communities and MED on the router", func() bool {
		ps := r.pathsFrom(sp6)
		for _, p := range ps {
			if p.MED == nil || *p.MED != 7 || !slices.Equal(p.Communities, []uint32{65000<<16 | 200}) {
				return false
			}
		}
		return len(ps) == 2
	})
	cfg.MED, cfg.Communities = nil, nil
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no communities nor MED on the router", func() bool {
		ps := r.pathsFrom(sp6)
		for _, p := range ps {
			if p.MED != nil || len(p.Communities) != 0 {
				return false
			}
		}
		return len(ps) == 2
	})
}

// TestStopNotGraceful: Stop(false) withdraws the paths (the router counts
// the withdrawn prefixes it received) before closing with a NOTIFICATION,
// even with graceful restart negotiated.
func TestStopNotGraceful(t *testing.T) {
	t.Parallel()
	sp7 := netip.MustParseAddr("127.0.0.7")
	r := newRouter(t, 65000, neighbor{Addr: sp7, AS: 65007, GR: true})
	cfg := r.speakerCfg(sp7, 65007, true)
	s := startSpeaker(t, "s7", cfg)
	if err := s.Announce([]netip.Prefix{vip, netip.MustParsePrefix("2001:db8::7/128")}); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, r, s, sp7)
	eventually(t, "router has both paths", func() bool { return len(r.pathsFrom(sp7)) == 2 })
	s.Stop(false)
	eventually(t, "router dropped the session and the paths", func() bool {
		return !r.established(sp7) && len(r.pathsFrom(sp7)) == 0
	})
	if n := r.neighbor(sp7); n.RecvWithdrawn < 2 || n.RecvNotification < 1 {
		t.Errorf("router received %d withdrawn prefixes and %d notifications, want ≥ 2 and ≥ 1", n.RecvWithdrawn, n.RecvNotification)
	}
	if err := s.Announce([]netip.Prefix{vip}); err == nil || err.Error() != ErrStopped.Error() {
		t.Errorf("Announce after Stop: %v", err)
	}
	if err := s.Reconfigure(cfg); err == nil || err.Error() != ErrStopped.Error() {
		t.Errorf("Reconfigure after Stop: %v", err)
	}
	if err := s.WithdrawAll(time.Second); err == nil || err.Error() != ErrStopped.Error() {
		t.Errorf("WithdrawAll after Stop: %v", err)
	}
	if ps := s.Peers(); ps != nil {
		t.Errorf("Peers after Stop: %v", ps)
	}
	s.Stop(true) // idempotent
}

// TestGracefulRestart: Stop(true) leaves the path on the router, marked
// stale (GoBGP as GR helper), without a NOTIFICATION; a new speaker
// started with Restarting replaces it without the router ever losing the
// prefix.
func TestGracefulRestart(t *testing.T) {
	t.Parallel()
	sp8 := netip.MustParseAddr("127.0.0.8")
	r := newRouter(t, 65000, neighbor{Addr: sp8, AS: 65008, GR: true})
	cfg := r.speakerCfg(sp8, 65008, true)
	s := startSpeaker(t, "s8", cfg)
	if err := s.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, r, s, sp8)
	eventually(t, "router has the path", func() bool { return len(r.pathsFrom(sp8)) == 1 })
	s.Stop(true)
	// Session state first: GoBGP's ListPath reads a path's stale flag
	// outside its lock while the session-down handling sets it (a race in
	// GoBGP's router side, not in the Speaker); the state reads down only
	// once that handling is over.
	eventually(t, "router keeps the path, stale, after the graceful stop", func() bool {
		if r.established(sp8) {
			return false
		}
		ps := r.pathsFrom(sp8)
		return len(ps) == 1 && ps[0].Stale
	})
	if n := r.neighbor(sp8).RecvNotification; n != 0 {
		t.Errorf("router received %d NOTIFICATIONs on a graceful stop", n)
	}

	// The restarted speaker (same child process, the old server stopped).
	cfg.Restarting = true
	if err := s.restart(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		ps := r.pathsFrom(sp8)
		if len(ps) != 1 {
			t.Fatalf("router's paths from the restarting speaker: %v (want the VIP, always)", ps)
		}
		if !ps[0].Stale && r.established(sp8) {
			break
		}
		if time.Since(start) > waitBound {
			t.Fatalf("path still stale after %s: %v", waitBound, ps)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s: path fresh again after the restart", time.Since(start).Round(time.Millisecond))
}

// TestMD5Password: a session with TCP MD5 comes up when both sides have
// the same key, and not with another key.
func TestMD5Password(t *testing.T) {
	t.Parallel()
	sp14, sp15 := netip.MustParseAddr("127.0.0.14"), netip.MustParseAddr("127.0.0.15")
	r := newRouter(t, 65000, neighbor{Addr: sp14, AS: 65014, Password: "s3cret"}, neighbor{Addr: sp15, AS: 65015, Password: "s3cret"})
	good := r.speakerCfg(sp14, 65014, false)
	good.Peers[0].Password = "s3cret"
	bad := r.speakerCfg(sp15, 65015, false)
	bad.Peers[0].Password = "wrong"
	s14 := startSpeaker(t, "s14", good)
	s15 := startSpeaker(t, "s15", bad)
	started := time.Now()
	if err := s14.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, r, s14, sp14)
	eventually(t, "router has the path over the MD5 session", func() bool { return len(r.pathsFrom(sp14)) == 1 })
	// s15's first attempt is at most 2 s after its start; with the key
	// mismatch the router's kernel drops its SYNs.
	time.Sleep(time.Until(started.Add(3 * time.Second)))
	if r.established(sp15) || s15.Peers()[0].State == "established" {
		t.Error("session with the wrong MD5 key established")
	}
}

// reconfigureSetup starts a router and a speaker at local with the VIP
// announced and on the router.
func reconfigureSetup(t *testing.T, local netip.Addr, as uint32) (*router, *speaker, Config) {
	t.Helper()
	r := newRouter(t, 65000, neighbor{Addr: local, AS: as})
	cfg := r.speakerCfg(local, as, false)
	s := startSpeaker(t, "s", cfg)
	if err := s.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, r, s, local)
	eventually(t, "router has the path", func() bool { return len(r.pathsFrom(local)) == 1 })
	return r, s, cfg
}

// TestReconfigureRemovePeer: removing the peer closes the session (Cease
// NOTIFICATION) and the router drops our paths; adding it back brings
// them back.
func TestReconfigureRemovePeer(t *testing.T) {
	t.Parallel()
	sp9 := netip.MustParseAddr("127.0.0.9")
	r, s, cfg := reconfigureSetup(t, sp9, 65009)
	empty := cfg
	empty.Peers = nil
	if err := s.Reconfigure(empty); err != nil {
		t.Fatal(err)
	}
	if ps := s.Peers(); len(ps) != 0 {
		t.Errorf("Peers() after removing the peer: %v", ps)
	}
	eventually(t, "router's session down and path gone", func() bool {
		return !r.established(sp9) && len(r.pathsFrom(sp9)) == 0
	})
	if n := r.neighbor(sp9).RecvNotification; n != 1 {
		t.Errorf("router received %d NOTIFICATIONs, want 1 (Cease)", n)
	}
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	waitEstablished(t, r, s, sp9)
	eventually(t, "path back on the router", func() bool { return len(r.pathsFrom(sp9)) == 1 })
}

// TestReconfigureChangedPeer: a changed peer (hold time) restarts its
// session with the new settings; the path comes back; an unchanged
// Reconfigure leaves the session alone.
func TestReconfigureChangedPeer(t *testing.T) {
	t.Parallel()
	sp11 := netip.MustParseAddr("127.0.0.11")
	r, s, cfg := reconfigureSetup(t, sp11, 65011)
	cfg.Peers[0].HoldTime = 30 * time.Second
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session re-opened with the new hold time and the path back", func() bool {
		n := r.neighbor(sp11)
		return n.State == "established" && n.NegotiatedHold == 30 && len(r.pathsFrom(sp11)) == 1
	})
	opens := r.neighbor(sp11).RecvOpen
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := r.neighbor(sp11); n.State != "established" || n.RecvOpen != opens {
		t.Errorf("an unchanged Reconfigure touched the session: %+v", n)
	}
}

// TestReconfigureRouterID: a router id change restarts the GoBGP server
// and re-announces.
func TestReconfigureRouterID(t *testing.T) {
	t.Parallel()
	sp12 := netip.MustParseAddr("127.0.0.12")
	r, s, cfg := reconfigureSetup(t, sp12, 65012)
	cfg.RouterID = netip.MustParseAddr("192.0.2.12")
	if err := s.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	eventually(t, "session up with the new router id and the path back", func() bool {
		return r.neighbor(sp12).RouterID == "192.0.2.12" && len(r.pathsFrom(sp12)) == 1
	})
	if got := s.Announced(); !slices.Equal(got, []netip.Prefix{vip}) {
		t.Errorf("Announced() = %v", got)
	}
}

// TestNoGoroutineLeak: in a child, Start, session, announce, Stop (not
// graceful, then graceful): the goroutine count comes back.
func TestNoGoroutineLeak(t *testing.T) {
	t.Parallel()
	// One address per cycle: GoBGP's router side idles 5 s after a session.
	sp10, sp13 := netip.MustParseAddr("127.0.0.10"), netip.MustParseAddr("127.0.0.13")
	r := newRouter(t, 65000, neighbor{Addr: sp10, AS: 65010, GR: true}, neighbor{Addr: sp13, AS: 65010, GR: true})
	c := spawn(t, "speaker", "leak")
	for _, cy := range []struct {
		local    netip.Addr
		graceful bool
	}{{sp10, false}, {sp13, true}} {
		cfg := r.speakerCfg(cy.local, 65010, true)
		c.mustCall(request{Op: "leak", Cfg: &cfg, Graceful: cy.graceful})
	}
}

// TestConfigErrors: bad input is rejected with the place named, never a
// panic; nothing starts (no GoBGP server in this process).
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	good := func() Config {
		return Config{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.1"), ListenPort: -1,
			Peers: []Peer{{Address: netip.MustParseAddr("192.0.2.254"), AS: 65000}}}
	}
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no AS", func(c *Config) { c.LocalAS = 0 }, "local AS"},
		{"no router id", func(c *Config) { c.RouterID = netip.Addr{} }, "router id"},
		{"v6 router id", func(c *Config) { c.RouterID = netip.MustParseAddr("2001:db8::1") }, "router id \"2001:db8::1\""},
		{"port", func(c *Config) { c.ListenPort = 70000 }, "listen port 70000"},
		{"community", func(c *Config) { c.Communities = []string{"65000:70000"} }, "community \"65000:70000\""},
		{"community word", func(c *Config) { c.Communities = []string{"nope"} }, "community \"nope\""},
		{"peer no address", func(c *Config) { c.Peers[0].Address = netip.Addr{} }, "bgp peer (no address): address missing"},
		{"peer no AS", func(c *Config) { c.Peers[0].AS = 0 }, "bgp peer 192.0.2.254: AS"},
		{"peer dup", func(c *Config) { c.Peers = append(c.Peers, c.Peers[0]) }, "192.0.2.254: listed twice"},
		{"peer family", func(c *Config) { c.Peers[0].LocalAddress = netip.MustParseAddr("2001:db8::2") }, "not in the peer's address family"},
		{"hold", func(c *Config) { c.Peers[0].HoldTime = time.Second }, "hold time 1s"},
		{"hold frac", func(c *Config) { c.Peers[0].HoldTime = 3500 * time.Millisecond }, "hold time 3.5s"},
		{"restart", func(c *Config) { c.Peers[0].RestartTime = 5000 * time.Second }, "restart time"},
		{"passive", func(c *Config) { c.Peers[0].Passive = true }, "passive"},
		{"bfd", func(c *Config) { c.Peers[0].BFDInterval = -1 }, "BFD interval"},
		{"password", func(c *Config) { c.Peers[0].Password = strings.Repeat("x", 81) }, "password"},
		{"multicast", func(c *Config) { c.Peers[0].Address = netip.MustParseAddr("224.0.0.1") }, "unicast"},
	}
	for _, tc := range cases {
		cfg := good()
		tc.mod(&cfg)
		s, err := Start(context.Background(), cfg, nil, nil)
		if err == nil {
			s.Stop(false)
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not contain %q", tc.name, err, tc.want)
		}
	}
	// The config conversion itself.
	cfg := good()
	cfg.Peers[0].BFD = true
	cfg.Peers[0].BFDInterval = 300 * time.Millisecond
	cfg.Peers[0].GracefulRestart = true
	cfg.Peers[0].HoldTime = 9 * time.Second
	c, err := compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ap := c.peers[cfg.Peers[0].Address]
	if b := ap.GetBfd(); !b.GetEnabled() || b.GetDesiredMinimumTxInterval() != 300000 || b.GetDetectionMultiplier() != 3 {
		t.Errorf("BFD config %v", b)
	}
	if g := ap.GetGracefulRestart(); !g.GetEnabled() || g.GetRestartTime() != 120 {
		t.Errorf("GR config %v", g)
	}
	if tm := ap.GetTimers().GetConfig(); tm.GetHoldTime() != 9 || tm.GetKeepaliveInterval() != 3 {
		t.Errorf("timers %v", tm)
	}
	for in, want := range map[string]uint32{"0:0": 0, "65535:65535": 0xFFFFFFFF, "65000:100": 65000<<16 | 100, "NO-EXPORT": 0xFFFFFF01, "graceful-shutdown": 0xFFFF0000} {
		if got, err := ParseCommunity(in); err != nil || got != want {
			t.Errorf("ParseCommunity(%q) = %#x, %v", in, got, err)
		}
	}
	for _, in := range []string{"", ":", "1:", ":1", "1:2:3", "-1:2", "65536:0", "a:b", " 1:2"} {
		if _, err := ParseCommunity(in); err == nil {
			t.Errorf("ParseCommunity(%q): no error", in)
		}
	}
}

// TestAnnounceErrors: invalid prefixes change nothing; a failed
// Reconfigure leaves the speaker as it was. (The only GoBGP server this
// process runs, with no peers.)
func TestAnnounceErrors(t *testing.T) {
	cfg := Config{LocalAS: 65001, RouterID: netip.MustParseAddr("192.0.2.1"), ListenPort: -1}
	s, err := Start(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop(false)
	if err := s.Announce([]netip.Prefix{vip}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]netip.Prefix{{{}}, {vip, {}}} {
		if err := s.Announce(bad); err == nil {
			t.Errorf("Announce(%v): no error", bad)
		}
	}
	if got := s.Announced(); !slices.Equal(got, []netip.Prefix{vip}) {
		t.Errorf("Announced() = %v", got)
	}
	// Masked, deduplicated.
	if err := s.Announce([]netip.Prefix{netip.MustParsePrefix("10.1.2.3/24"), netip.MustParsePrefix("10.1.2.0/24")}); err != nil {
		t.Fatal(err)
	}
	if got := s.Announced(); !slices.Equal(got, []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}) {
		t.Errorf("Announced() = %v", got)
	}
	bad := cfg
	bad.LocalAS = 0
	if err := s.Reconfigure(bad); err == nil {
		t.Error("Reconfigure with AS 0: no error")
	}
	if err := s.Announce(nil); err != nil {
		t.Fatal(err)
	}
	if len(s.Peers()) != 0 {
		t.Errorf("Peers() = %v", s.Peers())
	}
	if err := s.WithdrawAll(context.Background()); err != nil {
		t.Errorf("WithdrawAll with nothing announced: %v", err)
	}
}
