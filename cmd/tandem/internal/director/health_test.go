package director

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
)

const healthHCL = `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "web" {
  address = "203.0.113.10:80"
  quorum  = 3
  check "tcp" {
    interval = "100ms"
    rise     = 1
    fall     = 1
  }
  sorry_server { address = "192.168.100.99:80" }
  real_server "a" { address = "192.168.100.11" }
  real_server "b" {
    address = "192.168.100.12"
    weight  = 2
  }
  real_server "c" {
    address = "192.168.100.13"
    weight  = 3
    check "http" {
      port = 8080
      connect_address = "192.168.200.13"
    }
  }
  real_server "n" {
    address = "192.168.100.14"
    weight  = 0
  }
}
virtual_server "soft" {
  address    = "203.0.113.10:443"
  on_failure = "drain"
  check "tcp" {}
  real_server "a" {
    address = "192.168.100.11"
    weight  = 4
  }
  real_server "free" {
    address = "192.168.100.15"
    check "tcp" { port = 1 }
  }
}
virtual_server "dns" {
  address    = "203.0.113.10:53"
  protocol   = "udp"
  on_failure = "drain"
  check "tcp" { port = 53 }
  real_server "a" { address = "192.168.100.11" }
}
`

func parseHealthConf(t *testing.T, src string) *conf.Cluster {
	t.Helper()
	c, diags := conf.Parse([]byte(src), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return c
}

// vsNamed returns the virtual server called name.
func vsNamed(t *testing.T, c *conf.Cluster, name string) *conf.VirtualServer {
	t.Helper()
	for i := range c.VirtualServers {
		if c.VirtualServers[i].Name == name {
			return &c.VirtualServers[i]
		}
	}
	t.Fatalf("no virtual server %q", name)
	return nil
}

// checkID returns the check ID of real server rs of virtual server vs.
func checkID(t *testing.T, c *conf.Cluster, vs, rs string) healthcheck.ID {
	t.Helper()
	v := vsNamed(t, c, vs)
	for i := range v.RealServers {
		if v.RealServers[i].Name == rs {
			spec, ok := checkSpec(&v.RealServers[i])
			if !ok {
				t.Fatalf("%s/%s has no check", vs, rs)
			}
			return spec.ID()
		}
	}
	t.Fatalf("no real server %s/%s", vs, rs)
	return ""
}

// dests renders a service's destinations as "addr:port/weight", sorted.
func dests(s ipvs.Service) string {
	var out []string
	for _, d := range ipvs.Normalize(ipvs.NewTable(s))[s.Key].Destinations {
		out = append(out, d.AddrPort().String()+"/"+strconv.Itoa(d.Weight))
	}
	return strings.Join(out, " ")
}

func TestCheckSpec(t *testing.T) {
	c := parseHealthConf(t, healthHCL)
	web := vsNamed(t, c, "web")
	spec, ok := checkSpec(&web.RealServers[2])
	if !ok {
		t.Fatal("no spec for c")
	}
	if spec.Kind != healthcheck.KindHTTP || spec.Target != netip.MustParseAddrPort("192.168.200.13:8080") ||
		spec.Interval != 2*time.Second || spec.Rise != 2 || spec.Path != "/" {
		t.Errorf("spec of c = %+v", spec)
	}
	spec, _ = checkSpec(&web.RealServers[0])
	if spec.Kind != healthcheck.KindTCP || spec.Target != netip.MustParseAddrPort("192.168.100.11:80") ||
		spec.Interval != 100*time.Millisecond || spec.Rise != 1 || spec.Fall != 1 {
		t.Errorf("spec of a = %+v", spec)
	}
	if _, ok := checkSpec(&web.RealServers[3]); !ok {
		t.Error("n inherits web's check: want a spec")
	}
	refs, specIDs, users, _ := checkSpecs(c)
	// web: a, b, c, n (a, b, n: three targets of the shared tcp check, c its
	// own); soft: a (port 443), free; dns: a (port 53).
	if len(refs) != 7 {
		t.Errorf("%d specs, want 7", len(refs))
	}
	if u, _ := users.appendTo(nil, checkID(t, c, "web", "a")); len(u) != 1 {
		t.Errorf("users of web/a's check = %v", u)
	}
	if len(specIDs) != len(refs) {
		t.Fatalf("%d IDs for %d specs", len(specIDs), len(refs))
	}
	for i, rs := range refs {
		if spec, _ := checkSpec(rs); specIDs[i] != spec.ID() {
			t.Errorf("specIDs[%d] = %s, want the ID of %s's spec, %s", i, specIDs[i], rs.Name, spec.ID())
		}
	}
}

// TestCheckSpecHalfOpen checks that half_open reaches the spec and keeps a
// half-open check of a target apart from a full-connect one.
func TestCheckSpecHalfOpen(t *testing.T) {
	c := parseHealthConf(t, `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "syn" {
  address = "203.0.113.10:80"
  check "tcp" {
    half_open      = true
    source_address = "192.168.100.2"
  }
  real_server "a" { address = "192.168.100.11" }
}
virtual_server "full" {
  address = "203.0.113.10:443"
  check "tcp" {
    port           = 80
    source_address = "192.168.100.2"
  }
  real_server "a" { address = "192.168.100.11" }
}
`)
	syn, _ := checkSpec(&vsNamed(t, c, "syn").RealServers[0])
	if !syn.HalfOpen || syn.Kind != healthcheck.KindTCP || syn.Source != netip.MustParseAddr("192.168.100.2") ||
		syn.Target != netip.MustParseAddrPort("192.168.100.11:80") {
		t.Errorf("spec of syn/a = %+v, want a half-open tcp check from 192.168.100.2", syn)
	}
	full, _ := checkSpec(&vsNamed(t, c, "full").RealServers[0])
	if full.HalfOpen || full.Target != syn.Target {
		t.Errorf("spec of full/a = %+v, want a full connect to syn/a's target", full)
	}
	if refs, _, _, _ := checkSpecs(c); len(refs) != 2 {
		t.Errorf("%d specs, want 2: a half-open and a full-connect check of one target", len(refs))
	}
}

// TestCheckSpecReuse checks that reuse_connection and keepalive_requests
// reach the spec, and that a reusing check of a target is kept apart from
// one that is not.
func TestCheckSpecReuse(t *testing.T) {
	c := parseHealthConf(t, `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "kept" {
  address = "203.0.113.10:80"
  check "https" {
    reuse_connection   = true
    keepalive_requests = 100
  }
  real_server "a" { address = "192.168.100.11" }
}
virtual_server "fresh" {
  address = "203.0.113.10:8080"
  check "https" { port = 80 }
  real_server "a" { address = "192.168.100.11" }
}
`)
	kept, _ := checkSpec(&vsNamed(t, c, "kept").RealServers[0])
	fresh, _ := checkSpec(&vsNamed(t, c, "fresh").RealServers[0])
	if !kept.Reuse || kept.KeepaliveRequests != 100 || fresh.Reuse || kept.Target != fresh.Target {
		t.Errorf("specs %+v and %+v, want one reusing and one not, of one target", kept, fresh)
	}
	if kept.ID() == fresh.ID() {
		t.Errorf("one ID %s for both", kept.ID())
	}
}

// TestDesiredService runs the rules of desiredService one by one.
func TestDesiredService(t *testing.T) {
	c := parseHealthConf(t, healthHCL)
	id := func(vs, rs string) healthcheck.ID { return checkID(t, c, vs, rs) }
	web := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	soft := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:443"))
	dns := ipvs.VirtualService(ipvs.UDP, netip.MustParseAddrPort("203.0.113.10:53"))
	a := netip.MustParseAddr
	prev := func(k ipvs.ServiceKey, ds ...ipvs.Destination) ipvs.Table {
		return ipvs.NewTable(ipvs.Service{Key: k, Destinations: ds})
	}
	dst := func(addr string, port uint16, w int) ipvs.Destination {
		return ipvs.Destination{Addr: a(addr), Port: port, Weight: w}
	}
	allUp := map[healthcheck.ID]bool{
		id("web", "a"): true, id("web", "b"): true, id("web", "c"): true, id("web", "n"): true,
	}
	for _, tc := range []struct {
		name      string
		vs        string
		up        map[healthcheck.ID]bool
		prev      ipvs.Table
		want      string
		healthy   uint64
		quorumUp  bool
		sorry     bool
		rsStates  string
		checkWant func(t *testing.T, sh ServiceHealth)
	}{
		{
			name: "all up: configured weights, sorry out", vs: "web", up: allUp,
			want:    "192.168.100.11:80/1 192.168.100.12:80/2 192.168.100.13:80/3 192.168.100.14:80/0",
			healthy: 6, quorumUp: true, rsStates: "up up up up",
		},
		{
			name: "fresh start: unknown and not in the kernel, so absent; sorry in", vs: "web",
			want:    "192.168.100.99:80/1",
			healthy: 0, sorry: true, rsStates: "unknown unknown unknown unknown",
		},
		{
			name: "start over a table: unknown but in the kernel, adopted", vs: "web",
			prev:    prev(web, dst("192.168.100.11", 80, 1), dst("192.168.100.13", 80, 3)),
			want:    "192.168.100.11:80/1 192.168.100.13:80/3",
			healthy: 4, quorumUp: true, rsStates: "unknown unknown unknown unknown",
		},
		{
			name: "adopted at weight 0 (drained before the restart) stays drained", vs: "web",
			prev:    prev(web, dst("192.168.100.11", 80, 0), dst("192.168.100.13", 80, 3)),
			want:    "192.168.100.11:80/0 192.168.100.13:80/3",
			healthy: 3, quorumUp: true, rsStates: "unknown unknown unknown unknown",
		},
		{
			name: "down in remove mode: out; quorum lost below 3", vs: "web",
			up:      map[healthcheck.ID]bool{id("web", "a"): true, id("web", "b"): true, id("web", "c"): false},
			want:    "192.168.100.11:80/1 192.168.100.12:80/2",
			healthy: 3, quorumUp: true, rsStates: "up up down unknown",
		},
		{
			name: "quorum: healthy weight 2 < 3 is down, sorry stays out", vs: "web",
			up:      map[healthcheck.ID]bool{id("web", "a"): false, id("web", "b"): true, id("web", "c"): false},
			want:    "192.168.100.12:80/2",
			healthy: 2, rsStates: "down up down unknown",
		},
		{
			name: "all down: sorry in", vs: "web",
			up:      map[healthcheck.ID]bool{id("web", "a"): false, id("web", "b"): false, id("web", "c"): false, id("web", "n"): true},
			prev:    prev(web, dst("192.168.100.11", 80, 1)),
			want:    "192.168.100.14:80/0 192.168.100.99:80/1",
			healthy: 0, sorry: true, rsStates: "down down down up",
		},
		{
			name: "one back: sorry out", vs: "web",
			up:      map[healthcheck.ID]bool{id("web", "a"): true, id("web", "b"): false, id("web", "c"): false},
			prev:    prev(web, dst("192.168.100.99", 80, 1)),
			want:    "192.168.100.11:80/1",
			healthy: 1, rsStates: "up down down unknown",
		},
		{
			name: "drain mode: down stays with weight 0, unchecked always in", vs: "soft",
			up:      map[healthcheck.ID]bool{id("soft", "a"): false, id("soft", "free"): true},
			want:    "192.168.100.11:443/0 192.168.100.15:443/1",
			healthy: 1, quorumUp: true, rsStates: "down up",
		},
		{
			// .20 was drained before; .21 is removed while in service: the
			// service drains on failure, so on removal too.
			name: "removed from the file in a drain service: stays or goes to weight 0 (TCP)", vs: "soft",
			up:      map[healthcheck.ID]bool{id("soft", "a"): true, id("soft", "free"): true},
			prev:    prev(soft, dst("192.168.100.11", 443, 4), dst("192.168.100.20", 443, 0), dst("192.168.100.21", 443, 5)),
			want:    "192.168.100.11:443/4 192.168.100.15:443/1 192.168.100.20:443/0 192.168.100.21:443/0",
			healthy: 5, quorumUp: true, rsStates: "up up",
		},
		{
			name: "removed from the file in a service that does not drain: deleted", vs: "web",
			up:      map[healthcheck.ID]bool{id("web", "a"): true, id("web", "b"): true, id("web", "c"): true},
			prev:    prev(web, dst("192.168.100.11", 80, 1), dst("192.168.100.30", 80, 2), dst("192.168.100.99", 80, 1)),
			want:    "192.168.100.11:80/1 192.168.100.12:80/2 192.168.100.13:80/3",
			healthy: 6, quorumUp: true, rsStates: "up up up unknown",
		},
		{
			name: "drained and removed from the file: deleted at once (UDP)", vs: "dns",
			up:      map[healthcheck.ID]bool{id("dns", "a"): true},
			prev:    prev(dns, dst("192.168.100.11", 53, 1), dst("192.168.100.20", 53, 0)),
			want:    "192.168.100.11:53/1",
			healthy: 1, quorumUp: true, rsStates: "up",
		},
		{
			name: "drain mode, down at the first verdict: in at weight 0", vs: "dns",
			up:       map[healthcheck.ID]bool{id("dns", "a"): false},
			want:     "192.168.100.11:53/0",
			rsStates: "down",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, sh := desiredService(vsNamed(t, c, tc.vs), healthView{Up: tc.up, Prev: tc.prev})
			if got := dests(s); got != tc.want {
				t.Errorf("destinations\n got %s\nwant %s", got, tc.want)
			}
			if sh.HealthyWeight != tc.healthy || sh.Up != tc.quorumUp || sh.Sorry != tc.sorry {
				t.Errorf("health: weight %d up %v sorry %v; want %d %v %v", sh.HealthyWeight, sh.Up, sh.Sorry, tc.healthy, tc.quorumUp, tc.sorry)
			}
			var states []string
			for _, r := range sh.RealServers {
				states = append(states, r.State)
			}
			if got := strings.Join(states, " "); got != tc.rsStates {
				t.Errorf("real-server states %q, want %q", got, tc.rsStates)
			}
			if err := ipvs.NewTable(s).Validate(); err != nil {
				t.Errorf("invalid service: %v", err)
			}
		})
	}
}

