package vrrplab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hostile local input (issue 16, item 7): every way `tandem run` can fail
// at start says why in one line and leaves the host as it found it; the
// control socket serves root and the configured group only.

// hostState is what a start of tandem could change on d: its addresses,
// its nftables ruleset, the sysctls tandem writes (and the ARP ones a
// director shares with real servers), and the IPVS table.
func hostState(t *testing.T, d *Director) string {
	t.Helper()
	var out []string
	for _, k := range []string{
		"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding",
		"net/ipv4/conf/all/send_redirects", "net/ipv4/conf/default/send_redirects", "net/ipv4/conf/eth0/send_redirects",
		"net/ipv4/conf/all/arp_ignore", "net/ipv4/conf/all/arp_announce",
		"net/ipv4/vs/expire_nodest_conn", "net/ipv4/vs/conntrack",
	} {
		v, err := d.NS.ReadSysctl(k)
		if err != nil {
			v = "(none)" // net/ipv4/vs without IPVS
		}
		out = append(out, k+"="+strings.TrimSpace(v))
	}
	run := func(argv ...string) string {
		b, err := d.NS.Command(context.Background(), argv...).CombinedOutput()
		s := strings.TrimSpace(string(b))
		if err != nil {
			s += " (" + err.Error() + ")"
		}
		// Address lifetimes count down; the rest is the state.
		return regexp.MustCompile(`valid_lft \S+ preferred_lft \S+`).ReplaceAllString(s, "")
	}
	out = append(out, "addr=["+run("ip", "-o", "addr", "show")+"]")
	out = append(out, "nft=["+run("nft", "list", "ruleset")+"]")
	out = append(out, "ipvs=["+run("ipvsadm", "-Ln")+"]")
	return strings.Join(out, "\n")
}

// nobodyFiles copies the tandem binary and the cluster file cfg into a
// directory nobody can read, for runs as nobody (the test binary's
// directories are root's alone).
func nobodyFiles(t *testing.T, l *Lab, cfg string) (bin, file string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "tandem-nobody-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	bin = filepath.Join(dir, "tandem")
	b, err := os.ReadFile(l.Tandem)
	must(t, err)
	must(t, os.WriteFile(bin, b, 0o755))
	file = filepath.Join(dir, "cluster.hcl")
	c, err := os.ReadFile(cfg)
	must(t, err)
	must(t, os.WriteFile(file, c, 0o644))
	return bin, file
}

// asNobody is setpriv's argv to run argv as nobody with the capabilities
// caps ("" for none), no supplementary groups.
func asNobody(caps string, argv ...string) []string {
	args := []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}
	if caps != "" {
		args = append(args, "--inh-caps="+caps, "--ambient-caps="+caps, "--bounding-set=-all,"+caps)
	} else {
		args = append(args, "--inh-caps=-all", "--bounding-set=-all")
	}
	return append(args, argv...)
}

// TestStartErrors: each way a start can fail on this host gives one
// error line naming the cause (and where in the file it applies), exits
// 1 and leaves the host as it was: addresses, nftables, the sysctls
// tandem writes, the IPVS table. TestFailedStartLeavesNothing,
// TestUnprivilegedRun and TestCapabilities cover single cases of this
// table with less of the host compared.
func TestStartErrors(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv not found (util-linux)")
	}
	l := lab(t, "tvl-start")
	d1 := l.Director("d1")
	// What tandem would change, set the other way.
	must(t, d1.NS.Sysctl("net/ipv4/ip_forward", "0"))
	must(t, d1.NS.Sysctl("net/ipv4/conf/all/send_redirects", "1"))
	must(t, d1.NS.Sysctl("net/ipv4/conf/eth0/send_redirects", "1"))
	ipvsHere := ipvsAvailable(d1)
	l.WaitLinkLocal(5 * time.Second) // no address tentative: the state is steady

	nat := natCluster(t, "eth0")
	metrics := natCluster(t, "eth0")
	src, err := os.ReadFile(metrics)
	must(t, err)
	must(t, os.WriteFile(metrics, append(src, "metrics { listen = \"127.0.0.1:9115\" }\n"...), 0o644))
	v6 := WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }
