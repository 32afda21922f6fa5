package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
)

const announceConf = `node "d1" {}
bgp {
  local_as  = 65010
  addresses = ["203.0.113.10", "203.0.113.11", "2001:db8::10"]
  peer "r" {
    address = "10.0.0.1"
    as      = 65000
  }
  peer "r6" {
    address = "2001:db8::1"
    as      = 65000
  }
}
virtual_server "web" {
  address   = "203.0.113.10:80"
  scheduler = "mh"
  forward   = "dr"
  real_server "a" { address = "10.0.0.21" }
}
virtual_server "tls" {
  address   = "203.0.113.10:443"
  scheduler = "mh"
  forward   = "dr"
  quorum    = 2
  real_server "a" { address = "10.0.0.21" }
  real_server "b" { address = "10.0.0.22" }
}
virtual_server "v6" {
  address   = "[2001:db8::10]:80"
  scheduler = "mh"
  forward   = "dr"
  real_server "a" { address = "2001:db8::21" }
}
`

func TestDecideAnnounce(t *testing.T) {
	c, diags := conf.Parse([]byte(announceConf), "a.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	up := func(names ...string) map[ipvs.ServiceKey]*ServiceHealth {
		m := map[ipvs.ServiceKey]*ServiceHealth{}
		for i := range c.VirtualServers {
			vs := &c.VirtualServers[i]
			sh := ServiceHealth{Name: vs.Name, Key: serviceKey(vs), Quorum: vs.Quorum, HealthyWeight: 1}
			for _, n := range names {
				if n == vs.Name {
					sh.Up, sh.HealthyWeight = true, uint64(vs.Quorum)
				}
			}
			m[sh.Key] = &sh
		}
		return m
	}
	all := up("web", "tls", "v6")
	onIface := func(a netip.Addr) bool { return true }
	tests := []struct {
		name string
		in   announceInput
		want []string // per address: "yes" or a part of the reason
	}{
		{"ready", announceInput{Programmed: true, OnInterface: onIface, Services: all},
			[]string{"yes", "no virtual_server", "yes"}},
		{"not programmed", announceInput{OnInterface: onIface, Services: all},
			[]string{"not programmed", "not programmed", "not programmed"}},
		{"draining wins", announceInput{Programmed: true, Draining: true, OnInterface: onIface, Services: all},
			[]string{"draining", "draining", "draining"}},
		{"one service below quorum withdraws its address only", announceInput{Programmed: true, OnInterface: onIface, Services: up("web", "v6")},
			[]string{`"tls" below quorum (1 of 2)`, "no virtual_server", "yes"}},
		{"address not on the interface", announceInput{Programmed: true, Services: all,
			OnInterface: func(a netip.Addr) bool { return a.Is4() }},
			[]string{"yes", "no virtual_server", "not on interface lo"}},
		{"service not in the table yet", announceInput{Programmed: true, OnInterface: onIface, Services: map[ipvs.ServiceKey]*ServiceHealth{}},
			[]string{"not in the table", "no virtual_server", "not in the table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decideAnnounce(c, tt.in)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d decisions, want %d", len(got), len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if g.Addr != c.BGP.Addresses[i] {
					t.Errorf("[%d] addr %s, want %s", i, g.Addr, c.BGP.Addresses[i])
				}
				if w == "yes" {
					if !g.Announced {
						t.Errorf("%s not announced: %s", g.Addr, g.Reason)
					}
					continue
				}
				if g.Announced || !strings.Contains(g.Reason, w) {
					t.Errorf("%s: announced %t, reason %q; want not announced, %q", g.Addr, g.Announced, g.Reason, w)
				}
			}
			var want []netip.Prefix
			for _, g := range got {
				if g.Announced {
					want = append(want, netip.PrefixFrom(g.Addr, g.Addr.BitLen()))
				}
			}
			if p := announced(got); len(p) != len(want) {
				t.Errorf("announced = %v, want %v", p, want)
			}
		})
	}
}