func TestLeftovers(t *testing.T) {
	c := parseHealthConf(t, healthHCL)
	vs := vsNamed(t, c, "web")
	s := service(vs)
	s.Destinations = append(s.Destinations,
		ipvs.Destination{Addr: netip.MustParseAddr("192.168.100.99"), Port: 80, Weight: 1},
		ipvs.Destination{Addr: netip.MustParseAddr("192.168.100.50"), Port: 80})
	left := leftovers(vs, s)
	if len(left) != 1 || left[0].AddrPort().String() != "192.168.100.50:80" {
		t.Errorf("leftovers = %v, want 192.168.100.50:80 only", left)
	}
}

func TestDirectorSettingsUDP(t *testing.T) {
	c := parseHealthConf(t, healthHCL)
	if !directorSettings(c, &c.Nodes[0]).ExpireNodestConn {
		t.Error("a UDP service: want expire_nodest_conn")
	}
	c = parseHealthConf(t, readmeExampleNoVRRP)
	if directorSettings(c, &c.Nodes[0]).ExpireNodestConn {
		t.Error("TCP only: want expire_nodest_conn left alone")
	}
}

const readmeExampleNoVRRP = `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "a" { address = "192.168.100.11" }
}
`

// testDaemon is a daemon over an in-memory kernel, with the health state
// of c, as after a start (no manager: tests feed verdicts themselves).
func testDaemon(t *testing.T, c *conf.Cluster, initial ipvs.Table) (*Director, *ipvs.MemKernel, *strings.Builder) {
	t.Helper()
	k := ipvs.NewMemKernel(initial)
	var logb strings.Builder
	// NoIPVS keeps the host's director settings out of it; the table is
	// the in-memory kernel's.
	d := New(Config{Log: slog.New(slog.NewTextHandler(&logb, nil)), NoIPVS: true})
	d.rec = ipvs.NewReconciler(k)
	t.Cleanup(func() { d.rec.Close() })
	d.setConfig(c, &c.Nodes[0])
	if err := d.apply(context.Background(), d.desiredFrom(c, initial), true); err != nil {
		t.Fatal(err)
	}
	d.setChecks(c) // no manager: the tests give the verdicts
	return d, k, &logb
}

