package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// The BGP ECMP lab: a real BGP router (bird2, from the base image's
// witnesses) in front of N active directors, each announcing the VIP; the
// router's kernel spreads the client's flows over the directors (ECMP,
// hashed on the 5-tuple), the directors forward with IPVS (DR) to four
// real servers on the same LAN.
//
//	client 198.51.100.2 ── eth1 198.51.100.1  router (bird, AS 64512)
//	                       eth0 10.0.0.254 ─ br0 ─ dN 10.0.0.N (AS 65000, VIP 192.0.2.100 on lo)
//	                                             └ rsN 10.0.0.1N (VIP on lo, arp_ignore 1,
//	                                               arp_announce 2, echo server :9000 "rsN")
//
// The VIP is outside the LAN: without a BGP route the router has none, and
// nothing on the LAN is ever asked for it by ARP.

const (
	bgpVIP        = "192.0.2.100"
	bgpPort       = 9000
	bgpRouterAddr = "10.0.0.254"
	bgpRouterAS   = 64512
	bgpDirAS      = 65000
	bgpClientAddr = "198.51.100.2"
)

// birdProc is a bird2 daemon running in a namespace (bird -f, logging to
// stderr), with its control socket for birdcl.
type birdProc struct {
	t    *testing.T
	ns   *netlab.NS
	Conf string // the generated configuration file
	Sock string // the control socket
	cmd  *exec.Cmd
	tail *netlab.LogTail
	done <-chan struct{}
}

// birdConfig is what startBird generates a configuration from.
type birdConfig struct {
	RouterID  string
	LocalAS   uint32
	HoldTime  int // seconds, 3 when 0 (the BGP minimum); keepalive a third of it
	Neighbors []bgpNeighbor
	// Kernel imports what BGP learns and installs it in the namespace's
	// FIB, equal routes merged into one multipath route (ECMP).
	Kernel bool
	// Announce are prefixes announced to every neighbor (static
	// blackhole routes exported with next hop self).
	Announce []string
	Extra    string // more configuration, verbatim
}

// bgpNeighbor is one BGP session of a bird.
type bgpNeighbor struct {
	Name    string // the protocol's name in `birdcl show protocols`; nN when empty
	Addr    string
	AS      uint32
	Passive bool   // wait for the neighbor to connect
	Extra   string // more lines inside the protocol block, verbatim
}

// birdConf renders c as a bird2 configuration. Short timers so the lab
// converges in seconds: connect delay 1 s, connect retry 1 s, and error
// wait 1–2 s (bird's default waits 60 s before accepting a session again
// after an error, which would hold back a director that rejoins).
func birdConf(c birdConfig) string {
	hold := c.HoldTime
	if hold == 0 {
		hold = 3
	}
	keep := max(hold/3, 1)
	var b strings.Builder
	fmt.Fprintf(&b, "router id %s;\nlog stderr all;\ndebug protocols { states, events };\n", c.RouterID)
	b.WriteString("protocol device { scan time 1; }\n")
	importF, exportF := "none", "none"
	if c.Kernel {
		importF = "all"
		b.WriteString("protocol kernel {\n  ipv4 { import none; export all; };\n  merge paths on;\n  scan time 1;\n}\n")
	}
	if len(c.Announce) > 0 {
		b.WriteString("protocol static announce {\n  ipv4;\n")
		for _, p := range c.Announce {
			fmt.Fprintf(&b, "  route %s blackhole;\n", p)
		}
		b.WriteString("}\n")
		exportF = `where proto = "announce"`
	}
	fmt.Fprintf(&b, `template bgp peers {
  local as %d;
  hold time %d;
  keepalive time %d;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 2;
  ipv4 { import %s; export %s; };
}
`, c.LocalAS, hold, keep, importF, exportF)
	for i, n := range c.Neighbors {
		name := n.Name
		if name == "" {
			name = fmt.Sprintf("n%d", i+1)
		}
		fmt.Fprintf(&b, "protocol bgp %s from peers {\n  neighbor %s as %d;\n", name, n.Addr, n.AS)
		if n.Passive {
			b.WriteString("  passive on;\n")
		}
		if n.Extra != "" {
			b.WriteString("  " + strings.TrimSpace(n.Extra) + "\n")
		}
		b.WriteString("}\n")
	}
	b.WriteString(c.Extra)
	return b.String()
}

