package scenarios

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// syncLab is two directors running VRRP in front of two real servers, and
// a client on the directors' LAN.
//
//	client 10.0.0.2 ─┐
//	d1 eth0 10.0.0.1 ─┼─ br0 ─ (DR: rsN 10.0.0.1N, VIP on lo)
//	d2 eth0 10.0.0.3 ─┘        VIP 10.0.0.100 (vrrp "public")
//	d1 eth1 192.168.100.2 ─┐
//	d2 eth1 192.168.100.3 ─┼─ br1 ─ (NAT: rsN 192.168.100.1N, gateway .1)
//	                                 192.168.100.1 (vrrp "gateway")
//
// The sync messages go over eth1 with NAT and over eth0 with DR.
type syncLab struct {
	lan    *lan
	client *netlab.NS
	d      [2]*netlab.NS
	rs     []*netlab.NS
	cfg    string
	mode   string // nat or dr
}

const syncVIP = "10.0.0.100"

func syncConfig(mode string, withSync bool) string {
	var b strings.Builder
	b.WriteString("director {\n")
	if withSync {
		iface := "eth1"
		if mode == "dr" {
			iface = "eth0"
		}
		extra := ""
		if mode == "dr" {
			// Not the kernel's defaults: both directors must use them.
			extra = "    group     = \"239.0.0.81\"\n    port      = 8849\n    ttl       = 2\n"
		}
		fmt.Fprintf(&b, "  conn_sync {\n    interface = %q\n    sync_id   = 7\n    vrrp      = \"public\"\n%s  }\n", iface, extra)
	}
	b.WriteString("  timeouts {\n    tcp = \"1h\"\n  }\n}\n")
	b.WriteString(`
node "d1" {
  priority = 150
}

node "d2" {
  priority = 100
}

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.0.0.100/24"]
  advert_interval = "300ms"
}
`)
	rs := []string{"10.0.0.11", "10.0.0.12"}
	if mode == "nat" {
		rs = []string{"192.168.100.11", "192.168.100.12"}
		b.WriteString(`
vrrp "gateway" {
  vrid            = 52
  interface       = "eth1"
  addresses       = ["192.168.100.1/24"]
  advert_interval = "300ms"
}

sync_group "lb" {
  instances = ["public", "gateway"]
}
`)
	}
	fmt.Fprintf(&b, `
virtual_server "echo" {
  address   = "%s:9000"
  scheduler = "rr"
  forward   = %q

  real_server "rs1" { address = %q }
  real_server "rs2" { address = %q }
}
`, syncVIP, mode, rs[0], rs[1])
	return b.String()
}

func newSyncLab(t *testing.T, prefix, mode string, withSync bool) *syncLab {
	t.Helper()
	l := &syncLab{lan: newLAN(t, prefix, "br0", "br1"), mode: mode}
	l.client = l.lan.host("client")
	l.lan.plug(l.client, "eth0", "br0", "10.0.0.2/24")
	for i := range l.d {
		d := l.lan.host(fmt.Sprintf("d%d", i+1))
		l.lan.plug(d, "eth0", "br0", fmt.Sprintf("10.0.0.%d/24", 1+2*i))
		l.lan.plug(d, "eth1", "br1", fmt.Sprintf("192.168.100.%d/24", 2+i))
		l.d[i] = d
	}
	l.cfg = writeConfig(t, syncConfig(mode, withSync))
	for i := 1; i <= 2; i++ {
		rs := l.lan.host(fmt.Sprintf("rs%d", i))
		if mode == "nat" {
			l.lan.plug(rs, "eth0", "br1", fmt.Sprintf("192.168.100.%d/24", 10+i))
			must(t, rs.DefaultRoute("192.168.100.1"))
		} else {
			l.lan.plug(rs, "eth0", "br0", fmt.Sprintf("10.0.0.%d/24", 10+i))
			state := filepath.Join(t.TempDir(), fmt.Sprintf("rs%d.json", i))
			runIn(t, rs, "/tandem", "realserver", "-c", l.cfg, "--state", state)
		}
		serveEcho(t, rs, ":9000", fmt.Sprintf("rs%d", i))
		l.rs = append(l.rs, rs)
	}
	return l
}