func TestPlacementHash(t *testing.T) {
	parse := func(src string) *conf.Cluster {
		c, diags := conf.Parse([]byte(src), "a.hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return c
	}
	base := parse(announceConf)
	h := placementHash(base)
	if len(h) != 12 {
		t.Fatalf("hash %q", h)
	}
	// Order of the real servers in the file, names and checks do not count.
	swapped := strings.Replace(announceConf, `  real_server "a" { address = "10.0.0.21" }
  real_server "b" { address = "10.0.0.22" }`, `  real_server "bee" { address = "10.0.0.22" }
  real_server "a" { address = "10.0.0.21" }`, 1)
	if swapped == announceConf {
		t.Fatal("swap changed nothing")
	}
	if got := placementHash(parse(swapped)); got != h {
		t.Errorf("file order changed the hash: %s vs %s", got, h)
	}
	for name, edit := range map[string][2]string{
		"weight":    {`real_server "b" { address = "10.0.0.22" }`, `real_server "b" {` + "\n" + `address = "10.0.0.22"` + "\n" + `weight = 2` + "\n" + `}`},
		"added":     {`real_server "b" { address = "10.0.0.22" }`, `real_server "b" { address = "10.0.0.22" }` + "\n" + `real_server "c" { address = "10.0.0.23" }`},
		"scheduler": {`address   = "203.0.113.10:80"` + "\n" + `  scheduler = "mh"`, `address   = "203.0.113.10:80"` + "\n" + `  scheduler = "sh"`},
	} {
		src := strings.Replace(announceConf, edit[0], edit[1], 1)
		if src == announceConf {
			t.Fatalf("%s: edit changed nothing", name)
		}
		if got := placementHash(parse(src)); got == h {
			t.Errorf("%s: hash unchanged", name)
		}
	}
}

func TestPlanBGP(t *testing.T) {
	parse := func(src string) *conf.Cluster {
		c, diags := conf.Parse([]byte(src), "a.hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return c
	}
	noBGP := parse(`node "d1" {}
vrrp "v" {
  vrid = 1
  interface = "eth0"
  addresses = ["192.0.2.1/24"]
}`)
	c1 := parse(announceConf)
	c2 := parse(strings.NewReplacer(
		`addresses = ["203.0.113.10", "203.0.113.11", "2001:db8::10"]`, `addresses = ["203.0.113.10", "2001:db8::10", "203.0.113.12"]`,
		"address = \"10.0.0.1\"\n    as      = 65000", "address = \"10.0.0.1\"\n    as      = 65001",
	).Replace(announceConf))
	for _, tt := range []struct {
		name     string
		old, new *conf.Cluster
		want     []string
	}{
		{"same", c1, c1, nil},
		{"added", noBGP, c1, []string{"bgp added speaker AS 65010, 3 addresses, 2 peers"}},
		{"removed", c1, noBGP, []string{"bgp removed speaker AS 65010: routes withdrawn, addresses removed from lo"}},
		{"changed", c1, c2, []string{"bgp added address 203.0.113.12", "bgp removed address 203.0.113.11 (withdrawn)",
			"bgp changed peer 10.0.0.1 AS 65001 (session restarts)"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := &Plan{}
			p.bgpChanges(tt.old, tt.new)
			var got []string
			for _, ch := range p.Changes {
				got = append(got, ch.Area+" "+ch.Kind+" "+ch.What)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestBGPTableAtStart: the real servers of a BGP address's mh service are
// in the table from the start, drained until their first verdict and
// marked to enter mh's table at their weight; a failed one is drained,
// never deleted (the kernel's list keeps its order).
func TestBGPTableAtStart(t *testing.T) {
	c, diags := conf.Parse([]byte(strings.Replace(announceConf, `  real_server "a" { address = "10.0.0.21" }
}`, `  real_server "a" {
    address = "10.0.0.21"
    weight  = 3
  }
  check "tcp" {}
}`, 1)), "a.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vs := &c.VirtualServers[0]
	s, sh := desiredService(vs, healthView{})
	if len(s.Destinations) != 1 || s.Destinations[0].Weight != 0 || s.Destinations[0].InitialWeight != 3 || sh.Up {
		t.Fatalf("unknown check: %+v, up %t; want in, weight 0, initial weight 3, down", s.Destinations, sh.Up)
	}
	id, _ := healthView{}.checkID(&vs.RealServers[0])
	s, sh = desiredService(vs, healthView{Up: map[healthcheck.ID]bool{id: true}})
	if len(s.Destinations) != 1 || s.Destinations[0].Weight != 3 || !sh.Up {
		t.Errorf("up: %+v", s.Destinations)
	}
	s, _ = desiredService(vs, healthView{Up: map[healthcheck.ID]bool{id: false}})
	if len(s.Destinations) != 1 || s.Destinations[0].Weight != 0 || s.Destinations[0].InitialWeight != 3 {
		t.Errorf("down: %+v, want drained in place", s.Destinations)
	}
}
