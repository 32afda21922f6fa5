package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// seedConfig is the cluster file of the seed scenario: lvs_nat.sh's NAT
// service, rr over two real servers, driven by tandem. The director holds
// the VIP as a static address here (one director, no VRRP peer).
const seedConfig = `
director {
  static_vips = ["203.0.113.10"]
}

node "director" {
  interfaces = ["eth0", "br0"]
}

virtual_server "web" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  real_server "rs1" { address = "192.168.100.11:80" }
  real_server "rs2" { address = "192.168.100.12:80" }
}
`

// TestSeed is the seed article's LVS-NAT cluster: four GETs from the client
// to the VIP alternate between the two real servers.
func TestSeed(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "seed", 2)
	cfg := writeConfig(t, seedConfig)
	say(t, "director$ cat cluster.hcl%s", seedConfig)
	say(t, "director$ tandem run -c cluster.hcl --node director")
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	w, at := p.reconciled(0)
	if w != 3 {
		t.Errorf("first reconcile wrote %d, want 3 (1 service, 2 destinations)", w)
	}
	say(t, "%s", strings.Join(p.tail.Lines()[:at+1], "\n"))
	if v, _ := l.director.ReadSysctl("net/ipv4/ip_forward"); strings.TrimSpace(v) != "1" {
		t.Errorf("director ip_forward = %q, want 1 (a NAT service exists)", v)
	}
	for _, k := range []string{"all", "default", "eth0", "br0"} {
		if v, _ := l.director.ReadSysctl("net/ipv4/conf/" + k + "/send_redirects"); strings.TrimSpace(v) != "0" {
			t.Errorf("director %s/send_redirects = %q, want 0", k, v)
		}
	}
	say(t, "director$ ipvsadm -Ln\n%s", strings.TrimRight(ipvsadm(t, l.director, "-Ln"), "\n"))

	alternate(t, l.client, vip)
	if err := p.stop(); err != nil {
		t.Error(err)
	}
}

// alternate GETs http://vip/ four times from client and checks that the
// answers alternate between real servers 1 and 2.
func alternate(t *testing.T, client *netlab.NS, vip string) {
	t.Helper()
	c := httpClient(client)
	var got []string
	for i := 0; i < 4; i++ {
		b, err := get(c, "http://"+vip+"/")
		if err != nil {
			t.Fatalf("GET %d: %v", i+1, err)
		}
		say(t, "client$ curl http://%s/\n%s", vip, b)
		got = append(got, b)
	}
	for i := range got {
		want := got[0]
		if i%2 == 1 {
			want = other(got[0])
		}
		if got[i] != want {
			t.Fatalf("answers %q do not alternate between the two real servers", got)
		}
	}
}

func other(body string) string {
	switch body {
	case "This is real server 1":
		return "This is real server 2"
	case "This is real server 2":
		return "This is real server 1"
	}
	return fmt.Sprintf("not %q", body)
}

// TestRestartZeroWrites restarts tandem over the table it programmed: the
// table stays while tandem is down, the new process adopts it with zero
// writes, and a client loop sees no error throughout.
func TestRestartZeroWrites(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "restart", 2)
	cfg := writeConfig(t, seedConfig)
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	if w, _ := p.reconciled(0); w != 3 {
		t.Fatalf("first reconcile wrote %d, want 3", w)
	}
	loop := startProbeLoop(httpClient(l.client), "http://"+vip+"/", 10*time.Millisecond, 3000)
	time.Sleep(300 * time.Millisecond)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	before := ipvsadm(t, l.director, "-Ln")
	if !strings.Contains(before, "192.168.100.11:80") || !strings.Contains(before, "192.168.100.12:80") {
		t.Fatalf("table after tandem stopped:\n%s\nwant the service to stay", before)
	}
	time.Sleep(300 * time.Millisecond)
	p2 := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	if w, _ := p2.reconciled(0); w != 0 {
		t.Errorf("reconcile after restart wrote %d, want 0", w)
	}
	time.Sleep(300 * time.Millisecond)
	loop.finish()
	if len(loop.errs) > 0 || loop.ok == 0 {
		t.Errorf("client loop: %d answers, %d errors: %v", loop.ok, len(loop.errs), loop.errs)
	}
	t.Logf("client loop: %d answers (%v), 0 errors across stop and restart", loop.ok, loop.bodies)
	if err := p2.stop(); err != nil {
		t.Error(err)
	}
}

// TestForeignServiceSurvives adds a service tandem does not own by hand; it
// survives tandem's start, reconcile and stop, and tandem reports it.
func TestForeignServiceSurvives(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "foreign", 2)
	ipvsadm(t, l.director, "-A", "-t", "10.9.9.9:8080", "-s", "wlc")
	ipvsadm(t, l.director, "-a", "-t", "10.9.9.9:8080", "-r", "10.9.9.10:8080", "-m", "-w", "3")
	cfg := writeConfig(t, seedConfig)
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	p.reconciled(0)
	p.waitLog(`foreign.*10\.9\.9\.9:8080|10\.9\.9\.9:8080.*foreign|not owned.*10\.9\.9\.9`, 0, 5*time.Second)
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	out := ipvsadm(t, l.director, "-Ln")
	if !strings.Contains(squash(out), "TCP 10.9.9.9:8080 wlc -> 10.9.9.10:8080 Masq 3") {
		t.Fatalf("hand-made service did not survive tandem:\n%s", out)
	}
	if !strings.Contains(squash(out), "TCP 203.0.113.10:80 rr") {
		t.Fatalf("tandem's service missing:\n%s", out)
	}
}