vrrp "public6" {
  vrid            = 61
  interface       = "eth0"
  addresses       = ["fd00:77::10/64"]
  advert_interval = "100ms"
}
`)

	for _, tt := range []struct {
		name  string
		cfg   string
		setup func(t *testing.T) // before the start; undone by t.Cleanup
		argv  func(cfg string) []string
		want  []string // in the one error line
	}{
		{
			name: "ipvs missing",
			cfg:  nat,
			argv: func(cfg string) []string { return []string{l.Tandem, "run", "-c", cfg, "--node", "d1"} },
			want: []string{"IPVS is not available in this kernel", `virtual_server \"web\"`, nat + ":14:1", "modprobe ip_vs", "--no-ipvs"},
		},
		{
			name: "not root",
			cfg:  nat,
			argv: func(cfg string) []string {
				bin, file := nobodyFiles(t, l, cfg)
				return asNobody("", bin, "run", "-c", file, "--node", "d1", "--no-ipvs")
			},
			want: []string{"tandem run needs root, or the capabilities CAP_NET_ADMIN and CAP_NET_RAW"},
		},
		{
			name: "missing capability",
			cfg:  nat,
			argv: func(cfg string) []string {
				bin, file := nobodyFiles(t, l, cfg)
				return asNobody("+net_admin", bin, "run", "-c", file, "--node", "d1", "--no-ipvs")
			},
			want: []string{"tandem run needs root, or the capabilities CAP_NET_RAW (", "AmbientCapabilities=CAP_NET_RAW"},
		},
		{
			name: "interface missing",
			cfg:  natCluster(t, "eth9"),
			argv: func(cfg string) []string { return []string{l.Tandem, "run", "-c", cfg, "--node", "d1"} },
			want: []string{`interface \"eth9\" (vrrp \"public\", `, `:7:21) does not exist on this node`},
		},
		{
			name: "address owned by another host (ARP)",
			cfg:  nat,
			setup: func(t *testing.T) {
				must(t, l.Client.Addr("eth0", "10.77.0.10/24"))
				t.Cleanup(func() {
					l.Client.Command(context.Background(), "ip", "addr", "del", "10.77.0.10/24", "dev", "eth0").Run()
				})
			},
			argv: func(cfg string) []string {
				return []string{l.Tandem, "run", "-c", cfg, "--node", "d1", "--no-ipvs"}
			},
			want: []string{"address 10.77.0.10 (vrrp \\\"public\\\", " + nat + ":8:", "is in use by another host", l.MAC(&Director{NS: l.Client}, "eth0"), "no VRRP router advertises vrid 51"},
		},
		{
			name: "address owned by another host (DAD)",
			cfg:  v6,
			setup: func(t *testing.T) {
				l.WaitLinkLocal(5 * time.Second)
				must(t, l.Client.Addr("eth0", "fd00:77::10/64"))
				t.Cleanup(func() {
					l.Client.Command(context.Background(), "ip", "addr", "del", "fd00:77::10/64", "dev", "eth0").Run()
				})
			},
			argv: func(cfg string) []string {
				return []string{l.Tandem, "run", "-c", cfg, "--node", "d1", "--no-ipvs"}
			},
			want: []string{"address fd00:77::10 (vrrp \\\"public6\\\", " + v6 + ":7:", "is in use by another host", "no VRRP router advertises vrid 61"},
		},
		{
			name: "metrics port taken",
			cfg:  metrics,
			setup: func(t *testing.T) {
				ln, err := d1.NS.Listen("tcp", "127.0.0.1:9115")
				must(t, err)
				t.Cleanup(func() { ln.Close() })
			},
			argv: func(cfg string) []string { return []string{l.Tandem, "run", "-c", cfg, "--node", "d1", "--no-ipvs"} },
			want: []string{"metrics listener", "127.0.0.1:9115", "address already in use", metrics + ":18:20"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "ipvs missing" && ipvsHere {
				t.Skip("IPVS is available here")
			}
			if tt.setup != nil {
				tt.setup(t)
			}
			before := hostState(t, d1)
			p := l.spawn(d1, "tandem", tt.argv(tt.cfg), nil)
			t.Cleanup(p.Kill)
			if code := exitOf(t, p, 10*time.Second); code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, p.Log())
			}
			var errs []string
			for _, line := range strings.Split(strings.TrimSpace(p.Log()), "\n") {
				if strings.Contains(line, "level=ERROR") {
					errs = append(errs, line)
				}
			}
			if len(errs) != 1 {
				t.Fatalf("%d error lines, want 1:\n%s", len(errs), p.Log())
			}
			for _, s := range tt.want {
				if !strings.Contains(errs[0], s) {
					t.Errorf("the error line lacks %q:\n%s", s, errs[0])
				}
			}
			if strings.Contains(p.Log(), "vrrp transition") {
				t.Errorf("VRRP started:\n%s", p.Log())
			}
			if after := hostState(t, d1); after != before {
				t.Errorf("the failed start changed the host:\n before %s\n after  %s", before, after)
			}
			t.Logf("%s: %s", tt.name, errs[0])
		})
	}
}

