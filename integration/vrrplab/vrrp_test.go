package vrrplab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tandem is the binary TestMain built ("" when the lab is skipped).
var (
	tandem     string
	skipReason string
)

func TestMain(m *testing.M) {
	skipReason = Skip()
	if skipReason == "" {
		root, err := filepath.Abs("../..")
		if err == nil {
			tandem, err = BuildTandem(root)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vrrplab:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(filepath.Dir(tandem))
	}
	code := m.Run()
	if len(results) > 0 {
		fmt.Println("vrrplab client-observed gaps:")
		for _, r := range results {
			fmt.Println("  " + r)
		}
	}
	if tandem != "" {
		os.RemoveAll(filepath.Dir(tandem))
	}
	os.Exit(code)
}

var (
	resultsMu sync.Mutex
	results   []string
)

func report(t *testing.T, format string, a ...any) {
	t.Helper()
	s := fmt.Sprintf(format, a...)
	t.Log(s)
	resultsMu.Lock()
	results = append(results, t.Name()+": "+s)
	resultsMu.Unlock()
}

func lab(t *testing.T, prefix string) *Lab {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	l := New(t, tandem, prefix, 2, "10.77.0.0")
	l.Serve()
	return l
}

var (
	vip   = netip.MustParseAddr("10.77.0.10")
	vipGW = netip.MustParseAddr("10.78.0.10")
)

const vipPort = "10.77.0.10:80"

// cluster is a two-director file with the public instance (100 ms adverts)
// and extra blocks or attributes.
func cluster(t *testing.T, publicExtra, extra string) string {
	return WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.77.0.10/24"]
  advert_interval = "100ms"
`+publicExtra+`
}
`+extra)
}

const transition = `msg="vrrp transition" instance=%s from=\S+ to=%s`

func waitState(p *Proc, inst, state string, from int) int {
	p.t.Helper()
	return p.WaitLog(fmt.Sprintf(transition, inst, state), from, 5*time.Second)
}

// startPair starts d1 (which becomes master) and then d2 (backup).
func startPair(t *testing.T, l *Lab, cfg string) (*Proc, *Proc) {
	t.Helper()
	p1 := l.Start(l.Director("d1"), cfg)
	waitState(p1, "public", "MASTER", 0)
	p2 := l.Start(l.Director("d2"), cfg)
	waitState(p2, "public", "BACKUP", 0)
	l.WaitHolder(vip, "d1", 2*time.Second)
	return p1, p2
}

// steady checks that addr stays held by want alone for d.
func steady(t *testing.T, l *Lab, addr netip.Addr, want string, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if got := l.Holders(addr); len(got) != 1 || got[0] != want {
			t.Fatalf("%v held by %v, want only %s", addr, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func poll(t *testing.T, l *Lab) *Poller {
	p := Poll(l.Client, vipPort, 10*time.Millisecond, 300*time.Millisecond, 1500)
	t.Cleanup(p.Stop)
	return p
}

// gap waits for the client to be answered by to after since, and reports
// the gap since the last answer from from.
func gap(t *testing.T, p *Poller, since time.Time, from, to, what string) time.Duration {
	t.Helper()
	p.WaitAnswer(t, since, to, 5*time.Second)
	p.Settle()
	g, failed, ok := p.Switch(since, from, to)
	if !ok {
		t.Fatalf("%s: no switch from %s to %s seen; answers %v", what, from, to, p.Count())
	}
	report(t, "%s: %s → %s, gap %d ms (%d failed attempts at 10 ms)", what, from, to, g.Milliseconds(), failed)
	return g
}

// TestHardFailure: the master is killed and its link goes down; the
// backup takes over after Master_Down_Interval (≈361 ms). Then the
// master comes back and preempts.
func TestHardFailure(t *testing.T) {
	l := lab(t, "tvl-hard")
	cfg := cluster(t, "", "")
	p1, p2 := startPair(t, l, cfg)
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)
	time.Sleep(100 * time.Millisecond)

	at := time.Now()
	p1.Kill()
	l.SetLink(l.Director("d1"), "eth0", false)
	waitState(p2, "public", "MASTER", 0)
	l.WaitHolder(vip, "d2", 2*time.Second) // d1's stale VIP is on a down link: still listed
	g := gap(t, pl, at, "d1", "d2", "hard failure")
	if g > 2*time.Second {
		t.Errorf("hard failure gap %v", g)
	}

	// d1 comes back: it removes the VIP its killed run left, and preempts.
	l.SetLink(l.Director("d1"), "eth0", true)
	at = time.Now()
	p1 = l.Start(l.Director("d1"), cfg)
	waitState(p1, "public", "MASTER", 0)
	waitState(p2, "public", "BACKUP", 0)
	l.WaitHolder(vip, "d1", 2*time.Second)
	gap(t, pl, at, "d2", "d1", "preempt back")
	steady(t, l, vip, "d1", 500*time.Millisecond)
}

// TestGracefulStop: SIGTERM on the master sends priority 0; the backup
// takes over after Skew_Time (≈61 ms).
func TestGracefulStop(t *testing.T) {
	l := lab(t, "tvl-term")
	p1, p2 := startPair(t, l, cluster(t, "", ""))
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)
	time.Sleep(100 * time.Millisecond)

	at := time.Now()
	if err := p1.Stop(); err != nil {
		t.Fatal(err)
	}
	waitState(p2, "public", "MASTER", 0)
	l.WaitHolder(vip, "d2", time.Second)
	g := gap(t, pl, at, "d1", "d2", "graceful stop")
	if g > time.Second {
		t.Errorf("graceful stop gap %v", g)
	}
	steady(t, l, vip, "d2", 300*time.Millisecond)
}

// TestNoPreempt: with preempt off, the returning higher-priority node
// stays backup.
func TestNoPreempt(t *testing.T) {
	l := lab(t, "tvl-nopre")
	cfg := cluster(t, "  preempt = false", "")
	p1, p2 := startPair(t, l, cfg)
	p1.Kill()
	l.SetLink(l.Director("d1"), "eth0", false)
	waitState(p2, "public", "MASTER", 0)
	l.SetLink(l.Director("d1"), "eth0", true)
	p1 = l.Start(l.Director("d1"), cfg)
	waitState(p1, "public", "BACKUP", 0)
	steady(t, l, vip, "d2", 1500*time.Millisecond)
	if strings.Contains(p1.Log(), "to=MASTER") {
		t.Error("d1 became master again without preempt")
	}
}

// TestPartition: VRRP between the directors is blocked (nftables in d2's
// namespace), both become master; after the heal exactly one master is
// left, and its announcements moved the client's ARP entry back to it.
func TestPartition(t *testing.T) {
	l := lab(t, "tvl-part")
	_, p2 := startPair(t, l, cluster(t, "", ""))
	d2 := l.Director("d2")
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)

	l.Nft(d2, `table inet tvl {
  chain in  { type filter hook input priority 0; ip protocol 112 drop; }
  chain out { type filter hook output priority 0; ip protocol 112 drop; }
}`)
	at := time.Now()
	waitState(p2, "public", "MASTER", 0)
	if h := l.Holders(vip); len(h) != 2 {
		t.Fatalf("partitioned: VIP held by %v, want both", h)
	}
	pl.WaitAnswer(t, at, "d2", 3*time.Second) // d2's GARP won the client

	heal := time.Now()
	l.Nft(d2, "delete table inet tvl")
	waitState(p2, "public", "BACKUP", 0)
	l.WaitHolder(vip, "d1", 2*time.Second)
	gap(t, pl, heal, "d2", "d1", "partition heal")
	if got, want := l.NeighMAC(vip), l.MAC(l.Director("d1"), "eth0"); got != want {
		t.Errorf("client's neighbour entry for the VIP: %s, want d1's %s", got, want)
	}
	steady(t, l, vip, "d1", 500*time.Millisecond)
}

// TestSyncGroup: the gateway link of the master fails; its gateway
// instance goes to FAULT, the sync group takes public down with it, and
// the other director takes both VIPs. When the link returns, both come
// back.
func TestSyncGroup(t *testing.T) {
	l := lab(t, "tvl-sync")
	l.AddLink(1, "10.78.0.0")
	cfg := cluster(t, "", `
vrrp "gateway" {
  vrid            = 52
  interface       = "eth1"
  addresses       = ["10.78.0.10/24"]
  advert_interval = "100ms"
}

sync_group "lb" { instances = ["public", "gateway"] }
`)
	p1, p2 := startPair(t, l, cfg)
	l.WaitHolder(vipGW, "d1", 2*time.Second)
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)

	at := time.Now()
	n1, n2 := p1.Lines(), p2.Lines()
	l.SetLink(l.Director("d1"), "eth1", false)
	waitState(p1, "gateway", "FAULT", n1)
	waitState(p1, "public", "BACKUP", n1)
	waitState(p2, "public", "MASTER", n2)
	waitState(p2, "gateway", "MASTER", n2)
	l.WaitHolder(vip, "d2", 2*time.Second)
	l.WaitHolder(vipGW, "d2", 2*time.Second)
	gap(t, pl, at, "d1", "d2", "sync group (gateway link down)")

	at = time.Now()
	l.SetLink(l.Director("d1"), "eth1", true)
	l.WaitHolder(vip, "d1", 3*time.Second)
	l.WaitHolder(vipGW, "d1", 3*time.Second)
	gap(t, pl, at, "d2", "d1", "sync group (link back)")
	steady(t, l, vip, "d1", 300*time.Millisecond)
	steady(t, l, vipGW, "d1", 300*time.Millisecond)
}

// TestTrackInterface: a tracked interface of the master goes down: FAULT,
// the backup takes over; when it comes back, the master preempts.
func TestTrackInterface(t *testing.T) {
	l := lab(t, "tvl-track")
	for _, d := range l.Directors {
		l.Spare(d, "trk0")
	}
	p1, p2 := startPair(t, l, cluster(t, `  track_interfaces = ["trk0"]`, ""))
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)

	at := time.Now()
	n1, n2 := p1.Lines(), p2.Lines()
	l.SetLink(l.Director("d1"), "trk0", false)
	waitState(p1, "public", "FAULT", n1)
	waitState(p2, "public", "MASTER", n2)
	l.WaitHolder(vip, "d2", 2*time.Second)
	gap(t, pl, at, "d1", "d2", "tracked interface down")

	at = time.Now()
	l.SetLink(l.Director("d1"), "trk0", true)
	waitState(p1, "public", "MASTER", n1)
	l.WaitHolder(vip, "d1", 2*time.Second)
	gap(t, pl, at, "d2", "d1", "tracked interface back")
	steady(t, l, vip, "d1", 300*time.Millisecond)
}

// TestIPv6: a VRRPv3 IPv6 instance (adverts from link-local addresses to
// ff02::12, unsolicited NAs): hard failure, then graceful stop.
func TestIPv6(t *testing.T) {
	l := lab(t, "tvl-v6")
	must(t, l.Client.Addr("eth0", "fd00:77::100/64"))
	// The directors' own addresses, which their packets must come from.
	must(t, l.Director("d1").NS.Addr("eth0", "fd00:77::1/64"))
	must(t, l.Director("d2").NS.Addr("eth0", "fd00:77::2/64"))
	l.WaitLinkLocal(5 * time.Second)
	cfg := WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public6" {
  vrid            = 61
  interface       = "eth0"
  addresses       = ["fd00:77::10/64"]
  advert_interval = "100ms"
}
`)
	vip6 := netip.MustParseAddr("fd00:77::10")
	p1 := l.Start(l.Director("d1"), cfg)
	waitState(p1, "public6", "MASTER", 0)
	p2 := l.Start(l.Director("d2"), cfg)
	waitState(p2, "public6", "BACKUP", 0)
	l.WaitHolder(vip6, "d1", 2*time.Second)
	notSource(t, l.Director("d1"), vip6, netip.MustParseAddr("fd00:77::100"))
	pl := Poll(l.Client, "[fd00:77::10]:80", 10*time.Millisecond, 300*time.Millisecond, 1000)
	t.Cleanup(pl.Stop)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)
	time.Sleep(100 * time.Millisecond)

	at := time.Now()
	if err := p1.Stop(); err != nil {
		t.Fatal(err)
	}
	waitState(p2, "public6", "MASTER", 0)
	l.WaitHolder(vip6, "d2", 2*time.Second)
	gap(t, pl, at, "d1", "d2", "IPv6 graceful stop")
	if got, want := l.NeighMAC(vip6), l.MAC(l.Director("d2"), "eth0"); got != want {
		t.Errorf("client's neighbour entry for the VIP: %s, want d2's %s", got, want)
	}
	steady(t, l, vip6, "d2", 300*time.Millisecond)
}

