package scenarios

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	moby "github.com/moby/ipvs"

	"github.com/tandem-lb/tandem/ipvs"
)

// kindsConfig declares one service of each kind the kernel offers besides
// the seed's: UDP with one-packet scheduling, IPv6 with scheduler flags and
// direct routing, a fwmark service with DR and TUN real servers, a
// persistent service with a netmask and thresholds, and SCTP with mh.
const kindsConfig = `
director {
  static_vips = ["203.0.113.10", "2001:db8::10"]
}
node "director" {}

virtual_server "dns" {
  address    = "203.0.113.10:53"
  protocol   = "udp"
  scheduler  = "rr"
  one_packet = true
  real_server "a" { address = "192.168.100.11:53" }
  real_server "b" {
    address = "192.168.100.12:5353"
    weight  = 3
  }
}

virtual_server "web6" {
  address         = "[2001:db8::10]:443"
  scheduler       = "sh"
  scheduler_flags = ["sh-fallback", "sh-port"]
  forward         = "dr"
  real_server "a" { address = "[2001:db8:1::11]:443" }
}

virtual_server "marked" {
  fwmark    = 7
  family    = "ipv4"
  scheduler = "wrr"
  forward   = "dr"
  real_server "a" {
    address = "192.168.100.11"
    weight  = 5
  }
  real_server "t" {
    address = "192.168.100.13"
    forward = "tun"
  }
}

virtual_server "sticky" {
  address   = "203.0.113.10:3306"
  scheduler = "lc"
  persistence {
    timeout = "600s"
    netmask = "255.255.255.0"
  }
  real_server "a" {
    address         = "192.168.100.11:3306"
    upper_threshold = 100
    lower_threshold = 50
  }
}

virtual_server "sctp" {
  address         = "203.0.113.10:9000"
  protocol        = "sctp"
  scheduler       = "mh"
  scheduler_flags = ["mh-port"]
  real_server "a" { address = "192.168.100.11:9000" }
}
`

// TestServiceKinds programs one service of each kind through tandem and
// reads the kernel table back field by field (through netlink) and as
// ipvsadm prints it; a restart over that table writes nothing.
func TestServiceKinds(t *testing.T) {
	vmOnly(t)
	dir := newNS(t, "kinds-dir")
	cfg := writeConfig(t, kindsConfig)
	p := startTandem(t, dir, "run", "-c", cfg, "--node", "director")
	if w, _ := p.reconciled(0); w != 12 {
		t.Errorf("first reconcile wrote %d, want 12 (5 services, 7 destinations)", w)
	}
	must(t, p.stop())

	ap := netip.MustParseAddrPort
	a := netip.MustParseAddr
	want := ipvs.NewTable(
		ipvs.Service{
			Key:       ipvs.VirtualService(ipvs.UDP, ap("203.0.113.10:53")),
			Scheduler: "rr", Flags: ipvs.FlagOnePacket,
			Destinations: []ipvs.Destination{
				{Addr: a("192.168.100.11"), Port: 53, Forward: ipvs.Masq, Weight: 1},
				{Addr: a("192.168.100.12"), Port: 5353, Forward: ipvs.Masq, Weight: 3},
			},
		},
		ipvs.Service{
			Key:       ipvs.VirtualService(ipvs.TCP, ap("[2001:db8::10]:443")),
			Scheduler: "sh", Flags: ipvs.FlagSched1 | ipvs.FlagSched2,
			Destinations: []ipvs.Destination{
				{Addr: a("2001:db8:1::11"), Port: 443, Forward: ipvs.Route, Weight: 1},
			},
		},
		ipvs.Service{
			Key:       ipvs.FWMarkService(ipvs.IPv4, 7),
			Scheduler: "wrr",
			Destinations: []ipvs.Destination{
				{Addr: a("192.168.100.11"), Forward: ipvs.Route, Weight: 5},
				{Addr: a("192.168.100.13"), Forward: ipvs.Tunnel, Weight: 1},
			},
		},
		ipvs.Service{
			Key:       ipvs.VirtualService(ipvs.TCP, ap("203.0.113.10:3306")),
			Scheduler: "lc", Flags: ipvs.FlagPersistent, Timeout: 600 * time.Second, Netmask: 24,
			Destinations: []ipvs.Destination{
				{Addr: a("192.168.100.11"), Port: 3306, Forward: ipvs.Masq, Weight: 1, UpperThreshold: 100, LowerThreshold: 50},
			},
		},
		ipvs.Service{
			Key:       ipvs.VirtualService(ipvs.SCTP, ap("203.0.113.10:9000")),
			Scheduler: "mh", Flags: ipvs.FlagSched2,
			Destinations: []ipvs.Destination{
				{Addr: a("192.168.100.11"), Port: 9000, Forward: ipvs.Masq, Weight: 1},
			},
		},
	)

	rec, err := ipvs.Open(dir.Path())
	must(t, err)
	got, err := rec.Dump(context.Background())
	rec.Close()
	must(t, err)
	for _, k := range want.Keys() {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: not in the kernel table", k)
			continue
		}
		// Field by field, after the read-back normalisation tandem's diff
		// uses (the kernel adds its HASHED flag, for instance).
		if d := cmp.Diff(ipvs.Normalize(ipvs.NewTable(want[k]))[k], ipvs.Normalize(ipvs.NewTable(g))[k], cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Errorf("%s read back differs (-want +got):\n%s", k, d)
		}
	}
	if len(got) != len(want) {
		t.Errorf("kernel holds %d services, want %d", len(got), len(want))
	}

	mobyWitness(t, dir.Path(), want)

	out := ipvsadm(t, dir, "-Ln")
	t.Logf("ipvsadm -Ln:\n%s", out)
	for _, frag := range []string{
		"UDP  203.0.113.10:53 rr ops",
		"192.168.100.12:5353           Masq    3",
		"TCP  [2001:db8::10]:443 sh (sh-fallback,sh-port)",
		"[2001:db8:1::11]:443           Route   1",
		"FWM  7 wrr",
		"192.168.100.13:0              Tunnel  1",
		"TCP  203.0.113.10:3306 lc persistent 600 mask 255.255.255.0",
		"SCTP 203.0.113.10:9000 mh (mh-port)",
	} {
		if !strings.Contains(squash(out), squash(frag)) {
			t.Errorf("ipvsadm -Ln lacks %q", frag)
		}
	}
	th := ipvsadm(t, dir, "-Ln", "--thresholds")
	if !strings.Contains(squash(th), "100 50") {
		t.Errorf("ipvsadm -Ln --thresholds lacks upper 100 lower 50:\n%s", th)
	}

	p2 := startTandem(t, dir, "run", "-c", cfg, "--node", "director")
	if w, _ := p2.reconciled(0); w != 0 {
		t.Errorf("restart over every kind of service wrote %d, want 0", w)
	}
	must(t, p2.stop())
}

