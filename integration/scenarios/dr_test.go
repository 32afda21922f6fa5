package scenarios

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
	"github.com/vishvananda/netlink"
)

// routedLab is the DR and TUN network: the client sits behind a router,
// the director and (for DR) the real servers share the router's LAN, and
// (for TUN) the real servers sit on another subnet the director reaches
// only through the router. The real servers' default route is the router,
// so their answers go to the client without the director.
//
//	client 198.51.100.2 ── eth1 198.51.100.1  router
//	                       eth0 10.0.0.254 ─ br0 ─ director 10.0.0.1 (+VIP 10.0.0.100)
//	                                             └ DR:  rsN 10.0.0.1N
//	                       eth2 10.0.1.254 ─ br1 ─ TUN: rsN 10.0.1.1N
type routedLab struct {
	lan                      *lan
	client, router, director *netlab.NS
	rs                       []*netlab.NS
	rsAddr                   []string
	vip                      string
}

// vipHost is the VIP as a URL host or an ipvsadm address takes it.
func (l *routedLab) vipHost() string {
	if strings.Contains(l.vip, ":") {
		return "[" + l.vip + "]"
	}
	return l.vip
}

const drVIP = "10.0.0.100"

func newRoutedLab(t *testing.T, prefix, mode string, nrs int) *routedLab {
	return newRoutedLabPlan(t, prefix, mode, nrs, routed4)
}

// routedPlan is a routed lab's addressing: the prefixes are the client's
// link, the router's LAN (br0) and the TUN subnet (br1), each a format
// for the host part; hosts are 1 (router on the client link) and 2
// (client), 254 (router) and 1 (director) on the LANs, 1N for rsN, and vip
// is the director's VIP.
type routedPlan struct {
	client, lan0, lan1 string // fmt formats of one host number, with a %d
	bits               int
	vip                string
	forwarding         string // the router's sysctl
}

var (
	routed4 = routedPlan{client: "198.51.100.%d", lan0: "10.0.0.%d", lan1: "10.0.1.%d", bits: 24,
		vip: drVIP, forwarding: "net/ipv4/ip_forward"}
	routed6 = routedPlan{client: "2001:db8:c::%x", lan0: "2001:db8::%x", lan1: "2001:db8:1::%x", bits: 64,
		vip: "2001:db8::100", forwarding: "net/ipv6/conf/all/forwarding"}
)

// host returns host n of the network format f, with the prefix length
// when cidr is set.
func (p routedPlan) host(f string, n int, cidr bool) string {
	a := fmt.Sprintf(f, n)
	if strings.Contains(f, ":") {
		a = fmt.Sprintf(f, hexDecimal(n)) // ::11 reads as 11
	}
	if cidr {
		a += fmt.Sprintf("/%d", p.bits)
	}
	return a
}

// hexDecimal is the number whose hex digits are n's decimal ones.
func hexDecimal(n int) int {
	v, _ := strconv.ParseInt(strconv.Itoa(n), 16, 64)
	return int(v)
}

