package scenarios

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMasquerade: with director.masquerade set, a real server's own
// connection out to the client's network leaves with the director's
// address (lvs_nat.sh's MASQUERADE rule), through tandem's own nftables
// table.
func TestMasquerade(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "masq", 1)
	ln, err := l.client.Listen("tcp", "203.0.113.2:9000")
	must(t, err)
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			peer <- err.Error()
			return
		}
		peer <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		c.Close()
	}()

	cfg := writeConfig(t, strings.Replace(seedConfig, `static_vips = ["203.0.113.10"]`,
		`static_vips = ["203.0.113.10"]
  masquerade  = ["192.168.100.0/24"]`, 1))
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	p.reconciled(0)
	p.waitLog(`masquerade`, 0, 5*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := l.rs[0].DialContext(ctx, "tcp", "203.0.113.2:9000")
	must(t, err)
	c.Close()
	if got := <-peer; got != "203.0.113.1" {
		t.Errorf("client saw the real server's connection from %s, want the director's 203.0.113.1", got)
	}
	out, err := l.director.Command(ctx, "/usr/sbin/nft", "list", "table", "ip", "tandem").CombinedOutput()
	must(t, err)
	t.Logf("nft list table ip tandem:\n%s", out)
	if !strings.Contains(string(out), "ip saddr 192.168.100.0/24") || !strings.Contains(string(out), "masquerade") {
		t.Errorf("tandem's nftables table lacks the masquerade rule:\n%s", out)
	}
	must(t, p.stop())
	// A restart finds the rule in place and changes nothing.
	p2 := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	_, at := p2.reconciled(0)
	log := strings.Join(p2.tail.Lines()[:at], "\n")
	if strings.Contains(log, "masquerade") {
		t.Errorf("restart changed the masquerade rule again:\n%s", log)
	}
}

// TestReload: SIGHUP applies an edited file with the minimal writes; a
// file with an error is rejected and the running table kept.
func TestReload(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "reload", 3)
	cfg := writeConfig(t, seedConfig)
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director")
	_, at := p.reconciled(0)

	// rs1 leaves, rs3 joins, rs2's weight changes: three writes.
	edited := strings.Replace(seedConfig,
		`real_server "rs1" { address = "192.168.100.11:80" }`,
		`real_server "rs3" { address = "192.168.100.13:80" }`, 1)
	edited = strings.Replace(edited,
		`real_server "rs2" { address = "192.168.100.12:80" }`,
		"real_server \"rs2\" {\n    address = \"192.168.100.12:80\"\n    weight = 2\n  }", 1)
	must(t, os.WriteFile(cfg, []byte(edited), 0o644))
	must(t, p.cmd.Process.Signal(syscall.SIGHUP))
	w, at := p.reloaded(at + 1)
	if w != 3 {
		t.Errorf("reload wrote %d, want 3 (add rs3, update rs2, delete rs1)", w)
	}
	out := squash(ipvsadm(t, l.director, "-Ln"))
	if strings.Contains(out, "192.168.100.11:80") || !strings.Contains(out, "192.168.100.13:80 Masq 1") ||
		!strings.Contains(out, "192.168.100.12:80 Masq 2") {
		t.Errorf("table after reload:\n%s", out)
	}

	// A typo: rejected with its position, nothing applied.
	must(t, os.WriteFile(cfg, []byte(strings.Replace(edited, "scheduler = \"rr\"", "schedular = \"rr\"", 1)), 0o644))
	must(t, p.cmd.Process.Signal(syscall.SIGHUP))
	line, _ := p.waitLog(`reload rejected`, at, 10*time.Second)
	if !strings.Contains(line, "cluster.hcl:") || !strings.Contains(line, "schedular") {
		t.Errorf("rejection does not name the place: %s", line)
	}
	if after := squash(ipvsadm(t, l.director, "-Ln")); after != out {
		t.Errorf("a rejected reload changed the table:\n%s\nwas:\n%s", after, out)
	}
	c := httpClient(l.client)
	for i := 0; i < 3; i++ {
		if _, err := get(c, "http://"+vip+"/"); err != nil {
			t.Errorf("GET after a rejected reload: %v", err)
		}
	}
	must(t, p.stop())
}

// TestDriftRepaired: a real server deleted from the table by hand comes
// back at the next resync, with exactly one write.
func TestDriftRepaired(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "drift", 2)
	cfg := writeConfig(t, seedConfig)
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director", "--resync", "200ms")
	_, at := p.reconciled(0)
	ipvsadm(t, l.director, "-d", "-t", vip+":80", "-r", "192.168.100.11:80")
	if w, _ := p.reconciled(at + 1); w != 1 {
		t.Errorf("resync after a hand-deleted real server wrote %d, want 1", w)
	}
	if out := squash(ipvsadm(t, l.director, "-Ln")); !strings.Contains(out, "192.168.100.11:80 Masq 1") {
		t.Errorf("real server not restored:\n%s", out)
	}
	must(t, p.stop())
}