// startBird writes c's configuration and starts bird in ns; the test's
// cleanup stops it (and shows its log when the test failed).
func startBird(t *testing.T, ns *netlab.NS, c birdConfig) *birdProc {
	t.Helper()
	dir, err := os.MkdirTemp("", "bird")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	b := &birdProc{t: t, ns: ns, Conf: filepath.Join(dir, "bird.conf"), Sock: filepath.Join(dir, "bird.ctl")}
	must(t, os.WriteFile(b.Conf, []byte(birdConf(c)), 0o644))
	b.start()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("bird in %s, %s:\n%s\nlog:\n%s", ns.Name, b.Conf, birdConf(c), b.tail)
		}
	})
	return b
}

// start (re)starts bird with the same configuration.
func (b *birdProc) start() {
	b.t.Helper()
	os.Remove(b.Sock)
	// nsenter execs bird: the process started is bird itself.
	b.cmd = b.ns.Command(context.Background(), "/usr/sbin/bird", "-f", "-c", b.Conf, "-s", b.Sock,
		"-P", strings.TrimSuffix(b.Sock, ".ctl")+".pid")
	stderr, err := b.cmd.StderrPipe()
	must(b.t, err)
	b.cmd.Stdout = b.cmd.Stderr
	must(b.t, b.cmd.Start())
	b.tail = netlab.Follow(stderr, b.cmd.Wait)
	b.done = b.tail.Done()
	// Ready once birdcl can talk to it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := b.birdcl("show", "status"); err == nil {
			return
		}
		select {
		case <-b.done:
			b.t.Fatalf("bird in %s exited (%v):\n%s", b.ns.Name, b.cmd.ProcessState, b.tail)
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("bird in %s: no control socket within 10s:\n%s", b.ns.Name, b.tail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// signal sends sig to bird (no-op once it has exited).
func (b *birdProc) signal(sig syscall.Signal) {
	select {
	case <-b.done:
	default:
		b.cmd.Process.Signal(sig)
	}
}

// kill sends SIGKILL and waits for bird to be gone: its TCP sessions are
// closed by the kernel (the peers see a FIN or reset at once).
func (b *birdProc) kill() {
	b.signal(syscall.SIGKILL)
	<-b.done
}

// freeze stops bird (SIGSTOP): its sessions stay open but silent, as a
// hung or cut-off box, and the peers notice only when their hold timer
// expires. thaw (SIGCONT) resumes it.
func (b *birdProc) freeze() { b.signal(syscall.SIGSTOP) }
func (b *birdProc) thaw()   { b.signal(syscall.SIGCONT) }

// stop ends bird: SIGTERM (it withdraws its routes and removes its kernel
// routes), SIGKILL after 5 s.
func (b *birdProc) stop() {
	b.signal(syscall.SIGCONT)
	b.signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
		b.kill()
	}
}

// birdcl runs one birdcl command against this bird's control socket.
func (b *birdProc) birdcl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/sbin/birdcl", append([]string{"-s", b.Sock}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("birdcl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// birdProtocol is one line of `birdcl show protocols`.
type birdProtocol struct {
	Name, Proto, Table, State string
	Info                      string // for BGP: Established, Active, Connect, Passive, ... and the last error
}

// protocols returns bird's protocols by name (`birdcl show protocols`).
func (b *birdProc) protocols() (map[string]birdProtocol, error) {
	out, err := b.birdcl("show", "protocols")
	if err != nil {
		return nil, err
	}
	return parseBirdProtocols(out), nil
}

func parseBirdProtocols(out string) map[string]birdProtocol {
	ps := map[string]birdProtocol{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// BIRD 2.0.12 ready. / Name Proto Table State Since Info
		if len(f) < 5 || f[0] == "Name" || f[0] == "BIRD" {
			continue
		}
		p := birdProtocol{Name: f[0], Proto: f[1], Table: f[2], State: f[3]}
		if len(f) > 5 {
			p.Info = strings.Join(f[5:], " ")
		}
		ps[p.Name] = p
	}
	return ps
}

// established reports whether the BGP protocol name is Established.
func (b *birdProc) established(name string) bool {
	ps, err := b.protocols()
	return err == nil && strings.HasPrefix(ps[name].Info, "Established")
}

// waitEstablished waits until every named BGP protocol is Established.
func (b *birdProc) waitEstablished(timeout time.Duration, names ...string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ps, err := b.protocols()
		ok := err == nil
		for _, n := range names {
			ok = ok && strings.HasPrefix(ps[n].Info, "Established")
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			out, _ := b.birdcl("show", "protocols")
			b.t.Fatalf("bird in %s: %v not all Established within %v (%v):\n%s", b.ns.Name, names, timeout, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fibNexthops returns the gateways of ns's main-table route to prefix (a
// CIDR): one per nexthop of a multipath route, or the single gateway,
// sorted; none when there is no route.
func fibNexthops(t *testing.T, ns *netlab.NS, prefix string) []string {
	t.Helper()
	_, dst, err := net.ParseCIDR(prefix)
	must(t, err)
	family := netlink.FAMILY_V4
	if dst.IP.To4() == nil {
		family = netlink.FAMILY_V6
	}
	routes, err := ns.Netlink().RouteListFiltered(family, &netlink.Route{Dst: dst}, netlink.RT_FILTER_DST)
	must(t, err)
	var gws []string
	for _, r := range routes {
		for _, nh := range r.MultiPath {
			if nh.Gw != nil {
				gws = append(gws, nh.Gw.String())
			}
		}
		if len(r.MultiPath) == 0 && r.Gw != nil {
			gws = append(gws, r.Gw.String())
		}
	}
	sort.Strings(gws)
	return gws
}

// waitNexthops polls ns's FIB every 10 ms until the route to prefix has n
// nexthops, and returns how long that took and the nexthops.
func waitNexthops(t *testing.T, ns *netlab.NS, prefix string, n int, timeout time.Duration) (time.Duration, []string) {
	t.Helper()
	start := time.Now()
	for {
		gws := fibNexthops(t, ns, prefix)
		if len(gws) == n {
			return time.Since(start), gws
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: the route to %s has nexthops %v after %v, want %d", ns.Name, prefix, gws, timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// bgpLab is the BGP ECMP topology (see the drawing above).
type bgpLab struct {
	lan        *lan
	Client     *netlab.NS
	Router     *netlab.NS
	Dirs       []*netlab.NS
	RS         []*netlab.NS
	ClientAddr string   // 198.51.100.2
	RouterAddr string   // the router on the LAN, 10.0.0.254: the directors' BGP peer
	RouterAS   uint32   // 64512
	DirAS      uint32   // 65000, every director's
	DirAddr    []string // 10.0.0.1, .2, .3
	RSAddr     []string // 10.0.0.11 .. .14
	VIP        string   // 192.0.2.100, on every real server's lo and (unless NoDirectorVIP) director's
	Port       int      // the real servers' echo port, 9000
	// RouterBird is the router's bird (bgpTopo): a passive session per
	// director, named d1, d2, d3, learning the VIP into the FIB as one
	// ECMP route. nil unless bgpLabOpts.Router.
	RouterBird *birdProc
}

var bgpLabs atomic.Int32 // namespace prefixes: bgp1, bgp2, ...

// bgpTopo builds the lab with directors (2 or 3) directors, four real
// servers and the router's bird waiting for the directors' sessions.
func bgpTopo(t *testing.T, directors int) *bgpLab {
	t.Helper()
	return newBGPLab(t, bgpLabOpts{Directors: directors, Router: true})
}

// bgpLabOpts shape newBGPLab's lab.
type bgpLabOpts struct {
	Directors int  // 1 to 9
	Router    bool // start the router's bird (RouterBird)
	// NoDirectorVIP leaves the VIP off the directors' lo, for a director
	// (tandem in BGP mode) that adds it itself.
	NoDirectorVIP bool
}

// newBGPLab builds the lab.
func newBGPLab(t *testing.T, o bgpLabOpts) *bgpLab {
	t.Helper()
	directors := o.Directors
	if directors < 1 || directors > 9 {
		t.Fatalf("bgp lab: %d directors, want 1 to 9 (10.0.0.1N are the real servers)", directors)
	}
	prefix := fmt.Sprintf("bgp%d", bgpLabs.Add(1))
	l := &bgpLab{lan: newLAN(t, prefix, "br0"), ClientAddr: bgpClientAddr, RouterAddr: bgpRouterAddr,
		RouterAS: bgpRouterAS, DirAS: bgpDirAS, VIP: bgpVIP, Port: bgpPort}
	l.Client = l.lan.host("client")
	l.Router = l.lan.host("router")
	must(t, netlab.Veth(l.Client, "eth0", l.Router, "eth1"))
	must(t, l.Client.Addr("eth0", bgpClientAddr+"/24"))
	must(t, l.Client.DefaultRoute("198.51.100.1"))
	must(t, l.Router.Addr("eth1", "198.51.100.1/24"))
	l.lan.plug(l.Router, "eth0", "br0", bgpRouterAddr+"/24")
	must(t, l.Router.Sysctl("net/ipv4/ip_forward", "1"))
	// ECMP on the 5-tuple (L4), not only on the addresses: one client's
	// flows spread over the directors. Policy 1 would hash, for a packet
	// that carries its socket's hash (the client's TCP socket, through a
	// veth), that hash: TCP draws a new one on every retransmission
	// timeout, so a flow that lost packets would land on a random
	// director. Policy 3 with the 5-tuple's fields (addresses, protocol,
	// ports) hashes what a real router hashes.
	must(t, l.Router.Sysctl("net/ipv4/fib_multipath_hash_fields", "0x0037"))
	must(t, l.Router.Sysctl("net/ipv4/fib_multipath_hash_policy", "3"))
	for i := 1; i <= directors; i++ {
		d := l.lan.host(fmt.Sprintf("d%d", i))
		addr := fmt.Sprintf("10.0.0.%d", i)
		l.lan.plug(d, "eth0", "br0", addr+"/24")
		must(t, d.DefaultRoute(bgpRouterAddr))
		if !o.NoDirectorVIP {
			must(t, d.Addr("lo", bgpVIP+"/32"))
		}
		l.Dirs = append(l.Dirs, d)
		l.DirAddr = append(l.DirAddr, addr)
	}
	for i := 1; i <= 4; i++ {
		rs := l.lan.host(fmt.Sprintf("rs%d", i))
		addr := fmt.Sprintf("10.0.0.%d", 10+i)
		l.lan.plug(rs, "eth0", "br0", addr+"/24")
		must(t, rs.DefaultRoute(bgpRouterAddr))
		// DR: the VIP on lo, never answered for nor announced in ARP.
		for _, kv := range [][2]string{
			{"net/ipv4/conf/all/arp_ignore", "1"}, {"net/ipv4/conf/all/arp_announce", "2"},
			{"net/ipv4/conf/eth0/arp_ignore", "1"}, {"net/ipv4/conf/eth0/arp_announce", "2"},
		} {
			must(t, rs.Sysctl(kv[0], kv[1]))
		}
		must(t, rs.Addr("lo", bgpVIP+"/32"))
		serveEcho(t, rs, fmt.Sprintf(":%d", bgpPort), fmt.Sprintf("rs%d", i))
		l.RS = append(l.RS, rs)
		l.RSAddr = append(l.RSAddr, addr)
	}
	if o.Router {
		c := birdConfig{RouterID: bgpRouterAddr, LocalAS: bgpRouterAS, Kernel: true}
		for i, a := range l.DirAddr {
			c.Neighbors = append(c.Neighbors, bgpNeighbor{Name: fmt.Sprintf("d%d", i+1), Addr: a, AS: bgpDirAS, Passive: true})
		}
		l.RouterBird = startBird(t, l.Router, c)
	}
	return l
}

// VIPAddr is the service's address, VIP:port.
func (l *bgpLab) VIPAddr() string { return net.JoinHostPort(l.VIP, strconv.Itoa(l.Port)) }

// routerNexthops returns the router's nexthops for prefix (say
// "192.0.2.100/32"): the directors its FIB spreads flows over.
func (l *bgpLab) routerNexthops(t *testing.T, prefix string) []string {
	t.Helper()
	return fibNexthops(t, l.Router, prefix)
}

// routerPeers returns the router's BGP session states by director
// (d1, d2, ...): the Info column of `birdcl show protocols`.
func (l *bgpLab) routerPeers(t *testing.T) map[string]string {
	t.Helper()
	ps, err := l.RouterBird.protocols()
	must(t, err)
	m := map[string]string{}
	for n, p := range ps {
		if p.Proto == "BGP" {
			m[n] = p.Info
		}
	}
	return m
}

// announceBird starts, on director i (0-based), a bird that announces
// the VIP/32 to the router: a stand-in for tandem's BGP mode.
func (l *bgpLab) announceBird(t *testing.T, i int) *birdProc {
	t.Helper()
	return startBird(t, l.Dirs[i], birdConfig{
		RouterID:  l.DirAddr[i],
		LocalAS:   l.DirAS,
		Neighbors: []bgpNeighbor{{Name: "uplink", Addr: l.RouterAddr, AS: l.RouterAS}},
		Announce:  []string{l.VIP + "/32"},
	})
}

// routeVIPVia points the router's route to the VIP at director i alone
// (a static route, preferred to bird's): for tests that need each
// director's answer for the same flows.
func (l *bgpLab) routeVIPVia(t *testing.T, i int) {
	t.Helper()
	_, dst, _ := net.ParseCIDR(l.VIP + "/32")
	must(t, l.Router.Netlink().RouteReplace(&netlink.Route{Dst: dst, Gw: net.ParseIP(l.DirAddr[i])}))
}

// programMH replaces director i's IPVS table with one service, VIP:port,
// scheduler mh with mh-port (the source port is hashed too), and the real
// servers rs (1-based numbers) added in that order, DR, weight 1.
func (l *bgpLab) programMH(t *testing.T, i int, rs ...int) {
	t.Helper()
	l.programMHFlags(t, i, "mh-port", rs...)
}

// programMHFlags is programMH with other scheduler flags (ipvsadm -b).
func (l *bgpLab) programMHFlags(t *testing.T, i int, flags string, rs ...int) {
	t.Helper()
	d := l.Dirs[i]
	ipvsadm(t, d, "-C")
	ipvsadm(t, d, "-A", "-t", l.VIPAddr(), "-s", "mh", "-b", flags)
	for _, n := range rs {
		l.addRS(t, i, n, 1)
	}
}

func (l *bgpLab) rsAddr(n int) string { return net.JoinHostPort(l.RSAddr[n-1], strconv.Itoa(l.Port)) }

// addRS adds real server n (1-based) to director i's service, DR, with
// weight w.
func (l *bgpLab) addRS(t *testing.T, i, n, w int) {
	t.Helper()
	ipvsadm(t, l.Dirs[i], "-a", "-t", l.VIPAddr(), "-r", l.rsAddr(n), "-g", "-w", strconv.Itoa(w))
}

// delRS deletes real server n from director i's service.
func (l *bgpLab) delRS(t *testing.T, i, n int) {
	t.Helper()
	ipvsadm(t, l.Dirs[i], "-d", "-t", l.VIPAddr(), "-r", l.rsAddr(n))
}

// weightRS sets real server n's weight on director i.
func (l *bgpLab) weightRS(t *testing.T, i, n, w int) {
	t.Helper()
	ipvsadm(t, l.Dirs[i], "-e", "-t", l.VIPAddr(), "-r", l.rsAddr(n), "-g", "-w", strconv.Itoa(w))
}

// dialFlows opens one short TCP connection to addr from ns per source
// port (from srcIP), 8 at a time: it sends a line, reads the echo server's
// answer and closes with a reset (SO_LINGER 0, so no TIME_WAIT holds the
// port). It returns, per port, the name of the real server that answered,
// and the failures.
func dialFlows(ns *netlab.NS, srcIP, addr string, ports []int) (map[int]string, []string) {
	var mu sync.Mutex
	got := map[int]string{}
	var errs []string
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				name, err := dialFlow(ns, srcIP, addr, p)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Sprintf("port %d: %v", p, err))
				} else {
					got[p] = name
				}
				mu.Unlock()
			}
		}()
	}
	for _, p := range ports {
		work <- p
	}
	close(work)
	wg.Wait()
	return got, errs
}

func dialFlow(ns *netlab.NS, srcIP, addr string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var c net.Conn
	err := ns.Do(func() (err error) {
		d := net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcIP), Port: port},
			Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				})
				if err != nil {
					return err
				}
				return serr
			},
		}
		c, err = d.DialContext(ctx, "tcp", addr)
		return
	})
	if err != nil {
		return "", err
	}
	defer func() {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := fmt.Fprintf(c, "flow %d\n", port); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[2] != strconv.Itoa(port) {
		return "", fmt.Errorf("answer %q", line)
	}
	return f[0], nil
}