func newRoutedLabPlan(t *testing.T, prefix, mode string, nrs int, p routedPlan) *routedLab {
	t.Helper()
	l := &routedLab{lan: newLAN(t, prefix, "br0", "br1"), vip: p.vip}
	l.client = l.lan.host("client")
	l.router = l.lan.host("router")
	l.director = l.lan.host("dir")
	must(t, netlab.Veth(l.client, "eth0", l.router, "eth1"))
	must(t, l.client.Addr("eth0", p.host(p.client, 2, true)))
	must(t, l.client.DefaultRoute(p.host(p.client, 1, false)))
	must(t, l.router.Addr("eth1", p.host(p.client, 1, true)))
	l.lan.plug(l.router, "eth0", "br0", p.host(p.lan0, 254, true))
	l.lan.plug(l.router, "eth2", "br1", p.host(p.lan1, 254, true))
	must(t, l.router.Sysctl(p.forwarding, "1"))
	l.lan.plug(l.director, "eth0", "br0", p.host(p.lan0, 1, true))
	vip := p.vip + fmt.Sprintf("/%d", p.bits)
	if p.bits == 64 {
		// An IPv6 VIP deprecated (preferred_lft 0), as tandem adds its
		// VRRP VIPs: else the director's own connections, the health
		// checks included, may come from the VIP, which the real
		// servers hold too, and their answers stay there.
		must(t, l.director.AddrDeprecated("eth0", vip))
	} else {
		must(t, l.director.Addr("eth0", vip))
	}
	must(t, l.director.DefaultRoute(p.host(p.lan0, 254, false)))
	for i := 1; i <= nrs; i++ {
		rs := l.lan.host(fmt.Sprintf("rs%d", i))
		net, br := p.lan0, "br0"
		if mode == "tun" {
			net, br = p.lan1, "br1"
		}
		addr := p.host(net, 10+i, false)
		l.lan.plug(rs, "eth0", br, p.host(net, 10+i, true))
		must(t, rs.DefaultRoute(p.host(net, 254, false)))
		// Every address, the VIP included once prepared.
		serveHTTP(t, rs, ":80", fmt.Sprintf("This is real server %d", i))
		l.rs = append(l.rs, rs)
		l.rsAddr = append(l.rsAddr, addr)
	}
	return l
}