// TestV2UnicastAuth: VRRPv2 with a password over unicast; a third node
// with the wrong password cannot take over, and the pair still fails
// over.
func TestV2UnicastAuth(t *testing.T) {
	t.Parallel() // slow (1 s adverts): overlaps with the keepalived interop
	l := lab(t, "tvl-v2")
	cfg := func(pass string) string {
		return WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.77.0.10/24"]
  version         = 2
  advert_interval = "1s"
  auth_pass       = "`+pass+`"
  unicast_peers   = ["10.77.0.1", "10.77.0.2"]
}
`)
	}
	good := cfg("s3cret")
	p1 := l.Start(l.Director("d1"), good)
	waitState(p1, "public", "MASTER", 0)
	p2 := l.Start(l.Director("d2"), good)
	waitState(p2, "public", "BACKUP", 0)
	steady(t, l, vip, "d1", time.Second)
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)

	at := time.Now()
	p1.Kill()
	l.SetLink(l.Director("d1"), "eth0", false)
	waitState(p2, "public", "MASTER", 0)
	l.WaitHolder(vip, "d2", 2*time.Second)
	gap(t, pl, at, "d1", "d2", "VRRPv2 unicast hard failure (1 s adverts)")

	// d1 comes back with the wrong password: it cannot hear d2, so it
	// becomes master too, but d2 drops its adverts and stays master.
	l.SetLink(l.Director("d1"), "eth0", true)
	n := p2.Lines()
	p1 = l.Start(l.Director("d1"), cfg("wrong"))
	waitState(p1, "public", "MASTER", 0)
	p2.WaitLog(`msg="vrrp advert refused".*wrong password`, n, 3*time.Second)
	time.Sleep(1200 * time.Millisecond)
	if strings.Contains(p2.LogSince(n), "to=BACKUP") {
		t.Error("d2 obeyed an advert with the wrong password")
	}
}

// TestNotifyAndReload: the notify hook runs on transitions; SIGHUP with
// the same file leaves VRRP alone, a changed priority is applied in
// place, and so is an added VIP; another change restarts the runner.
func TestNotifyAndReload(t *testing.T) {
	l := lab(t, "tvl-hook")
	dir := t.TempDir()
	script := filepath.Join(dir, "notify.sh")
	out := filepath.Join(dir, "notify.out")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755))
	cfg := cluster(t, `  notify = ["`+script+`", "x"]`, "")
	p1, p2 := startPair(t, l, cfg)
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		if strings.Contains(string(b), "x INSTANCE public MASTER 150") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("notify output: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}

	n := p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`msg=reloaded`, n, 5*time.Second)
	if strings.Contains(p1.Log(), "restarting the vrrp runner") {
		t.Fatal("an unchanged file restarted vrrp")
	}
	// A changed priority is applied in place: no restart, no transition,
	// the VIP never leaves d1.
	b, err := os.ReadFile(cfg)
	must(t, err)
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), "priority = 150", "priority = 160", 1)), 0o644))
	n = p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`msg="vrrp reconfigured" component=vrrp instance=public change="changed in place" what="priority 150 -> 160"`, n, 5*time.Second)
	p1.WaitLog(`msg=reloaded`, n, 5*time.Second)
	steady(t, l, vip, "d1", 500*time.Millisecond)
	if s := p1.LogSince(n); strings.Contains(s, "restarting the vrrp runner") || strings.Contains(s, "vrrp transition") {
		t.Errorf("a priority change restarted vrrp or moved the instance:\n%s", s)
	}

	// An added VIP too: d1 adds and announces it, nothing else moves.
	b, err = os.ReadFile(cfg)
	must(t, err)
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), `addresses       = ["10.77.0.10/24"]`, `addresses       = ["10.77.0.10/24", "10.77.0.11/24"]`, 1)), 0o644))
	n = p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`msg="vrrp reconfigured" component=vrrp instance=public change="changed in place" what="addresses \+10.77.0.11/24"`, n, 5*time.Second)
	p1.WaitLog(`msg="vrrp vip added" component=vrrp instance=public address=10.77.0.11/24`, n, 5*time.Second)
	l.WaitHolder(netip.MustParseAddr("10.77.0.11"), "d1", 2*time.Second)
	steady(t, l, vip, "d1", 300*time.Millisecond)
	if s := p1.LogSince(n); strings.Contains(s, "restarting the vrrp runner") || strings.Contains(s, "vrrp transition") {
		t.Errorf("an added VIP restarted vrrp or moved the instance:\n%s", s)
	}

	// The advert interval too: no handover.
	b, err = os.ReadFile(cfg)
	must(t, err)
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), `advert_interval = "100ms"`, `advert_interval = "200ms"`, 1)), 0o644))
	n = p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`msg="vrrp reconfigured" component=vrrp instance=public change="changed in place" what="advert_interval 100ms -> 200ms"`, n, 5*time.Second)
	p1.WaitLog(`msg=reloaded`, n, 5*time.Second)
	steady(t, l, vip, "d1", 500*time.Millisecond)
	if s := p1.LogSince(n); strings.Contains(s, "vrrp transition") {
		t.Errorf("an advert interval change moved the instance:\n%s", s)
	}

	// A new VRID makes another virtual router: that instance restarts (d1
	// hands the old one over), and the stop's transition is logged before
	// "reloaded", not after. Once d2 has the new file too, d1 is master of
	// the new one.
	b, err = os.ReadFile(cfg)
	must(t, err)
	must(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), `vrid            = 51`, `vrid            = 61`, 1)), 0o644))
	n = p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`msg="vrrp reconfigured" component=vrrp instance=public change=restarted what="vrid 51 -> 61"`, n, 5*time.Second)
	stopped := p1.WaitLog(fmt.Sprintf(transition, "public", "INIT"), n, 5*time.Second)
	if reloaded := p1.WaitLog(`msg=reloaded`, n, 5*time.Second); reloaded < stopped {
		t.Errorf("\"reloaded\" logged before the stop's transition:\n%s", p1.LogSince(n))
	}
	must(t, p2.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(fmt.Sprintf(transition, "public", "MASTER")+` priority=160`, n, 5*time.Second)
	l.WaitHolder(vip, "d1", 3*time.Second)
}

// TestPairHandover: with pair_handover the backup takes over as soon as
// it hears priority 0, not after Skew_Time.
func TestPairHandover(t *testing.T) {
	l := lab(t, "tvl-pair")
	p1, p2 := startPair(t, l, cluster(t, "  pair_handover = true", ""))
	pl := poll(t, l)
	pl.WaitAnswer(t, time.Now(), "d1", 3*time.Second)
	time.Sleep(100 * time.Millisecond)

	at := time.Now()
	if err := p1.Stop(); err != nil {
		t.Fatal(err)
	}
	waitState(p2, "public", "MASTER", 0)
	l.WaitHolder(vip, "d2", time.Second)
	if g := gap(t, pl, at, "d1", "d2", "graceful stop, pair_handover"); g > 500*time.Millisecond {
		t.Errorf("gap %v", g)
	}
}

// TestTrackScript: a failing track script with weight -60 drops the
// master's priority below the backup's, which preempts; when the script
// succeeds again the master takes back. (Both directors share the file
// system: the script fails only on d1, the owner of 10.77.0.1.)
func TestTrackScript(t *testing.T) {
	l := lab(t, "tvl-script")
	flag := filepath.Join(t.TempDir(), "down")
	cfg := cluster(t, `  track_scripts = ["alive"]`, `
track_script "alive" {
  command  = ["/bin/sh", "-c", "test ! -e `+flag+` || ! ip -o addr show dev eth0 | grep -q ' 10.77.0.1/'"]
  interval = "100ms"
  timeout  = "100ms"
  weight   = -60
}
`)
	p1, p2 := startPair(t, l, cfg)
	n1, n2 := p1.Lines(), p2.Lines()
	must(t, os.WriteFile(flag, nil, 0o644))
	p1.WaitLog(`msg="vrrp priority" .*priority=90`, n1, 3*time.Second)
	waitState(p2, "public", "MASTER", n2)
	waitState(p1, "public", "BACKUP", n1)
	l.WaitHolder(vip, "d2", 2*time.Second)

	n1 = p1.Lines()
	must(t, os.Remove(flag))
	waitState(p1, "public", "MASTER", n1)
	l.WaitHolder(vip, "d1", 2*time.Second)
	steady(t, l, vip, "d1", 300*time.Millisecond)
}

// notSource checks that the master holds the IPv6 VIP deprecated and does
// not pick it as the source of its own packets to dst (a health check of
// a DR or TUN real server that holds the VIP too would never be answered).
func notSource(t *testing.T, d *Director, vip, dst netip.Addr) {
	t.Helper()
	addrs, err := d.NS.Netlink().AddrList(nil, netlink.FAMILY_V6)
	must(t, err)
	found := false
	for _, a := range addrs {
		if ip, _ := netip.AddrFromSlice(a.IP); ip == vip {
			found = true
			if a.Flags&unix.IFA_F_DEPRECATED == 0 || a.PreferedLft != 0 {
				t.Errorf("%s holds VIP %s with flags %#x, preferred lifetime %d: want deprecated", d.Name, vip, a.Flags, a.PreferedLft)
			}
		}
	}
	if !found {
		t.Fatalf("%s does not hold VIP %s", d.Name, vip)
	}
	routes, err := d.NS.Netlink().RouteGet(dst.AsSlice())
	must(t, err)
	for _, r := range routes {
		if src, _ := netip.AddrFromSlice(r.Src); src == vip {
			t.Errorf("%s's packets to %s would come from the VIP %s", d.Name, dst, vip)
		}
	}
}
