package vrrplab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The day-one defects (issue 11), reproduced with real tandem processes in
// namespaces: each of these once broke a running director or left the
// host changed.

// exitOf waits for p to exit on its own and returns its exit code.
func exitOf(t *testing.T, p *Proc, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s's %s still running after %v:\n%s", p.Name, p.What, timeout, p.Log())
	}
	return p.cmd.ProcessState.ExitCode()
}

// A second `tandem run` on the same node is refused, and the first keeps
// the VIP: it used to go MASTER too, and on exit remove the VIPs from
// under the first.
func TestSecondRunRefused(t *testing.T) {
	l := lab(t, "tvl-lock")
	cfg := cluster(t, "", "")
	d1 := l.Director("d1")
	p1 := l.Start(d1, cfg)
	waitState(p1, "public", "MASTER", 0)
	l.WaitHolder(vip, "d1", 2*time.Second)

	p := l.Start(d1, cfg)
	if code := exitOf(t, p, 5*time.Second); code != 1 {
		t.Fatalf("second run exited %d, want 1", code)
	}
	want := fmt.Sprintf("another tandem run (pid %d) is already running on this node", p1.Pid())
	if !strings.Contains(p.Log(), want) {
		t.Errorf("second run's log lacks %q:\n%s", want, p.Log())
	}
	if strings.Contains(p.Log(), "vrrp transition") {
		t.Errorf("the second run started VRRP:\n%s", p.Log())
	}
	steady(t, l, vip, "d1", time.Second)
}

// A cluster file that would crash the parser (deep nesting) or exhaust
// memory (/dev/zero), copied over a running master's file and sent with
// SIGHUP, is rejected: the master keeps running and keeps the VIP. It
// used to die with a stack overflow, leaving the VIP on the dead node
// while the backup took it too.
func TestReloadHostileFile(t *testing.T) {
	l := lab(t, "tvl-deep")
	cfg := cluster(t, "", "")
	p1, _ := startPair(t, l, cfg)

	deep := `node "a" {` + "\n  interfaces = " + strings.Repeat("[", 70000) + strings.Repeat("]", 70000) + "\n}\n"
	must(t, os.WriteFile(cfg, []byte(deep), 0o644))
	n := p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`reload rejected, keeping the running config`, n, 10*time.Second)
	if !strings.Contains(p1.LogSince(n), "cluster.hcl:2:") {
		t.Errorf("the rejection does not point into the file:\n%s", p1.LogSince(n))
	}

	must(t, os.Remove(cfg))
	must(t, os.Symlink("/dev/zero", cfg))
	n = p1.Lines()
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	p1.WaitLog(`reload rejected, keeping the running config`, n, 10*time.Second)
	if !strings.Contains(p1.LogSince(n), "not a regular file") {
		t.Errorf("/dev/zero's rejection:\n%s", p1.LogSince(n))
	}
	steady(t, l, vip, "d1", time.Second)
}

// natCluster is a NAT cluster with masquerading, on the lab's link.
func natCluster(t *testing.T, iface string) string {
	return WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public" {
  vrid            = 51
  interface       = "`+iface+`"
  addresses       = ["10.77.0.10/24"]
  advert_interval = "100ms"
}

director { masquerade = ["192.168.100.0/24"] }

virtual_server "web" {
  address = "10.77.0.10:80"
  real_server "rs1" { address = "192.168.100.11:80" }
}
`)
}

// settings reads the sysctls tandem run would set on d1 and whether its
// nftables table exists.
func settings(t *testing.T, d *Director) string {
	t.Helper()
	var out []string
	for _, k := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/send_redirects", "net/ipv4/conf/eth0/send_redirects"} {
		v, err := d.NS.ReadSysctl(k)
		must(t, err)
		out = append(out, k+"="+strings.TrimSpace(v))
	}
	b, err := d.NS.Command(context.Background(), "nft", "list", "tables").CombinedOutput()
	must(t, err)
	return strings.Join(out, " ") + " nft=[" + strings.TrimSpace(string(b)) + "]"
}

// --no-ipvs is VRRP only: no sysctl written, no nftables table, and the
// exit log says nothing was managed. It used to turn ip_forward on,
// send_redirects off and create table ip tandem.
func TestNoIPVSTouchesNothing(t *testing.T) {
	l := lab(t, "tvl-noipvs")
	d1 := l.Director("d1")
	must(t, d1.NS.Sysctl("net/ipv4/ip_forward", "0"))
	must(t, d1.NS.Sysctl("net/ipv4/conf/all/send_redirects", "1"))
	before := settings(t, d1)

	p := l.Start(d1, natCluster(t, "eth0"))
	waitState(p, "public", "MASTER", 0)
	if got := settings(t, d1); got != before {
		t.Errorf("--no-ipvs changed the director:\n before %s\n after  %s", before, got)
	}
	must(t, p.Stop())
	if !strings.Contains(p.Log(), `left_in_place="nothing (--no-ipvs`) {
		t.Errorf("the exit log does not say nothing was managed:\n%s", p.Log())
	}
}

// A start that cannot work (an interface the file names is missing) fails
// before writing anything, with the interface, its use and its place in
// the file. It used to write ip_forward and send_redirects and then fail
// with a sysctl error about send_redirects.
func TestFailedStartLeavesNothing(t *testing.T) {
	l := lab(t, "tvl-fail")
	d1 := l.Director("d1")
	must(t, d1.NS.Sysctl("net/ipv4/ip_forward", "0"))
	must(t, d1.NS.Sysctl("net/ipv4/conf/all/send_redirects", "1"))
	before := settings(t, d1)

	cfg := natCluster(t, "eth9")
	p := l.spawn(d1, "tandem", []string{l.Tandem, "run", "-c", cfg, "--node", "d1"}, nil)
	if code := exitOf(t, p, 5*time.Second); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, s := range []string{`interface \"eth9\" (vrrp \"public\", ` + cfg + `:7:21) does not exist on this node`} {
		if !strings.Contains(p.Log(), s) {
			t.Errorf("log lacks %q:\n%s", s, p.Log())
		}
	}
	if strings.Contains(p.Log(), "send_redirects") {
		t.Errorf("the error is about sysctls:\n%s", p.Log())
	}
	if got := settings(t, d1); got != before {
		t.Errorf("a failed start changed the director:\n before %s\n after  %s", before, got)
	}
}

// Run without privileges, tandem says what it needs (it used to fail on
// "open /proc/sys/net/ipv4/ip_forward: permission denied").
func TestUnprivilegedRun(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	dir, err := os.MkdirTemp("", "tandem-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "tandem")
	b, err := os.ReadFile(tandem)
	must(t, err)
	must(t, os.WriteFile(bin, b, 0o755))
	cfg := filepath.Join(dir, "cluster.hcl")
	c, err := os.ReadFile(cluster(t, "", ""))
	must(t, err)
	must(t, os.WriteFile(cfg, c, 0o644))

	cmd := exec.Command(bin, "run", "-c", cfg, "--node", "d1", "--no-ipvs")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit: %v, want 1\n%s", err, out)
	}
	if want := "tandem run needs root, or the capabilities CAP_NET_ADMIN and CAP_NET_RAW"; !strings.Contains(string(out), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
