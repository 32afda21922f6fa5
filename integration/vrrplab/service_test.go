package vrrplab

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// unitCommand returns the command line of directive (ExecStopPost, ...)
// in the package's systemd unit, with its binary and file replaced by the
// test's.
func unitCommand(t *testing.T, l *Lab, directive, cfg string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "cmd/tandem/dist/tandem.service"))
	must(t, err)
	m := regexp.MustCompile(`(?m)^` + directive + `=(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("the unit has no %s=", directive)
	}
	line := strings.ReplaceAll(string(m[1]), "/usr/sbin/tandem", l.Tandem)
	line = strings.ReplaceAll(line, "/etc/tandem/cluster.hcl", cfg)
	return strings.Fields(line)
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	must(t, err)
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// runIn runs argv in d's namespace with extra environment.
func runIn(t *testing.T, d *Director, env []string, argv ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := d.NS.Command(ctx, argv...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

// TestReleaseAfterKill: a SIGKILLed tandem leaves its VIP on the
// interface while the peer takes it over, so both answer ARP for it; the
// unit's ExecStopPost (tandem release, as systemd runs it after a failed
// main process) removes it and the peer is master alone. After a clean
// exit it has nothing to do, and while a tandem runs it touches nothing.
func TestReleaseAfterKill(t *testing.T) {
	l := lab(t, "tvl-rel")
	cfg := cluster(t, "", "")
	p1, _ := startPair(t, l, cfg)
	d1, d2 := l.Director("d1"), l.Director("d2")
	release := unitCommand(t, l, "ExecStopPost", cfg)

	// While d2's tandem runs, release on d2 refuses.
	if out, code := runIn(t, d2, []string{"SERVICE_RESULT=signal"}, release...); code != 1 || !strings.Contains(out, "not releasing") {
		t.Errorf("release beside a running tandem: exit %d\n%s", code, out)
	}

	p1.Kill()
	start := time.Now()
	for time.Since(start) < 5*time.Second && !strings.Contains(strings.Join(l.Holders(vip), ","), "d2") {
		time.Sleep(10 * time.Millisecond)
	}
	if got := l.Holders(vip); len(got) != 2 {
		t.Fatalf("after SIGKILL: %v hold the VIP, want both (the killed node keeps it)", got)
	}
	out, code := runIn(t, d1, []string{"SERVICE_RESULT=signal", "EXIT_CODE=killed", "EXIT_STATUS=KILL"}, release...)
	t.Logf("d1$ %s\n%s", strings.Join(release, " "), out)
	if code != 0 || !strings.Contains(out, "removed 10.77.0.10/24 from eth0") {
		t.Errorf("release: exit %d", code)
	}
	l.WaitHolder(vip, "d2", time.Second)
	steady(t, l, vip, "d2", 500*time.Millisecond)

	// A clean exit: nothing to release (tandem handed the VIP over).
	if out, code := runIn(t, d1, []string{"SERVICE_RESULT=success"}, release...); code != 0 || !strings.Contains(out, "exited cleanly") {
		t.Errorf("release after a clean exit: exit %d\n%s", code, out)
	}
}

// TestNotifyWatchdog: the binary under systemd's protocol, a real
// NOTIFY_SOCKET datagram socket and WATCHDOG_USEC: READY=1 with the
// STATUS= line naming the master, WATCHDOG=1 pings, RELOADING=1 / READY=1
// around `tandem reload`; then the test hook freezes the VRRP runner and
// the pings stop (the main loop still turns), and SIGTERM sends
// STOPPING=1.
func TestNotifyWatchdog(t *testing.T) {
	l := lab(t, "tvl-wd")
	cfg := cluster(t, "", "")
	d1 := l.Director("d1")
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	must(t, err)
	defer conn.Close()
	msgs := make(chan string, 1024)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	next := func(want string, timeout time.Duration) string {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case m := <-msgs:
				if strings.Contains(m, want) {
					return m
				}
			case <-deadline:
				t.Fatalf("no %q from tandem within %v", want, timeout)
			}
		}
	}
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000")
	t.Setenv("TANDEM_TEST_FREEZE", "vrrp")
	p := l.Start(d1, cfg)
	if m := next("READY=1", 5*time.Second); !strings.Contains(m, "STATUS=") {
		t.Errorf("READY without STATUS: %q", m)
	}
	next("STATUS=MASTER public", 5*time.Second)
	next("WATCHDOG=1", time.Second)
	if out, code := runTandem(t, l, d1, "reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	if m := next("RELOADING=1", time.Second); !strings.Contains(m, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	next("READY=1", time.Second)
	// The hook freezes the runner 2 s after the start.
	p.WaitLog(`vrrp runner stalled: withholding the watchdog pings`, 0, 5*time.Second)
	for len(msgs) > 0 {
		<-msgs
	}
	select {
	case m := <-msgs:
		if strings.Contains(m, "WATCHDOG=1") {
			t.Errorf("WATCHDOG=1 with the vrrp runner frozen")
		}
	case <-time.After(time.Second):
	}
	p.Term()
	next("STOPPING=1", 5*time.Second)
}

// TestCapabilities: tandem runs as an unprivileged user with only
// CAP_NET_ADMIN and CAP_NET_RAW (what the unit's bounding set leaves,
// through ambient capabilities): it becomes master and holds the VIP, the
// backup follows. Without them it refuses to start, naming the missing
// capability.
func TestCapabilities(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv not found (util-linux)")
	}
	l := lab(t, "tvl-cap")
	// A directory the unprivileged user reads the file from and keeps its
	// socket, lock and state in (systemd's RuntimeDirectory= with User=).
	run, err := os.MkdirTemp("", "tandem-cap-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(run) })
	must(t, os.Chmod(run, 0o777))
	src, err := os.ReadFile(cluster(t, "", ""))
	must(t, err)
	cfg := filepath.Join(run, "cluster.hcl")
	must(t, os.WriteFile(cfg, src, 0o644))
	d1, d2 := l.Director("d1"), l.Director("d2")
	setpriv := func(caps string) []string {
		args := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
		if caps != "" {
			args = append(args, "--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set=-all,"+caps)
		} else {
			args = append(args, "--inh-caps=-all", "--bounding-set=-all")
		}
		return append(args, l.Tandem, "run", "-c", cfg, "--node", "d1", "--no-ipvs", "--socket", filepath.Join(run, "tandem.sock"))
	}

	out, code := runIn(t, d1, nil, setpriv("")...)
	if code != 1 || !strings.Contains(out, "CAP_NET_ADMIN and CAP_NET_RAW") {
		t.Errorf("without capabilities: exit %d\n%s", code, out)
	}

	p1 := l.spawn(d1, "tandem (nobody, CAP_NET_ADMIN+CAP_NET_RAW)", setpriv("+net_admin,+net_raw"), nil)
	waitState(p1, "public", "MASTER", 0)
	p2 := l.Start(d2, cfg)
	waitState(p2, "public", "BACKUP", 0)
	l.WaitHolder(vip, "d1", 2*time.Second)
	steady(t, l, vip, "d1", 500*time.Millisecond)
	must(t, p1.Stop())
	l.WaitHolder(vip, "d2", 2*time.Second)
}
