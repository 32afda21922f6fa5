package deb

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/lab"
)

// Suite is the Debian release the package is installed into.
const suite = "bookworm"

// chrootEnv is the environment of every command run in the root: a fake
// systemctl in /usr/local/sbin comes first on PATH.
var chrootEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"DEBIAN_FRONTEND=noninteractive",
	"LC_ALL=C",
	"HOME=/root",
}

// fakeSystemctl logs its arguments, one call a line, and answers is-active
// and is-enabled with "inactive" (3), as systemd does for a stopped unit.
const fakeSystemctl = `#!/bin/sh
echo "$*" >>/var/log/systemctl.log
case " $* " in
*" is-active "*|*" is-enabled "*) exit 3 ;;
esac
exit 0
`

// TestInstall installs the package with dpkg into a clean Debian root, as
// if systemd ran there (a fake systemctl records each call), and checks what
// an operator relies on: the control fields, the conffile, the unit, a
// static binary that runs from the installed files, an example file that
// passes tandem check, maintainer scripts that start nothing, an edit of the
// conffile kept across a reinstall, and remove and purge.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: debootstrap and dpkg take a minute")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (chroot, dpkg into a root)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	deb := os.Getenv("TANDEM_DEB")
	if deb == "" {
		deb = buildDeb(ctx, t, repo)
	}
	t.Logf("package %s (%v)", deb, time.Since(start).Round(time.Millisecond))

	checkControl(ctx, t, deb)
	t.Run("lintian", func(t *testing.T) {
		if _, err := exec.LookPath("lintian"); err != nil {
			t.Skip("lintian is not installed")
		}
		// The overrides shipped in the package explain the tags it keeps.
		out, err := exec.CommandContext(ctx, "lintian", "--fail-on", "error,warning", deb).CombinedOutput()
		if err != nil {
			t.Errorf("lintian %s: %v\n%s", deb, err, out)
		}
	})

	start = time.Now()
	root := debianRoot(ctx, t)
	t.Logf("debian root %s (%v)", root, time.Since(start).Round(time.Millisecond))

	// systemd "runs" (the scripts test /run/systemd/system) and systemctl
	// only records.
	mustWrite(t, filepath.Join(root, "usr/local/sbin/systemctl"), fakeSystemctl, 0o755)
	if err := os.MkdirAll(filepath.Join(root, "run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(root, "tmp/tandem.deb"), string(b), 0o644)

	start = time.Now()
	out := inRoot(ctx, t, root, "dpkg", "-i", "/tmp/tandem.deb")
	t.Logf("dpkg -i (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if got := inRoot(ctx, t, root, "dpkg-query", "-W", "-f", "${Status}", "tandem"); got != "install ok installed" {
		t.Fatalf("dpkg-query: tandem is %q, want install ok installed", got)
	}

	t.Run("conffile", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, "var/lib/dpkg/info/tandem.conffiles"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains("\n"+string(b), "\n/etc/tandem/cluster.hcl\n") {
			t.Errorf("conffiles = %q, want /etc/tandem/cluster.hcl", b)
		}
	})

	t.Run("unit", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(repo, "cmd/tandem/dist/tandem.service")); err != nil {
			t.Skip("the repository has no cmd/tandem/dist/tandem.service yet")
		}
		unit, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/tandem.service"))
		if err != nil {
			t.Fatal(err)
		}
		// Every command the unit runs is in the package.
		re := regexp.MustCompile(`(?m)^Exec\w+=[-@:+!]*(\S+)`)
		ms := re.FindAllSubmatch(unit, -1)
		if len(ms) == 0 {
			t.Fatalf("tandem.service runs nothing:\n%s", unit)
		}
		for _, m := range ms {
			if _, err := os.Stat(filepath.Join(root, string(m[1]))); err != nil {
				t.Errorf("tandem.service runs %s, not installed: %v", m[1], err)
			}
		}
	})

	t.Run("static", func(t *testing.T) {
		f, err := elf.Open(filepath.Join(root, "usr/sbin/tandem"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("/usr/sbin/tandem has an ELF interpreter (PT_INTERP): not static")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("/usr/sbin/tandem needs %v: not static", libs)
		}
	})

	t.Run("runs", func(t *testing.T) {
		if got := inRoot(ctx, t, root, "tandem", "version"); !strings.HasPrefix(got, "tandem ") {
			t.Errorf("tandem version = %q", got)
		}
		// The example as installed, not edited: it must pass.
		got := inRoot(ctx, t, root, "tandem", "check", "-c", "/etc/tandem/cluster.hcl")
		t.Logf("tandem check: %s", got)
	})

	t.Run("man pages and completions", func(t *testing.T) {
		// Packaged when the binary has the commands that make them.
		help := inRoot(ctx, t, root, "tandem", "--help")
		want := map[string][]string{
			"completion": {
				"usr/share/bash-completion/completions/tandem",
				"usr/share/zsh/vendor-completions/_tandem",
				"usr/share/fish/vendor_completions.d/tandem.fish",
			},
			"man": {"usr/share/man/man1/tandem.1.gz", "usr/share/man/man5/tandem-cluster.5.gz"},
		}
		for cmd, paths := range want {
			if !regexp.MustCompile(`(?m)^\s+` + cmd + `\s`).MatchString(help) {
				t.Logf("tandem has no %s command: not checked", cmd)
				continue
			}
			for _, p := range paths {
				if fi, err := os.Stat(filepath.Join(root, p)); err != nil || fi.Size() == 0 {
					t.Errorf("tandem has a %s command, but /%s is not in the package (%v)", cmd, p, err)
				}
			}
		}
	})

	t.Run("started nothing", func(t *testing.T) {
		calls := systemctlCalls(t, root)
		if len(calls) == 0 || calls[0] != "daemon-reload" {
			t.Errorf("postinst: systemctl calls %q, want daemon-reload first", calls)
		}
		for _, c := range calls {
			if regexp.MustCompile(`\b(start|restart|enable|reload-or-restart|try-restart)\b`).MatchString(c) {
				t.Errorf("postinst ran systemctl %s: a fresh install must not enable or start tandem", c)
			}
		}
	})

	t.Run("reinstall keeps an edit", func(t *testing.T) {
		conf := filepath.Join(root, "etc/tandem/cluster.hcl")
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		edited := strings.Replace(string(b), `priority = 150`, `priority = 140`, 1)
		if edited == string(b) {
			t.Fatal("the example has no priority = 150 to edit")
		}
		mustWrite(t, conf, edited, 0o644)
		os.Remove(filepath.Join(root, "var/log/systemctl.log"))
		inRoot(ctx, t, root, "dpkg", "-i", "/tmp/tandem.deb")
		if b, _ := os.ReadFile(conf); string(b) != edited {
			t.Error("dpkg -i again replaced the operator's /etc/tandem/cluster.hcl")
		}
		for _, c := range systemctlCalls(t, root) {
			if regexp.MustCompile(`\b(start|restart|stop|enable|disable)\b`).MatchString(c) {
				t.Errorf("an upgrade ran systemctl %s: it must leave the director alone", c)
			}
		}
	})

	t.Run("remove and purge", func(t *testing.T) {
		os.Remove(filepath.Join(root, "var/log/systemctl.log"))
		inRoot(ctx, t, root, "dpkg", "-r", "tandem")
		if calls := systemctlCalls(t, root); !contains(calls, "stop tandem.service") {
			t.Errorf("prerm remove: systemctl calls %q, want stop tandem.service", calls)
		}
		if _, err := os.Stat(filepath.Join(root, "usr/sbin/tandem")); err == nil {
			t.Error("/usr/sbin/tandem is still there after dpkg -r")
		}
		if _, err := os.Stat(filepath.Join(root, "etc/tandem/cluster.hcl")); err != nil {
			t.Errorf("dpkg -r removed the conffile (only a purge should): %v", err)
		}
		// An operator's enablement symlink goes with the purge.
		wants := filepath.Join(root, "etc/systemd/system/multi-user.target.wants")
		if err := os.MkdirAll(wants, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/usr/lib/systemd/system/tandem.service", filepath.Join(wants, "tandem.service")); err != nil {
			t.Fatal(err)
		}
		inRoot(ctx, t, root, "dpkg", "-P", "tandem")
		for _, p := range []string{"etc/tandem", "etc/systemd/system/multi-user.target.wants/tandem.service"} {
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				t.Errorf("/%s is still there after dpkg -P", p)
			}
		}
	})
}

