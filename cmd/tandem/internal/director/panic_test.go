package director

import (
	nip "net/netip"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
)

const panicHCL = `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "web" {
  address         = "203.0.113.10:80"
  panic_threshold = "50%"
  check "tcp" {}
  real_server "a" { address = "192.168.100.11" }
  real_server "b" {
    address = "192.168.100.12"
    weight  = 2
  }
  real_server "c" {
    address = "192.168.100.13"
    weight  = 3
  }
  real_server "d" {
    address = "192.168.100.14"
    weight  = 4
  }
}
virtual_server "sorry" {
  address         = "203.0.113.10:81"
  panic_threshold = "50%"
  check "tcp" { port = 1 }
  sorry_server { address = "192.168.100.99:80" }
  real_server "a" { address = "192.168.100.11:80" }
  real_server "b" { address = "192.168.100.12:80" }
}
`

// TestDesiredServicePanic: under panic_threshold healthy, every real
// server is in at its configured weight (overrides still apply); at or
// above it, the usual rules; a sorry server takes the case of none
// healthy.
func ap(s string) nip.AddrPort { return nip.MustParseAddrPort(s) }

func TestDesiredServicePanic(t *testing.T) {
	c := parseHealthConf(t, panicHCL)
	id := func(vs, rs string) healthcheck.ID { return checkID(t, c, vs, rs) }
	web := ipvs.VirtualService(ipvs.TCP, ap("203.0.113.10:80"))
	verdicts := func(vs string, ups ...bool) map[healthcheck.ID]bool {
		m := map[healthcheck.ID]bool{}
		for i, up := range ups {
			m[id(vs, string(rune('a'+i)))] = up
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		vs      string
		up      map[healthcheck.ID]bool
		ovr     overrides
		want    string
		panic   bool
		sorry   bool
		healthy int
	}{
		{name: "all up", vs: "web", up: verdicts("web", true, true, true, true),
			want: "192.168.100.11:80/1 192.168.100.12:80/2 192.168.100.13:80/3 192.168.100.14:80/4", healthy: 4},
		{name: "half up: at the threshold, no panic", vs: "web", up: verdicts("web", true, true, false, false),
			want: "192.168.100.11:80/1 192.168.100.12:80/2", healthy: 2},
		{name: "one of four up: panic, all in", vs: "web", up: verdicts("web", false, false, false, true),
			want: "192.168.100.11:80/1 192.168.100.12:80/2 192.168.100.13:80/3 192.168.100.14:80/4", panic: true, healthy: 1},
		{name: "none up: panic, all in", vs: "web", up: verdicts("web", false, false, false, false),
			want: "192.168.100.11:80/1 192.168.100.12:80/2 192.168.100.13:80/3 192.168.100.14:80/4", panic: true},
		{name: "panic keeps the operator's overrides", vs: "web", up: verdicts("web", false, false, false, true),
			ovr: overrides{
				rsKey{web, ap("192.168.100.11:80")}: {Mode: ModeDrain, Since: time.Unix(1, 0)},
				rsKey{web, ap("192.168.100.12:80")}: {Mode: ModeDisable, Out: true, Since: time.Unix(1, 0)},
			},
			want: "192.168.100.11:80/0 192.168.100.13:80/3 192.168.100.14:80/4", panic: true, healthy: 1},
		{name: "sorry server: none up, the sorry server rather than panic", vs: "sorry", up: verdicts("sorry", false, false),
			want: "192.168.100.99:80/1", sorry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, sh := desiredService(vsNamed(t, c, tc.vs), healthView{Up: tc.up, Overrides: tc.ovr})
			if got := dests(s); got != tc.want {
				t.Errorf("dests %s, want %s", got, tc.want)
			}
			if sh.Panic != tc.panic || sh.Sorry != tc.sorry || sh.Healthy != tc.healthy || sh.PanicThreshold != 50 {
				t.Errorf("health %+v, want panic %v, sorry %v, healthy %d, threshold 50", sh, tc.panic, tc.sorry, tc.healthy)
			}
			for i, r := range sh.RealServers {
				in := destIndex(s.Destinations, r.Addr) >= 0
				if in != (r.Weight >= 0) {
					t.Errorf("real server %d: weight %d but in the table: %v", i, r.Weight, in)
				}
			}
		})
	}
}