// ipvsConns counts the connection entries of director i from the client
// (`ipvsadm -Lnc`).
func (l *bgpLab) ipvsConns(t *testing.T, i int) int {
	t.Helper()
	return strings.Count(ipvsadm(t, l.Dirs[i], "-Lnc"), " "+l.ClientAddr+":")
}

// TestBGPLabBird: the lab's router side before tandem speaks BGP. Two
// directors run bird themselves, each announcing the VIP/32 to the
// router's bird. The router's FIB gets one multipath route with both
// directors as nexthops, and the client's flows (fixed source ports)
// spread over both directors' IPVS (mh, DR) and reach the real servers.
// A director's bird killed (SIGKILL: its TCP session closes) takes its
// nexthop out at once; restarted, it is back; frozen (SIGSTOP: the
// session goes silent, as a hung or cut-off box) its nexthop goes when the
// router's hold timer (3 s) expires.
func TestBGPLabBird(t *testing.T) {
	vmOnly(t)
	start := time.Now()
	l := bgpTopo(t, 2)
	pfx := l.VIP + "/32"
	if gws := l.routerNexthops(t, pfx); len(gws) != 0 {
		t.Fatalf("the router routes the VIP before any announcement: %v", gws)
	}
	birds := []*birdProc{l.announceBird(t, 0), l.announceBird(t, 1)}
	l.RouterBird.waitEstablished(20*time.Second, "d1", "d2")
	took, gws := waitNexthops(t, l.Router, pfx, 2, 10*time.Second)
	say(t, "bgp-lab: router FIB %s via %v (%v after both sessions were up, %v after the lab started)",
		pfx, gws, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if !slices.Equal(gws, l.DirAddr) {
		t.Fatalf("router nexthops %v, want %v", gws, l.DirAddr)
	}
	say(t, "router$ birdcl show protocols\n%v", l.routerPeers(t))

	// The data path: ECMP → IPVS (mh, DR) on both directors → real servers.
	for i := range l.Dirs {
		l.programMH(t, i, 1, 2, 3, 4)
	}
	ports := make([]int, 40)
	for i := range ports {
		ports[i] = 15000 + i
	}
	got, errs := dialFlows(l.Client, l.ClientAddr, l.VIPAddr(), ports)
	if len(errs) > 0 {
		t.Fatalf("%d of %d flows through the ECMP route failed: %v", len(errs), len(ports), errs)
	}
	perRS := map[string]int{}
	for _, n := range got {
		perRS[n]++
	}
	c1, c2 := l.ipvsConns(t, 0), l.ipvsConns(t, 1)
	say(t, "bgp-lab: %d flows: d1 %d, d2 %d; per real server %v", len(ports), c1, c2, perRS)
	if c1+c2 != len(ports) || c1 == 0 || c2 == 0 {
		t.Errorf("the flows did not spread over both directors: d1 %d, d2 %d of %d", c1, c2, len(ports))
	}

	// SIGKILL: the session's TCP connection closes, the router withdraws
	// at once.
	birds[0].kill()
	took, gws = waitNexthops(t, l.Router, pfx, 1, 10*time.Second)
	say(t, "bgp-lab: d1's bird killed (SIGKILL): the router's FIB down to %v in %v", gws, took.Round(time.Millisecond))
	if !slices.Equal(gws, l.DirAddr[1:2]) {
		t.Errorf("after d1's bird died the router routes via %v, want %v", gws, l.DirAddr[1:2])
	}
	if l.RouterBird.established("d1") {
		t.Errorf("the router's session with d1 is still Established after d1's bird died: %v", l.routerPeers(t))
	}
	birds[0].start()
	took, _ = waitNexthops(t, l.Router, pfx, 2, 20*time.Second)
	say(t, "bgp-lab: d1's bird restarted: 2 nexthops again in %v", took.Round(time.Millisecond))

	// SIGSTOP: nothing closes; the router's hold timer (3 s) decides.
	birds[1].freeze()
	took, gws = waitNexthops(t, l.Router, pfx, 1, 15*time.Second)
	say(t, "bgp-lab: d2's bird frozen (SIGSTOP): the router's FIB down to %v in %v (hold time 3s)", gws, took.Round(time.Millisecond))
	if !slices.Equal(gws, l.DirAddr[:1]) {
		t.Errorf("after d2's bird froze the router routes via %v, want %v", gws, l.DirAddr[:1])
	}
	if took > 10*time.Second {
		t.Errorf("the hold timer (3 s) took %v to withdraw a silent peer", took)
	}
	birds[1].thaw()
	took, _ = waitNexthops(t, l.Router, pfx, 2, 20*time.Second)
	say(t, "bgp-lab: d2's bird thawed: 2 nexthops again in %v", took.Round(time.Millisecond))
	say(t, "bgp-lab: router peers %v", l.routerPeers(t))
}

// mhPhase is one comparison of TestMHOrder: both directors' tables are
// set up by d1 and d2, then the same flows (fixed source ports) are
// dialled through each.
type mhPhase struct {
	key, what string
	d1, d2    func(t *testing.T, l *bgpLab)
}

// mhStep is one change to director i's IPVS table.
type mhStep func(t *testing.T, l *bgpLab, i int)

// mhFlows is TestMHOrder's number of flows per phase: 200, or
// TANDEM_BENCH_MH_FLOWS (at most 2000) to see the small differences better.
func mhFlows(t *testing.T) int {
	n := 200
	if v := os.Getenv("TANDEM_BENCH_MH_FLOWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 2000 {
			t.Fatalf("TANDEM_BENCH_MH_FLOWS=%q: want 1 to 2000", v)
		}
	}
	return n
}