// ipvsAvailable reports whether d's kernel has IPVS.
func ipvsAvailable(d *Director) bool {
	b, err := d.NS.Command(context.Background(), "ipvsadm", "-Ln").CombinedOutput()
	return err == nil && !strings.Contains(string(b), "not available")
}

// TestSocketAccess: `tandem status` as root is served; as nobody it is
// refused, by the socket's mode (0660, root's group) or, when the mode
// lets it through, by tandem itself (SO_PEERCRED), with one line saying
// why, and the refusal is logged with its uid and pid; nobody in the
// --socket-group group, as its primary or a supplementary group, is
// served.
func TestSocketAccess(t *testing.T) {
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatal("setpriv not found (util-linux)")
	}
	l := lab(t, "tvl-sock")
	d1 := l.Director("d1")
	run, err := os.MkdirTemp("", "tandem-sock-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(run) })
	must(t, os.Chmod(run, 0o755))
	sock := filepath.Join(run, "tandem.sock")
	bin, _ := nobodyFiles(t, l, cluster(t, "", ""))
	const group = "4242" // no such group: none of nobody's own
	p := l.Start(d1, cluster(t, "", ""), "--socket", sock, "--socket-group", group)
	waitState(p, "public", "MASTER", 0)
	fi, err := os.Stat(sock)
	must(t, err)
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o660 || st.Gid != 4242 {
		t.Fatalf("socket mode %v gid %d, want 0660 gid %s", fi.Mode().Perm(), st.Gid, group)
	}
	status := func(creds ...string) (string, int) {
		argv := append([]string{"setpriv"}, creds...)
		argv = append(argv, bin, "status", "--socket", sock)
		return runIn(t, d1, nil, argv...)
	}
	if out, code := runIn(t, d1, nil, bin, "status", "--socket", sock); code != 0 || !strings.Contains(out, "public") {
		t.Errorf("root: exit %d\n%s", code, out)
	}
	out, code := status("--reuid=65534", "--regid=65534", "--clear-groups")
	if code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "permission denied: only root (and the members of the group tandem run's --socket-group names) may use it") {
		t.Errorf("nobody, socket mode: exit %d\n%s", code, out)
	}
	t.Logf("nobody, socket 0660: %s", strings.TrimSpace(out))
	for _, c := range [][]string{
		{"--reuid=65534", "--regid=" + group, "--clear-groups"},
		{"--reuid=65534", "--regid=65534", "--groups=" + group},
	} {
		if out, code := status(c...); code != 0 || !strings.Contains(out, "public") {
			t.Errorf("nobody with %v: exit %d\n%s", c, code, out)
		}
	}
	// A socket whose mode is looser than meant (an operator's chmod):
	// tandem itself refuses.
	must(t, os.Chmod(sock, 0o666))
	n := p.Lines()
	out, code = status("--reuid=65534", "--regid=65534", "--clear-groups")
	if code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, "tandem's control socket refused uid 65534 (pid ") || !strings.Contains(out, "only root and members of group 4242 may use it") {
		t.Errorf("nobody, socket 0666: exit %d\n%s", code, out)
	}
	t.Logf("nobody, socket 0666: %s", strings.TrimSpace(out))
	p.WaitLog(`msg="control socket: request refused" uid=65534 gid=65534 pid=\d+ path=/v1/status`, n, 5*time.Second)
	if out, code := status("--reuid=65534", "--regid=65534", "--groups="+group); code != 0 {
		t.Errorf("member, socket 0666: exit %d\n%s", code, out)
	}
	// The maintenance and reload commands go through the same guard.
	if out, code := runIn(t, d1, nil, asNobody("", bin, "reload", "--socket", sock)...); code != 1 || !strings.Contains(out, "refused uid 65534") {
		t.Errorf("nobody reload: exit %d\n%s", code, out)
	}
}