// buildDeb runs scripts/deb and returns the package it built.
func buildDeb(ctx context.Context, t *testing.T, repo string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(repo, "scripts/deb"))
	cmd.Dir = repo
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/deb: %v\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("scripts/deb:\n%s", stderr.Bytes())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	deb := lines[len(lines)-1]
	if !strings.HasSuffix(deb, "_amd64.deb") {
		t.Fatalf("scripts/deb printed %q, want the .deb's path last", stdout.Bytes())
	}
	return deb
}

// checkControl checks the package's control fields.
func checkControl(ctx context.Context, t *testing.T, deb string) {
	t.Helper()
	out, err := exec.CommandContext(ctx, "dpkg-deb", "-f", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s: %v: %s", deb, err, out)
	}
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok && !strings.HasPrefix(k, " ") {
			fields[k] = v
		}
	}
	for k, want := range map[string]string{
		"Package":      "tandem",
		"Architecture": "amd64",
		"Section":      "net",
		"Priority":     "optional",
		"Recommends":   "ipvsadm",
		"Depends":      "", // a static binary
	} {
		if fields[k] != want {
			t.Errorf("control %s = %q, want %q", k, fields[k], want)
		}
	}
}

// debianRoot returns a fresh copy of a minimal Debian root. The root is
// made by debootstrap once a day and kept in lab.CacheDir(), beside the
// lab's kernel; older ones are removed.
func debianRoot(ctx context.Context, t *testing.T) string {
	t.Helper()
	cache := lab.CacheDir()
	name := "debian-" + suite + "-minbase-" + time.Now().UTC().Format("20060102")
	cached := filepath.Join(cache, name)
	if _, err := os.Stat(filepath.Join(cached, "var/lib/dpkg/status")); err != nil {
		if _, err := exec.LookPath("debootstrap"); err != nil {
			t.Fatal("debootstrap not found: apt-get install debootstrap (scripts/setup)")
		}
		if err := os.MkdirAll(cache, 0o755); err != nil {
			t.Fatal(err)
		}
		tmp, err := os.MkdirTemp(cache, name+".tmp")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		mirror := os.Getenv("TANDEM_DEB_MIRROR")
		if mirror == "" {
			mirror = "http://deb.debian.org/debian"
		}
		start := time.Now()
		out, err := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", suite, tmp, mirror).CombinedOutput()
		if err != nil {
			t.Fatalf("debootstrap --variant=minbase %s: %v\n%s", suite, err, tail(out, 40))
		}
		t.Logf("debootstrap: %v", time.Since(start).Round(time.Millisecond))
		os.RemoveAll(filepath.Join(tmp, "var/cache/apt/archives"))
		if err := os.Rename(tmp, cached); err != nil && !os.IsExist(err) {
			if _, serr := os.Stat(cached); serr != nil { // not another test's
				t.Fatal(err)
			}
		}
		old, _ := filepath.Glob(filepath.Join(cache, "debian-"+suite+"-minbase-*"))
		for _, o := range old {
			if o != cached && !strings.Contains(filepath.Base(o), ".tmp") {
				os.RemoveAll(o)
			}
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.CommandContext(ctx, "cp", "-a", cached, root).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s: %v: %s", cached, err, out)
	}
	return root
}

// inRoot runs argv chrooted into root and returns its trimmed output; a
// failure ends the test.
func inRoot(ctx context.Context, t *testing.T, root string, argv ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "chroot", append([]string{root}, argv...)...)
	cmd.Env = chrootEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func systemctlCalls(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "var/log/systemctl.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func contains(calls []string, want string) bool {
	for _, c := range calls {
		if strings.Contains(" "+c+" ", " "+want+" ") {
			return true
		}
	}
	return false
}

func mustWrite(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func tail(b []byte, n int) []byte {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}