func kernelDests(t *testing.T, k *ipvs.MemKernel, key ipvs.ServiceKey) string {
	t.Helper()
	tb, err := k.Dump()
	if err != nil {
		t.Fatal(err)
	}
	return dests(tb[key])
}

// TestVerdictsUpdate: verdicts reach the kernel through Update (no dump),
// only the services that use the check are written, and the periodic
// resync keeps the health-aware table (no writes).
func TestVerdictsUpdate(t *testing.T) {
	c := parseHealthConf(t, healthHCL)
	web := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	initial := ipvs.NewTable(ipvs.Service{Key: web, Scheduler: "wlc", Destinations: []ipvs.Destination{
		{Addr: netip.MustParseAddr("192.168.100.11"), Port: 80, Weight: 1},
	}})
	d, k, logb := testDaemon(t, c, initial)
	ctx := context.Background()
	if got := kernelDests(t, k, web); got != "192.168.100.11:80/1" {
		t.Fatalf("after start: %s; want the adopted a only", got)
	}
	dumps := k.Dumps()
	now := time.Now()
	d.onVerdicts(ctx, []healthcheck.Verdict{
		{ID: checkID(t, c, "web", "b"), Up: true, At: now},
		{ID: checkID(t, c, "web", "c"), Up: true, At: now},
	})
	if got := kernelDests(t, k, web); got != "192.168.100.11:80/1 192.168.100.12:80/2 192.168.100.13:80/3" {
		t.Errorf("after b, c up: %s", got)
	}
	d.onVerdicts(ctx, []healthcheck.Verdict{{ID: checkID(t, c, "web", "a"), Up: false, At: now}})
	if got := kernelDests(t, k, web); got != "192.168.100.12:80/2 192.168.100.13:80/3" {
		t.Errorf("after a down: %s", got)
	}
	// A check nobody uses any more is ignored.
	d.onVerdicts(ctx, []healthcheck.Verdict{{ID: "tcp 192.0.2.1:1#gone", Up: false, At: now}})
	if k.Dumps() != dumps+2 { // the two kernelDests reads of this test
		t.Errorf("verdicts dumped the kernel: %d dumps, want none", k.Dumps()-dumps-2)
	}
	writes := len(k.Writes())
	if err := d.apply(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	if n := len(k.Writes()) - writes; n != 0 {
		t.Errorf("resync after verdicts wrote %d, want 0", n)
	}
	d.onVerdicts(ctx, []healthcheck.Verdict{
		{ID: checkID(t, c, "web", "b"), Up: false, At: now},
		{ID: checkID(t, c, "web", "c"), Up: false, At: now},
	})
	if got := kernelDests(t, k, web); got != "192.168.100.99:80/1" {
		t.Errorf("all down: %s; want the sorry server only", got)
	}
	for _, want := range []string{"virtual server down: quorum lost", "sorry server in", "ipvs updated",
		`msg="real server down" virtual_server=web real_server=c address=192.168.100.13:80`} {
		if !strings.Contains(logb.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logb)
		}
	}
	d.publish()
	st := d.Snapshot()
	if len(st.Services) != 3 || st.Services[1].Name != "web" || st.Services[1].Up || !st.Services[1].Sorry {
		t.Errorf("status services = %+v", st.Services)
	}
}

