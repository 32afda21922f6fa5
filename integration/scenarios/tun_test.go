package scenarios

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestTUN: IP-in-IP tunnelling. The real servers sit on a subnet the
// director reaches only through the router; `tandem realserver` puts the
// VIP on tunl0, brings it up and relaxes the strict reverse-path filter
// the real servers start with (a decapsulated packet arrives on tunl0,
// its answer leaves on eth0). The director encapsulates to the real
// servers' own addresses; they answer the client directly.
func TestTUN(t *testing.T) {
	vmOnly(t)
	l := newRoutedLab(t, "tun", "tun", 2)
	for _, rs := range l.rs {
		must(t, rs.Sysctl("net/ipv4/conf/all/rp_filter", "1")) // as many distributions ship
	}
	cfg := writeConfig(t, routedConfig("tun", l.rsAddr))
	say(t, "$ cat cluster.hcl%s", routedConfig("tun", l.rsAddr))
	states := prepareRealServers(t, l, cfg, "added "+drVIP+"/32 to tunl0 (tun)")
	for i, rs := range l.rs {
		for key, want := range map[string]string{
			"net/ipv4/conf/all/rp_filter":   "2",
			"net/ipv4/conf/tunl0/rp_filter": "0",
			"net/ipv4/conf/all/arp_ignore":  "1",
		} {
			if v, _ := rs.ReadSysctl(key); strings.TrimSpace(v) != want {
				t.Errorf("rs%d: %s = %q, want %s", i+1, key, strings.TrimSpace(v), want)
			}
		}
	}

	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	p.reconciled(0)
	out := waitIPVS(t, l.director, `10\.0\.1\.11:80 Tunnel 1 .*10\.0\.1\.12:80 Tunnel 1`, 10*time.Second, "-Ln")
	say(t, "director$ ipvsadm -Ln\n%s", strings.TrimRight(out, "\n"))
	alternates(t, l)
	inboundOnly(t, l)
	must(t, p.stop())
	undoRealServers(t, l, states, "tunl0")
	for i, rs := range l.rs {
		if v, _ := rs.ReadSysctl("net/ipv4/conf/all/rp_filter"); strings.TrimSpace(v) != "1" {
			t.Errorf("rs%d: rp_filter %q after undo, want 1 restored", i+1, strings.TrimSpace(v))
		}
		link, err := rs.Netlink().LinkByName("tunl0")
		must(t, err)
		if link.Attrs().Flags&net.FlagUp != 0 {
			t.Errorf("rs%d: tunl0 still up after undo", i+1)
		}
	}
}

// TestTUN6: IPv6 tunnelling (IPv6 in IPv6), TestTUN's topology in IPv6:
// `tandem realserver` puts the VIP on ip6tnl0 and brings it up, the
// director encapsulates to the real servers' own addresses behind the
// router, and they answer the client directly.
//
//	client 2001:db8:c::2 ── router ── br0 2001:db8::/64 (director ::1, VIP ::100)
//	                          └────── br1 2001:db8:1::/64 (rs1 ::11, rs2 ::12)
func TestTUN6(t *testing.T) {
	vmOnly(t)
	vip := routed6.vip
	l := newRoutedLabPlan(t, "tun6", "tun", 2, routed6)
	cfg := fmt.Sprintf(`
director {
  static_vips = [%q]
}

node "director" {
  interfaces = ["eth0"]
}

virtual_server "web" {
  address   = "[%s]:80"
  scheduler = "rr"
  forward   = "tun"

  check "http" {
    interval = "300ms"
    timeout  = "200ms"
    rise     = 1
    fall     = 1
  }

  real_server "rs1" { address = %q }
  real_server "rs2" { address = %q }
}
`, vip, vip, l.rsAddr[0], l.rsAddr[1])
	say(t, "$ cat cluster.hcl%s", cfg)
	path := writeConfig(t, cfg)
	states := prepareRealServers(t, l, path, "added "+vip+"/128 to ip6tnl0 (tun)")

	p := startTandem(t, l.director, "run", "-c", path, "--node", "director")
	p.reconciled(0)
	out := waitIPVS(t, l.director, `\[2001:db8:1::11\]:80 +Tunnel +1 .*\[2001:db8:1::12\]:80 +Tunnel +1`, 10*time.Second, "-Ln")
	say(t, "director$ ipvsadm -Ln\n%s", strings.TrimRight(out, "\n"))
	alternates(t, l)
	inboundOnly(t, l)
	if strings.Contains(p.tail.String(), "preferred address") {
		t.Errorf("tandem warned about the deprecated static VIP:\n%s", p.tail)
	}
	must(t, p.stop())

	// The same VIP made preferred, as `ip addr add` makes it: tandem
	// warns at start (its health checks may now fail).
	link, err := l.director.Netlink().LinkByName("eth0")
	must(t, err)
	a, err := netlink.ParseAddr(vip + "/64")
	must(t, err)
	a.PreferedLft, a.ValidLft = 0xffffffff, 0xffffffff
	must(t, l.director.Netlink().AddrReplace(link, a))
	p = startTandem(t, l.director, "run", "-c", path, "--node", "director")
	line, _ := p.waitLog(`IPv6 static VIP is a preferred address.*vip=2001:db8::100`, 0, 5*time.Second)
	say(t, "with the VIP preferred, tandem says:\n%s", line)
	p.reconciled(0)
	must(t, p.stop())
	undoRealServers(t, l, states, "ip6tnl0")
}