// TestConnSync: two directors, VRRP between them, a client holding one TCP
// connection through the VIP and exchanging a message every 100 ms. The
// master is killed (SIGKILL, then its links cut: the box is gone); the
// backup takes over. With conn_sync the backup's sync daemon has received
// the connection's IPVS entry and the same connection goes on with the
// same real server; without it the new master has no entry, answers the
// next segment itself with a reset, and the connection breaks. NAT and DR.
func TestConnSync(t *testing.T) {
	vmOnly(t)
	for _, tc := range []struct {
		mode     string
		withSync bool
	}{{"nat", true}, {"nat", false}, {"dr", true}, {"dr", false}} {
		name := tc.mode + "/sync"
		if !tc.withSync {
			name = tc.mode + "/nosync"
		}
		t.Run(name, func(t *testing.T) {
			prefix := "cs" + tc.mode[:1]
			if !tc.withSync {
				prefix += "n"
			}
			connSyncScenario(t, newSyncLab(t, prefix, tc.mode, tc.withSync), tc.withSync)
		})
	}
}

func connSyncScenario(t *testing.T, l *syncLab, withSync bool) {
	p1 := startTandem(t, l.d[0], "run", "-c", l.cfg, "--node", "d1")
	p1.waitLog(`vrrp transition.*instance=public.*to=MASTER`, 0, 10*time.Second)
	p2 := startTandem(t, l.d[1], "run", "-c", l.cfg, "--node", "d2")
	p2.waitLog(`vrrp transition.*instance=public.*to=BACKUP`, 0, 10*time.Second)
	if withSync {
		p1.waitLog(`ipvs sync daemon.*started master on \S+ syncid 7`, 0, 5*time.Second)
		p2.waitLog(`ipvs sync daemon.*started backup on \S+ syncid 7`, 0, 5*time.Second)
	}
	for i, d := range l.d {
		if out := squash(ipvsadm(t, d, "-L", "--timeout")); !strings.Contains(out, "(tcp tcpfin udp): 3600 120 300") {
			t.Errorf("d%d timeouts: %s", i+1, out)
		}
	}
	if withSync {
		want := "group=224.0.0.81, port=8848, ttl=1)"
		if l.mode == "dr" {
			want = "group=239.0.0.81, port=8849, ttl=2)"
		}
		for i, d := range l.d {
			out := strings.TrimRight(ipvsadm(t, d, "-L", "--daemon"), "\n")
			say(t, "d%d$ ipvsadm -L --daemon\n%s", i+1, out)
			if n := strings.Count(out, want); n != 2-i {
				t.Errorf("d%d: %d sync daemons with %q, want %d", i+1, n, want, 2-i)
			}
		}
	}

	s := startSession(t, l.client, syncVIP+":9000", 100*time.Millisecond)
	if !s.waitAnswers(0, 10, 5*time.Second) {
		t.Fatalf("the session does not work before the failover: %v", s.errs)
	}
	// The master's sync daemon sends a connection after its third packet
	// and flushes at least every 2 s: wait for the entry on the backup.
	entry := `TCP \S+ ESTABLISHED 10\.0\.0\.2:\d+ 10\.0\.0\.100:9000`
	if withSync {
		out := waitIPVS(t, l.d[1], entry, 6*time.Second, "-Lnc")
		say(t, "d2 (backup)$ ipvsadm -Lnc\n%s", strings.TrimRight(out, "\n"))
	} else {
		time.Sleep(3 * time.Second) // as long as the sync case may wait
		if out := ipvsadm(t, l.d[1], "-Lnc"); strings.Contains(out, "10.0.0.2:") {
			t.Errorf("without conn_sync the backup has the connection:\n%s", out)
		}
	}

	before, _ := s.answers()
	say(t, "the master d1 dies (SIGKILL, links cut) after %d answers from %s", before, s.server)
	from := p2.tail.Len()
	must(t, p1.cmd.Process.Kill())
	<-p1.done
	for _, ifname := range []string{"eth0", "eth1"} {
		link, err := l.d[0].Netlink().LinkByName(ifname)
		must(t, err)
		must(t, l.d[0].Netlink().LinkSetDown(link))
	}
	at := p2.waitTransition("public", "MASTER", from, 5*time.Second)
	if withSync {
		p2.waitLog(`ipvs sync daemon.*started master`, at, 5*time.Second)
	}

	healed := s.waitAnswers(before, 20, 15*time.Second)
	s.finish()
	after, _ := s.answers()
	s.mu.Lock()
	errs := append([]string(nil), s.errs...)
	s.mu.Unlock()
	if withSync {
		if !healed || len(errs) > 0 {
			t.Fatalf("with conn_sync the connection did not survive the failover: %d answers after it, errors %v", after-before, errs)
		}
		say(t, "with conn_sync: the same connection went on after the takeover (%d answers, all from %s; longest gap %v)",
			after-before, s.server, s.gap.Round(time.Millisecond))
		return
	}
	if len(errs) == 0 {
		t.Fatalf("without conn_sync the connection survived the failover (%d answers after it): the test proves nothing", after-before)
	}
	say(t, "without conn_sync: the connection broke after the takeover: %s", strings.Join(errs, "; "))
}
