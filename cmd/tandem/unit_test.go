package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestUnitFile: the systemd unit the package ships has the hardening the
// project promises, passes `systemd-analyze verify`, and its `systemd-analyze
// security` exposure is below keepalived's packaged unit's (both are
// logged; BENCHMARKS.md records them).
func TestUnitFile(t *testing.T) {
	b, err := os.ReadFile("dist/tandem.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, line := range []string{
		"Type=notify", "NotifyAccess=main", "WatchdogSec=10s", "Restart=on-failure", "StartLimitBurst=5",
		"ExecStart=/usr/sbin/tandem run -c /etc/tandem/cluster.hcl",
		"ExecReload=/usr/sbin/tandem reload",
		"ExecStopPost=/usr/sbin/tandem release -c /etc/tandem/cluster.hcl",
		"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW", "NoNewPrivileges=yes", "ProtectSystem=strict",
		"ProtectHome=yes", "RuntimeDirectory=tandem", "RuntimeDirectoryPreserve=yes", "PrivateTmp=yes",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET", "SystemCallArchitectures=native",
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).MatchString(unit) {
			t.Errorf("the unit lacks %s", line)
		}
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: run scripts/setup (it installs Debian's systemd package)")
	}
	// verify checks that the commands exist (/bin/true stands in for the
	// package's /usr/sbin/tandem) and that the man pages of
	// Documentation= open: the ones `tandem man` writes, on MANPATH.
	dir := t.TempDir()
	for _, sec := range []string{"man1", "man5"} {
		if err := os.MkdirAll(filepath.Join(dir, "man", sec), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb strings.Builder
	if code := tandem([]string{"man", filepath.Join(dir, "pages")}, &out, &errb); code != 0 {
		t.Fatalf("tandem man: %d\n%s", code, errb.String())
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "pages", "*"))
	for _, p := range pages {
		sec := "man" + p[len(p)-1:]
		if err := os.Rename(p, filepath.Join(dir, "man", sec, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "tandem.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/sbin/tandem", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command(analyze, "verify", path)
	verify.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"))
	if out, err := verify.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	score := func(p string) float64 {
		t.Helper()
		out, _ := exec.Command(analyze, "security", "--offline=true", p).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security %s:\n%s", p, out)
		}
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		return f
	}
	ours := score(path)
	t.Logf("systemd-analyze security: tandem.service %.1f", ours)
	const keepalived = "/lib/systemd/system/keepalived.service"
	if _, err := os.Stat(keepalived); err == nil {
		theirs := score(keepalived)
		t.Logf("systemd-analyze security: keepalived.service (Debian's package) %.1f", theirs)
		if ours >= theirs {
			t.Errorf("tandem's unit is exposed %.1f, keepalived's %.1f", ours, theirs)
		}
	}
}
