package director

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

func TestDesiredTable(t *testing.T) {
	c, diags := conf.Parse([]byte(`
director { static_vips = ["203.0.113.10", "2001:db8::10"] }
node "d" {}
virtual_server "web" {
  address   = "203.0.113.10:80"
  scheduler = "sh"
  scheduler_flags = ["sh-fallback", "sh-port"]
  persistence {
    timeout = "600s"
    netmask = "255.255.255.0"
  }
  real_server "a" {
    address         = "192.168.100.11"
    weight          = 7
    upper_threshold = 10
    lower_threshold = 5
  }
  real_server "b" {
    address = "192.168.100.12:80"
    forward = "dr"
  }
}
virtual_server "dns" {
  address    = "[2001:db8::10]:53"
  protocol   = "udp"
  one_packet = true
  forward    = "tun"
  real_server "a" { address = "[2001:db8:1::1]:53" }
}
virtual_server "m" {
  fwmark = 3
  family = "ipv6"
  scheduler = "mh"
  scheduler_flags = ["mh-port"]
  real_server "a" { address = "2001:db8:1::2" }
}
`), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	a := netip.MustParseAddr
	want := ipvs.NewTable(
		ipvs.Service{
			Key:       ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:80")),
			Scheduler: "sh", Flags: ipvs.FlagPersistent | ipvs.FlagSched1 | ipvs.FlagSched2,
			Timeout: 600 * time.Second, Netmask: 24,
			Destinations: []ipvs.Destination{
				{Addr: a("192.168.100.11"), Port: 80, Forward: ipvs.Masq, Weight: 7, UpperThreshold: 10, LowerThreshold: 5},
				{Addr: a("192.168.100.12"), Port: 80, Forward: ipvs.Route, Weight: 1},
			},
		},
		ipvs.Service{
			Key:       ipvs.VirtualService(ipvs.UDP, netip.MustParseAddrPort("[2001:db8::10]:53")),
			Scheduler: "wlc", Flags: ipvs.FlagOnePacket,
			Destinations: []ipvs.Destination{
				{Addr: a("2001:db8:1::1"), Port: 53, Forward: ipvs.Tunnel, Weight: 1},
			},
		},
		ipvs.Service{
			Key:       ipvs.FWMarkService(ipvs.IPv6, 3),
			Scheduler: "mh", Flags: ipvs.FlagSched2,
			Destinations: []ipvs.Destination{
				{Addr: a("2001:db8:1::2"), Forward: ipvs.Masq, Weight: 1},
			},
		},
	)
	got, _ := desiredTable(c, healthView{})
	if d := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
		t.Errorf("desiredTable (-want +got):\n%s", d)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("desired table invalid: %v", err)
	}
}