// TestMHOrder answers the question about the kernel's Maglev
// scheduler (mh, with mh-port): does the table two directors build depend
// on the order their real servers were added in, and what moves when one
// is removed, re-added, drained (weight 0) or added? The same flows (200
// fixed source ports from one client address) go through director 1 and
// then director 2 (the router's route to the VIP pointed at each in turn);
// for each phase the directors' tables are built as described and the
// flows that landed on a different real server are counted. Logged with
// the prefix "mh-order:".
//
// What Linux 6.1 does (ip_vs_mh.c, ip_vs_ctl.c): each real server's
// permutation of the 65537 slots depends only on its address and port;
// the table is filled round-robin over the destination list (newest
// first: list_add_rcu), so the order decides only the slots two servers
// reach in the same round — a fraction of a percent. A weight set to 0
// keeps the table as it is (the kernel keeps the last non-zero weight for
// mh); new flows of that server are refused, or with mh-fallback rehashed
// to the others; but a server added with weight 0 is left out of the
// table: a director that starts while a server is down must add it with
// its weight and then set 0, to build its peers' table.
func TestMHOrder(t *testing.T) {
	vmOnly(t)
	l := newBGPLab(t, bgpLabOpts{Directors: 2})
	flows := mhFlows(t)
	on := func(i int, steps ...mhStep) func(*testing.T, *bgpLab) {
		return func(t *testing.T, l *bgpLab) {
			for _, s := range steps {
				s(t, l, i)
			}
		}
	}
	order := func(rs ...int) mhStep {
		return func(t *testing.T, l *bgpLab, i int) { l.programMH(t, i, rs...) }
	}
	orderFB := func(rs ...int) mhStep { // with mh-fallback
		return func(t *testing.T, l *bgpLab, i int) { l.programMHFlags(t, i, "mh-port,mh-fallback", rs...) }
	}
	del := func(n int) mhStep {
		return func(t *testing.T, l *bgpLab, i int) { l.delRS(t, i, n) }
	}
	add := func(n, w int) mhStep {
		return func(t *testing.T, l *bgpLab, i int) { l.addRS(t, i, n, w) }
	}
	weight := func(n, w int) mhStep {
		return func(t *testing.T, l *bgpLab, i int) { l.weightRS(t, i, n, w) }
	}
	phases := []mhPhase{
		{"a", "same order 1,2,3,4 on both", on(0, order(1, 2, 3, 4)), on(1, order(1, 2, 3, 4))},
		{"b", "order 1,2,3,4 vs 4,3,2,1", on(0, order(1, 2, 3, 4)), on(1, order(4, 3, 2, 1))},
		{"b2", "order 1,2,3,4 vs 2,3,4,1", on(0, order(1, 2, 3, 4)), on(1, order(2, 3, 4, 1))},
		{"b3", "order 1,2,3,4 vs 1,2,4,3", on(0, order(1, 2, 3, 4)), on(1, order(1, 2, 4, 3))},
		{"c", "1,2,3,4 vs 1,2,3,4 then rs1 deleted and re-added", on(0, order(1, 2, 3, 4)), on(1, order(1, 2, 3, 4), del(1), add(1, 1))},
		{"c2", "2,3,4,1 vs 1,2,3,4 then rs1 deleted and re-added", on(0, order(2, 3, 4, 1)), on(1, order(1, 2, 3, 4), del(1), add(1, 1))},
		{"d", "1,2,3,4 vs 1,2,3,4 then rs2 weight 0 and back to 1", on(0, order(1, 2, 3, 4)), on(1, order(1, 2, 3, 4), weight(2, 0), weight(2, 1))},
		{"e", "1,2,3,4 vs 1,2,3,4 then rs2 deleted", on(0, order(1, 2, 3, 4)), on(1, order(1, 2, 3, 4), del(2))},
		{"e2", "mh-fallback: 1,2,3,4 vs 1,2,3,4 then rs2 weight 0", on(0, orderFB(1, 2, 3, 4)), on(1, orderFB(1, 2, 3, 4), weight(2, 0))},
		{"e3", "mh-fallback: 1,2,3,4 then rs2 weight 0 vs 1,2,3,4 then rs2 deleted", on(0, orderFB(1, 2, 3, 4), weight(2, 0)), on(1, orderFB(1, 2, 3, 4), del(2))},
		{"e4", "mh-fallback: 1,2,3,4 then rs2 weight 0 vs 1,3,4 then rs2 added with weight 0", on(0, orderFB(1, 2, 3, 4), weight(2, 0)), on(1, orderFB(1, 3, 4), add(2, 0))},
		{"e5", "mh-fallback: 1,2,3,4 then rs2 weight 0 vs 1,3,4 then rs2 added with weight 1 and set to 0", on(0, orderFB(1, 2, 3, 4), weight(2, 0)), on(1, orderFB(1, 3, 4), add(2, 1), weight(2, 0))},
		{"f", "1,2,3 vs 1,2,3 then rs4 added", on(0, order(1, 2, 3)), on(1, order(1, 2, 3), add(4, 1))},
	}
	type result struct{ differ, fromGone, toNew int }
	results := map[string]result{}
	for k, ph := range phases {
		ph.d1(t, l)
		ph.d2(t, l)
		ports := make([]int, flows)
		for i := range ports {
			// Fresh ports per phase: no IPVS entry left from a phase
			// before; 10000 + 13 × 2000 stays below the ephemeral range.
			ports[i] = 10000 + k*flows + i
		}
		var lands [2]map[int]string
		for i := range l.Dirs {
			l.routeVIPVia(t, i)
			got, errs := dialFlows(l.Client, l.ClientAddr, l.VIPAddr(), ports)
			if len(errs) > 0 {
				t.Fatalf("mh-order: phase %s: %d of %d flows through d%d failed: %v", ph.key, len(errs), flows, i+1, errs[:min(len(errs), 5)])
			}
			lands[i] = got
		}
		var r result
		from := map[string]int{} // moved flows by d1's real server
		to := map[string]int{}   // ... and by d2's
		perRS := [2]map[string]int{{}, {}}
		for _, p := range ports {
			a, b := lands[0][p], lands[1][p]
			perRS[0][a]++
			perRS[1][b]++
			if a != b {
				r.differ++
				from[a]++
				to[b]++
			}
		}
		r.fromGone, r.toNew = from["rs2"], to["rs4"]
		results[ph.key] = r
		t.Logf("mh-order: (%s) %s: %d of %d flows differ (%.1f%%); moved from %v to %v; d1 per rs %v, d2 per rs %v",
			ph.key, ph.what, r.differ, flows, 100*float64(r.differ)/float64(flows), from, to, perRS[0], perRS[1])
	}
	for _, k := range []string{"a", "d"} {
		if results[k].differ != 0 {
			t.Errorf("mh-order: (%s) %d flows differ, want 0", k, results[k].differ)
		}
	}
	// Maglev's promise: removing a server moves its flows, (almost) only
	// them; adding one moves flows to it, (almost) only there.
	if e := results["e"]; e.differ == 0 || e.fromGone < e.differ*9/10 {
		t.Errorf("mh-order: (e) removing rs2 moved %d flows, %d of them rs2's: want (nearly) only rs2's", e.differ, e.fromGone)
	}
	// Draining with weight 0 and mh-fallback keeps the table: only the
	// drained server's new flows go elsewhere.
	if e := results["e2"]; e.differ == 0 || e.fromGone != e.differ {
		t.Errorf("mh-order: (e2) rs2 at weight 0 moved %d flows, %d of them rs2's: want only rs2's", e.differ, e.fromGone)
	}
	if f := results["f"]; f.differ == 0 || f.toNew < f.differ*9/10 {
		t.Errorf("mh-order: (f) adding rs4 moved %d flows, %d of them to rs4: want (nearly) only to rs4", f.differ, f.toNew)
	}
}