// TestGracefulDrain: a drained real server removed from the file stays at
// weight 0 until its connections end, then goes; in a UDP service it goes
// at once.
func TestGracefulDrain(t *testing.T) {
	c := parseHealthConf(t, healthHCL)
	soft := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:443"))
	dns := ipvs.VirtualService(ipvs.UDP, netip.MustParseAddrPort("203.0.113.10:53"))
	d, k, _ := testDaemon(t, c, nil)
	ctx := context.Background()
	now := time.Now()
	d.onVerdicts(ctx, []healthcheck.Verdict{
		{ID: checkID(t, c, "soft", "a"), Up: false, At: now},
		{ID: checkID(t, c, "soft", "free"), Up: true, At: now},
		{ID: checkID(t, c, "dns", "a"), Up: false, At: now},
	})
	if got := kernelDests(t, k, soft); got != "192.168.100.11:443/0 192.168.100.15:443/1" {
		t.Fatalf("soft after a down: %s", got)
	}
	if got := kernelDests(t, k, dns); got != "192.168.100.11:53/0" {
		t.Fatalf("dns after a down: %s", got)
	}
	k.SetConns(soft, netip.MustParseAddrPort("192.168.100.11:443"), ipvs.Conns{Active: 1, Inactive: 1})

	// Reload without soft/a and dns/a.
	edited := strings.Replace(healthHCL, `  real_server "a" {
    address = "192.168.100.11"
    weight  = 4
  }`, "", 1)
	edited = strings.Replace(edited, `  real_server "a" { address = "192.168.100.11" }
}
`, `  real_server "b" { address = "192.168.100.12" }
}
`, 1)
	c2 := parseHealthConf(t, edited)
	if err := d.applyPlan(ctx, d.plan(c2, &c2.Nodes[0], "t.hcl")); err != nil {
		t.Fatal(err)
	}
	if got := kernelDests(t, k, soft); got != "192.168.100.11:443/0 192.168.100.15:443/1" {
		t.Errorf("soft after the reload: %s; want a kept at weight 0", got)
	}
	if got := kernelDests(t, k, dns); got != "" {
		t.Errorf("dns after the reload: %s; want a deleted at once (UDP), b not yet checked", got)
	}
	d.pollDraining(ctx)
	if got := kernelDests(t, k, soft); !strings.Contains(got, "192.168.100.11:443/0") {
		t.Errorf("a deleted with connections left: %s", got)
	}
	k.SetConns(soft, netip.MustParseAddrPort("192.168.100.11:443"), ipvs.Conns{Active: 0, Inactive: 1})
	d.pollDraining(ctx)
	if got := kernelDests(t, k, soft); !strings.Contains(got, "192.168.100.11:443/0") {
		t.Errorf("a deleted with an inactive connection left: %s", got)
	}
	k.SetConns(soft, netip.MustParseAddrPort("192.168.100.11:443"), ipvs.Conns{})
	d.pollDraining(ctx)
	if got := kernelDests(t, k, soft); got != "192.168.100.15:443/1" {
		t.Errorf("after its connections ended: %s; want a gone", got)
	}
	if d.health.draining {
		t.Error("still polling with nothing left to drain")
	}
	// A resync does not bring it back.
	writes := len(k.Writes())
	if err := d.apply(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	if n := len(k.Writes()) - writes; n != 0 {
		t.Errorf("resync wrote %d, want 0", n)
	}
}

// TestLargeVirtualServer runs the lookups that use a set beyond 16 real
// servers (lister, lookup, the status's kernel destinations) on a
// virtual server of 40, with a sorry server and a leftover.
func TestLargeVirtualServer(t *testing.T) {
	var hcl strings.Builder
	hcl.WriteString(`
director { static_vips = ["203.0.113.10"] }
node "d1" { interfaces = ["eth0"] }
virtual_server "big" {
  address = "203.0.113.10:80"
  sorry_server { address = "192.168.200.1:80" }
`)
	for i := range 40 {
		fmt.Fprintf(&hcl, "  real_server \"r%d\" { address = \"192.168.100.%d:80\" }\n", i, i+1)
	}
	hcl.WriteString("}\n")
	c := parseHealthConf(t, hcl.String())
	vs := vsNamed(t, c, "big")
	s := service(vs)
	leftover := ipvs.Destination{Addr: netip.MustParseAddr("192.168.100.250"), Port: 80}
	sorry := ipvs.Destination{Addr: netip.MustParseAddr("192.168.200.1"), Port: 80, Weight: 1}
	withExtra := s
	withExtra.Destinations = append(slices.Clone(s.Destinations), leftover, sorry)
	left := leftovers(vs, withExtra)
	if len(left) != 1 || left[0].AddrPort() != leftover.AddrPort() {
		t.Errorf("leftovers = %v, want %v only (the sorry server is listed)", left, leftover.AddrPort())
	}

	shuffled := s
	shuffled.Destinations = slices.Clone(s.Destinations)
	slices.Reverse(shuffled.Destinations)
	if !sameDests(s, shuffled) {
		t.Error("sameDests: the same 40 in another order differ")
	}
	other := shuffled
	other.Destinations = slices.Clone(shuffled.Destinations)
	other.Destinations[7].Weight = 9
	if sameDests(s, other) {
		t.Error("sameDests: a changed weight is not seen")
	}

	var ks ipvs.ServiceStatus
	for _, d := range withExtra.Destinations {
		ks.Dests = append(ks.Dests, ipvs.DestStatus{Destination: d, Conns: ipvs.Conns{Active: 3}})
	}
	st := virtualServerStatus(vs, nil, ks, true, nil, nil)
	if n := len(st.RealServers); n != 42 {
		t.Fatalf("%d real servers in the status, want 40, the sorry server and the leftover", n)
	}
	if r := st.RealServers[5]; r.ActiveConns != 3 || r.Weight != 1 {
		t.Errorf("r5: %d active, weight %d; want 3 and 1 from the kernel", r.ActiveConns, r.Weight)
	}
	if r := st.RealServers[41]; !r.Removed || r.Address != "192.168.100.250:80" {
		t.Errorf("last entry %+v, want the leftover, removed", r)
	}
}

// TestCheckUsers checks the compact per-check users: one user in the
// map, several in a list, each virtual server once.
func TestCheckUsers(t *testing.T) {
	u := newCheckUsers(4)
	for _, a := range []struct {
		id healthcheck.ID
		vs int
	}{{"a", 0}, {"a", 0}, {"b", 0}, {"a", 2}, {"c", 3}, {"a", 2}, {"a", 5}, {"b", 6}} {
		u.add(a.id, a.vs)
	}
	for id, want := range map[healthcheck.ID][]int{"a": {0, 2, 5}, "b": {0, 6}, "c": {3}} {
		got, ok := u.appendTo([]int{-1}, id)
		if !ok || !slices.Equal(got, append([]int{-1}, want...)) {
			t.Errorf("users of %s: %v, %v; want [-1 %v]", id, got, ok, want)
		}
		if !u.has(id) {
			t.Errorf("has(%s) = false", id)
		}
	}
	if got, ok := u.appendTo(nil, "d"); ok || got != nil || u.has("d") {
		t.Errorf("users of an unknown check: %v, %v", got, ok)
	}
}
