package director

import (
	"fmt"
	"net/netip"
	"testing"
)

// TestPreferredVIPs: an IPv6 static VIP held preferred is reported when a
// virtual server on it has a DR or TUN real server, and not when it is
// deprecated, not held, IPv4, or only in front of NAT real servers.
func TestPreferredVIPs(t *testing.T) {
	c := parseHealthConf(t, `
director { static_vips = ["2001:db8::100", "2001:db8::200", "2001:db8::300", "198.51.100.80"] }
node "director" {}
virtual_server "tun6" {
  address = "[2001:db8::100]:80"
  forward = "tun"
  real_server "a" { address = "2001:db8:1::11" }
}
virtual_server "nat6" {
  address = "[2001:db8::200]:80"
  real_server "a" { address = "2001:db8:1::11" }
}
virtual_server "dr6" {
  address = "[2001:db8::300]:80"
  real_server "a" {
    address = "2001:db8::11"
    forward = "dr"
  }
}
virtual_server "dr4" {
  address = "198.51.100.80:80"
  forward = "dr"
  real_server "a" { address = "198.51.100.11" }
}
`)
	a := netip.MustParseAddr
	for _, tt := range []struct {
		held []heldAddr
		want string
	}{
		{[]heldAddr{{a("2001:db8::100"), false}, {a("2001:db8::200"), false}, {a("2001:db8::300"), false}, {a("198.51.100.80"), false}}, "[2001:db8::100 2001:db8::300]"},
		{[]heldAddr{{a("2001:db8::100"), true}, {a("2001:db8::300"), true}}, "[]"},
		{nil, "[]"},
	} {
		if got := fmt.Sprint(preferredVIPs(c, tt.held)); got != tt.want {
			t.Errorf("held %v: %s, want %s", tt.held, got, tt.want)
		}
	}
}