// squash collapses runs of blanks, so ipvsadm's column widths don't matter.
func squash(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mobyWitness reads the table through moby/ipvs, an independent netlink
// implementation, and checks what it reports against want.
func mobyWitness(t *testing.T, nsPath string, want ipvs.Table) {
	t.Helper()
	h, err := moby.New(nsPath)
	must(t, err)
	defer h.Close()
	svcs, err := h.GetServices()
	must(t, err)
	if len(svcs) != len(want) {
		t.Errorf("moby/ipvs sees %d services, want %d", len(svcs), len(want))
	}
	for _, s := range svcs {
		var key ipvs.ServiceKey
		if s.FWMark != 0 {
			key = ipvs.FWMarkService(ipvs.Family(s.AddressFamily), s.FWMark)
		} else {
			addr, _ := netip.AddrFromSlice(s.Address)
			key = ipvs.VirtualService(ipvs.Protocol(s.Protocol), netip.AddrPortFrom(addr.Unmap(), s.Port))
		}
		w, ok := want[key]
		if !ok {
			t.Errorf("moby/ipvs sees %s, which tandem was not asked for", key)
			continue
		}
		flags := ipvs.ServiceFlags(s.Flags) &^ ipvs.FlagHashed
		if s.SchedName != w.Scheduler || flags != w.Flags || (w.Flags&ipvs.FlagPersistent != 0 && s.Timeout != uint32(w.Timeout.Seconds())) {
			t.Errorf("moby/ipvs sees %s as %s flags %v timeout %d, want %s flags %v timeout %v",
				key, s.SchedName, flags, s.Timeout, w.Scheduler, w.Flags, w.Timeout)
		}
		dsts, err := h.GetDestinations(s)
		must(t, err)
		if len(dsts) != len(w.Destinations) {
			t.Errorf("moby/ipvs sees %d destinations of %s, want %d", len(dsts), key, len(w.Destinations))
		}
		for _, d := range dsts {
			addr, _ := netip.AddrFromSlice(d.Address)
			found := false
			for _, wd := range w.Destinations {
				if wd.Addr == addr.Unmap() && wd.Port == d.Port {
					found = true
					if ipvs.Forward(d.ConnectionFlags)&ipvs.ForwardMask != wd.Forward || d.Weight != wd.Weight ||
						d.UpperThreshold != wd.UpperThreshold || d.LowerThreshold != wd.LowerThreshold {
						t.Errorf("moby/ipvs sees %s -> %s as %+v, want %+v", key, addr, d, wd)
					}
				}
			}
			if !found {
				t.Errorf("moby/ipvs sees unexpected destination %s:%d in %s", addr, d.Port, key)
			}
		}
	}
}