// waitFile waits for path to contain want and returns its content.
func waitFile(t *testing.T, path, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %q", path, b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestScriptUser: with scripts { user = "nobody" } the notify hook and
// the track script run as nobody (uid and gid 65534, no supplementary
// group), with their arguments as given and no shell but the one the
// script's #! names. A script that another user could replace (its
// directory made writable by others) is refused by `tandem check`, by a
// reload (which keeps the running config and its scripts) and by a
// start, each naming the script's place in the file, the path and its
// mode.
func TestScriptUser(t *testing.T) {
	l := lab(t, "tvl-script")
	d1 := l.Director("d1")
	dir, err := os.MkdirTemp("", "tandem-scripts-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.Chmod(dir, 0o755))
	out := filepath.Join(dir, "out")
	must(t, os.Mkdir(out, 0o777))
	must(t, os.Chmod(out, 0o777))
	notify := filepath.Join(dir, "notify.sh")
	track := filepath.Join(dir, "track.sh")
	// "$*" in a file name would be a shell's doing: the argument with a
	// space and a ';' arrives whole.
	must(t, os.WriteFile(notify, []byte("#!/bin/sh\necho \"$(id -u) $(id -g) [$(id -G)] $1|$2|$3|$4|$5\" >> "+out+"/notify\n"), 0o755))
	must(t, os.WriteFile(track, []byte("#!/bin/sh\nid -u > "+out+"/track\n"), 0o755))
	cfg := cluster(t, `  notify = ["`+notify+`", "a b; touch `+out+`/pwned"]
  track_scripts = ["chk"]`, `
scripts { user = "nobody" }
track_script "chk" {
  command  = ["`+track+`"]
  interval = "200ms"
}
`)
	p := l.Start(d1, cfg)
	waitState(p, "public", "MASTER", 0)
	got := waitFile(t, out+"/notify", "INSTANCE|public|MASTER", 3*time.Second)
	if want := "65534 65534 [65534] a b; touch " + out + "/pwned|INSTANCE|public|MASTER|150"; !strings.Contains(got, want) {
		t.Errorf("notify ran as/with %q, want %q", got, want)
	}
	if got := waitFile(t, out+"/track", "\n", 3*time.Second); got != "65534\n" {
		t.Errorf("track script ran as %q, want 65534", got)
	}
	if _, err := os.Stat(out + "/pwned"); err == nil {
		t.Error("an argument went through a shell")
	}

	// Writable by others: refused everywhere, with the place and the mode.
	must(t, os.Chmod(dir, 0o777))
	want := fmt.Sprintf("%s:16:14: track_script \"chk\": program %s is not safe to run: directory %s is writable by others (mode drwxrwxrwx); %s:10:12: vrrp \"public\" notify: program %s is not safe to run: directory %s is writable by others (mode drwxrwxrwx). Hint: make root own", cfg, track, dir, cfg, notify, dir)
	if out, code := runTandem(t, l, d1, "check", "-c", cfg, "--node", "d1", "--local"); code != 1 || !strings.Contains(out, want) {
		t.Errorf("tandem check: exit %d\n%s\nwant %s", code, out, want)
	}
	n := p.Lines()
	must(t, p.cmd.Process.Signal(syscall.SIGHUP))
	p.WaitLog(`reload rejected, keeping the running config`, n, 5*time.Second)
	if s := p.LogSince(n); !strings.Contains(s, strings.ReplaceAll(want, `"`, `\"`)) {
		t.Errorf("the rejected reload does not say why:\n%s", s)
	}
	// The running config's scripts go on (as nobody).
	must(t, os.Remove(out+"/track"))
	if got := waitFile(t, out+"/track", "\n", 3*time.Second); got != "65534\n" {
		t.Errorf("track script after the rejected reload: %q", got)
	}
	must(t, p.Stop())
	p = l.spawn(d1, "tandem", []string{l.Tandem, "run", "-c", cfg, "--node", "d1", "--no-ipvs"}, nil)
	if code := exitOf(t, p, 10*time.Second); code != 1 || strings.Count(p.Log(), "level=ERROR") != 1 || !strings.Contains(p.Log(), strings.ReplaceAll(want, `"`, `\"`)) {
		t.Errorf("start: exit %d\n%s", code, p.Log())
	}
}

// TestProbePeerMaster: the address probe at start finds the VIP answered
// by the peer that holds it as VRRP master and, since that peer
// advertises the VRID, starts (and, with the higher priority, takes the
// VIP back); with nobody answering, the probe costs its 300 ms wait.
func TestProbePeerMaster(t *testing.T) {
	l := lab(t, "tvl-probe")
	cfg := cluster(t, "", "")
	d1, d2 := l.Director("d1"), l.Director("d2")
	p2 := l.Start(d2, cfg)
	waitState(p2, "public", "MASTER", 0)
	l.WaitHolder(vip, "d2", 2*time.Second)
	p2.WaitLog(`msg="address probe" interface=eth0 addresses=1 answered="" vrids_advertised="" took=`, 0, time.Second)
	t.Logf("nobody answers: %s", p2.Log()[strings.Index(p2.Log(), "took="):][:12])
	p1 := l.Start(d1, cfg)
	p1.WaitLog(`msg="address probe" interface=eth0 addresses=1 answered="10.77.0.10=`+l.MAC(d2, "eth0")+`" vrids_advertised=51 took=`, 0, 5*time.Second)
	waitState(p1, "public", "MASTER", 0)
	l.WaitHolder(vip, "d1", 2*time.Second)
	line := p1.Log()[strings.Index(p1.Log(), `msg="address probe"`):]
	t.Logf("the peer master answers: %s", line[:strings.Index(line, "\n")])
}