// routedConfig is the director's cluster file: one static VIP, rr over the
// real servers with forward mode, each checked over HTTP at its own
// address.
func routedConfig(mode string, rsAddrs []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
director {
  static_vips = [%q]
}

node "director" {
  interfaces = ["eth0"]
}

virtual_server "web" {
  address   = "%s:80"
  scheduler = "rr"
  forward   = %q

  check "http" {
    interval = "300ms"
    timeout  = "200ms"
    rise     = 1
    fall     = 1
  }
`, drVIP, drVIP, mode)
	for i, a := range rsAddrs {
		fmt.Fprintf(&b, "\n  real_server \"rs%d\" { address = %q }\n", i+1, a)
	}
	b.WriteString("}\n")
	return b.String()
}

// prepareRealServers runs `tandem realserver -c cfg` in each real server,
// twice (the second run must change nothing), and returns the state file
// of each for --undo.
func prepareRealServers(t *testing.T, l *routedLab, cfg, wantLine string) []string {
	t.Helper()
	var states []string
	for i, rs := range l.rs {
		state := filepath.Join(t.TempDir(), fmt.Sprintf("rs%d.json", i+1))
		out := runIn(t, rs, "/tandem", "realserver", "-c", cfg, "--state", state)
		say(t, "rs%d$ tandem realserver -c cluster.hcl\n%s", i+1, strings.TrimRight(out, "\n"))
		if !strings.Contains(out, wantLine) {
			t.Errorf("rs%d: realserver did not report %q:\n%s", i+1, wantLine, out)
		}
		if again := runIn(t, rs, "/tandem", "realserver", "-c", cfg, "--state", state); !strings.Contains(again, "nothing changed") {
			t.Errorf("rs%d: a second run changed something:\n%s", i+1, again)
		}
		states = append(states, state)
	}
	return states
}

// alternates GETs the VIP four times from the client and checks that the
// answers alternate between the two real servers.
func alternates(t *testing.T, l *routedLab) {
	t.Helper()
	alternate(t, l.client, l.vipHost())
}

// inboundOnly checks, from the director's IPVS counters (refreshed every
// 2 s), that the director forwarded the client's packets and saw none of
// the answers.
func inboundOnly(t *testing.T, l *routedLab) {
	t.Helper()
	deadline := time.Now().Add(6 * time.Second)
	for {
		conns, in, out := ipvsStats(t, l.director, l.vipHost()+":80")
		if conns >= 4 && in > 0 {
			say(t, "director$ ipvsadm -Ln --stats\n%s", strings.TrimRight(ipvsadm(t, l.director, "-Ln", "--stats"), "\n"))
			if out != 0 {
				t.Errorf("the director saw %d packets of the answers, want 0", out)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("IPVS stats: %d connections, %d packets in, %d out", conns, in, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// vipOwner checks that the router resolved the VIP to the director's MAC:
// the real servers, which hold the VIP too, kept quiet (arp_ignore).
func vipOwner(t *testing.T, l *routedLab) {
	t.Helper()
	link, err := l.director.Netlink().LinkByName("eth0")
	must(t, err)
	mac := link.Attrs().HardwareAddr
	rl, err := l.router.Netlink().LinkByName("eth0")
	must(t, err)
	neighs, err := l.router.Netlink().NeighList(rl.Attrs().Index, netlink.FAMILY_V4)
	must(t, err)
	for _, n := range neighs {
		if n.IP.Equal(net.ParseIP(drVIP)) {
			if n.HardwareAddr.String() != mac.String() {
				t.Errorf("router resolved the VIP to %s, not the director's %s", n.HardwareAddr, mac)
			}
			return
		}
	}
	t.Errorf("router has no neighbour entry for the VIP")
}

// undoRealServers runs --undo on each real server and checks that the VIP
// and the sysctls are back as before.
func undoRealServers(t *testing.T, l *routedLab, states []string, dev string) {
	t.Helper()
	for i, rs := range l.rs {
		out := runIn(t, rs, "/tandem", "realserver", "--undo", "--state", states[i])
		say(t, "rs%d$ tandem realserver --undo\n%s", i+1, strings.TrimRight(out, "\n"))
		family := netlink.FAMILY_V6
		if !strings.Contains(l.vip, ":") {
			family = netlink.FAMILY_V4
			if v, _ := rs.ReadSysctl("net/ipv4/conf/all/arp_ignore"); strings.TrimSpace(v) != "0" {
				t.Errorf("rs%d: arp_ignore %q after undo, want 0", i+1, v)
			}
		}
		link, err := rs.Netlink().LinkByName(dev)
		must(t, err)
		addrs, err := rs.Netlink().AddrList(link, family)
		must(t, err)
		for _, a := range addrs {
			if a.IP.String() == l.vip {
				t.Errorf("rs%d: VIP still on %s after undo", i+1, dev)
			}
		}
		if _, err := os.Stat(states[i]); !os.IsNotExist(err) {
			t.Errorf("rs%d: state file left after undo (%v)", i+1, err)
		}
	}
}

// TestDR: direct routing. Two real servers prepared by `tandem realserver`
// (VIP on lo, arp_ignore/arp_announce) share the director's LAN; the client
// reaches the VIP through a router. The answers alternate, come straight
// from the real servers (the director's IPVS counts no outbound packet),
// and the router learnt the VIP from the director only. The health checks
// reach the real servers at their own addresses.
func TestDR(t *testing.T) {
	vmOnly(t)
	l := newRoutedLab(t, "dr", "dr", 2)
	cfg := writeConfig(t, routedConfig("dr", l.rsAddr))
	say(t, "$ cat cluster.hcl%s", routedConfig("dr", l.rsAddr))
	states := prepareRealServers(t, l, cfg, "added "+drVIP+"/32 to lo (dr)")

	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	p.reconciled(0)
	out := waitIPVS(t, l.director, `10\.0\.0\.11:80 Route 1 .*10\.0\.0\.12:80 Route 1`, 10*time.Second, "-Ln")
	say(t, "director$ ipvsadm -Ln\n%s", strings.TrimRight(out, "\n"))
	if v, _ := l.director.ReadSysctl("net/ipv4/ip_forward"); strings.TrimSpace(v) != "0" {
		t.Errorf("director ip_forward = %q: DR needs no forwarding", v)
	}
	alternates(t, l)
	inboundOnly(t, l)
	vipOwner(t, l)
	must(t, p.stop())
	undoRealServers(t, l, states, "lo")
}
