package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
)

// subcommands are tandem's subcommands with their flags (besides --help).
var subcommands = map[string][]string{
	"run":        {"config", "node", "log-format", "log-level", "socket", "socket-group", "resync", "no-ipvs", "realtime", "lock-memory"},
	"check":      {"config", "node", "local"},
	"plan":       {"config", "socket", "kernel", "node", "json"},
	"reload":     {"socket", "json"},
	"status":     {"socket", "json", "stats", "rate"},
	"drain":      {"socket", "json"},
	"drain-node": {"socket", "json"},
	"disable":    {"socket", "json", "now"},
	"enable":     {"socket", "json"},
	"realserver": {"c", "name", "address", "mode", "vip", "undo", "state", "n"},
	"release":    {"c", "socket", "force"},
	"version":    nil,
	"man":        nil,
	"import":     nil,
	"completion": nil,
}

// The tree has exactly these subcommands and flags.
func TestSubcommands(t *testing.T) {
	root := newRoot(io.Discard, io.Discard)
	got := map[string][]string{}
	for _, c := range root.Commands() {
		var flags []string
		c.Flags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f.Name) })
		got[c.Name()] = flags
	}
	want := map[string][]string{}
	for name, flags := range subcommands {
		want[name] = slices.Sorted(slices.Values(flags))
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("subcommands and flags (-want +got):\n%s", d)
	}
}

// Every subcommand's help, however asked for, goes to stdout with exit
// status 0 and names every flag.
func TestHelp(t *testing.T) {
	for name, flags := range subcommands {
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {name, "-help"}, {"help", name}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errb strings.Builder
				if code := tandem(args, &out, &errb); code != 0 || errb.Len() > 0 {
					t.Fatalf("exit %d, stderr %q", code, errb.String())
				}
				if !strings.Contains(out.String(), "Usage:") {
					t.Errorf("stdout lacks the usage:\n%s", out.String())
				}
				for _, f := range flags {
					if !strings.Contains(out.String(), "--"+f) {
						t.Errorf("help lacks --%s:\n%s", f, out.String())
					}
				}
			})
		}
	}
	var out, errb strings.Builder
	if code := tandem([]string{"--help"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Exit status: 0 success") {
		t.Errorf("tandem --help: exit %d, no exit statuses:\n%s", code, out.String())
	}
}

// Usage errors are status 2 with a message on stderr and nothing on
// stdout.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{nil, "Usage:"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"status", "--json", "--frob"}, "unknown flag: --frob"},
		{[]string{"status", "-x"}, "unknown shorthand flag: 'x' in -x"},
		{[]string{"run", "--resync", "soon"}, `invalid argument "soon" for "--resync"`},
		{[]string{"run", "--realtime"}, "flag needs an argument: --realtime"},
		{[]string{"reload", "now"}, `unexpected argument "now"`},
		{[]string{"drain", "web"}, "want 2 operands (VIRTUAL-SERVER REAL-SERVER), got 1"},
		{[]string{"disable", "web", "rs1", "rs2"}, "want 2 operands"},
		{[]string{"enable", "--now", "web", "rs1"}, "unknown flag: --now"},
		{[]string{"man"}, "want 1 operands (DIR), got 0"},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh"`},
		{[]string{"completion"}, "which shell?"},
		{[]string{"status", "--stats", "--rate"}, "--stats or --rate, not both"},
		{[]string{"plan", "--node", "d1"}, "--node is for --kernel"},
		{[]string{"realserver", "--frob"}, "flag provided but not defined: -frob"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb strings.Builder
			if code := tandem(tc.args, &out, &errb); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out.Len() > 0 {
				t.Errorf("stdout %q", out.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, errb.String())
			}
		})
	}
}

// parsed runs args through the tree with every command's RunE replaced,
// and returns the command, its operands and the flags that were set.
func parsed(t *testing.T, args []string) string {
	t.Helper()
	var out, errb strings.Builder
	root := newRoot(&out, &errb)
	var got string
	var record func(c *cobra.Command)
	record = func(c *cobra.Command) {
		if c.RunE != nil && !c.DisableFlagParsing {
			c.RunE = func(c *cobra.Command, ops []string) error {
				got = c.Name()
				c.Flags().Visit(func(f *pflag.Flag) { got += " " + f.Name + "=" + f.Value.String() })
				for _, o := range ops {
					got += " " + o
				}
				return nil
			}
		}
		for _, s := range c.Commands() {
			record(s)
		}
	}
	record(root)
	if code := cli.Execute(root, args, &out, &errb); code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, errb.String())
	}
	return got
}

// The command lines that the README, the systemd unit and the lab's
// scenarios use mean what they meant with Go's flag package, and so do
// the Go-style spellings (-node, --c) that it accepted.
func TestCallers(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-c", "/etc/tandem/cluster.hcl"}, "run config=/etc/tandem/cluster.hcl"},
		{[]string{"run", "-c", "c.hcl", "--node", "d1", "--no-ipvs", "--log-level", "debug"}, "run config=c.hcl log-level=debug no-ipvs=true node=d1"},
		{[]string{"run", "-c", "c.hcl", "--node", "director", "--resync", "200ms"}, "run config=c.hcl node=director resync=200ms"},
		{[]string{"run", "--realtime", "10", "--lock-memory", "--log-level", "warn"}, "run lock-memory=true log-level=warn realtime=10"},
		{[]string{"run", "--resync", "-1s"}, "run resync=-1s"},
		{[]string{"run", "-c=c.hcl", "--socket=/run/x.sock", "--log-format", "json"}, "run config=c.hcl log-format=json socket=/run/x.sock"},
		{[]string{"check", "-c", "c.hcl"}, "check config=c.hcl"},
		{[]string{"check", "-c", "c.hcl", "--node", "director1"}, "check config=c.hcl node=director1"},
		{[]string{"check", "-c", "c.hcl", "--node", "n", "--local"}, "check config=c.hcl local=true node=n"},
		{[]string{"plan", "-c", "c.hcl"}, "plan config=c.hcl"},
		{[]string{"plan", "--kernel", "-c", "c.hcl", "--node", "d1"}, "plan config=c.hcl kernel=true node=d1"},
		{[]string{"plan", "-c", "c.hcl", "--json"}, "plan config=c.hcl json=true"},
		{[]string{"reload"}, "reload"},
		{[]string{"reload", "--json", "--socket", "/s"}, "reload json=true socket=/s"},
		{[]string{"status"}, "status"},
		{[]string{"status", "--json"}, "status json=true"},
		{[]string{"status", "--stats"}, "status stats=true"},
		{[]string{"status", "--rate"}, "status rate=true"},
		{[]string{"drain", "web", "rs2"}, "drain web rs2"},
		{[]string{"disable", "web", "rs2", "--now"}, "disable now=true web rs2"},
		{[]string{"disable", "--now", "echo", "rs2"}, "disable now=true echo rs2"},
		{[]string{"enable", "web", "rs2"}, "enable web rs2"},
		{[]string{"disable", "--", "-web", "rs2"}, "disable -web rs2"},
		// Go's flag package spellings.
		{[]string{"run", "-node", "d1", "-no-ipvs", "-log-level=debug"}, "run log-level=debug no-ipvs=true node=d1"},
		{[]string{"run", "--c", "c.hcl", "-socket", "-json"}, "run config=c.hcl socket=-json"},
		{[]string{"status", "-json"}, "status json=true"},
		{[]string{"disable", "-now", "web", "rs2"}, "disable now=true web rs2"},
		{[]string{"version"}, "version"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := parsed(t, tc.args); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		var out, errb strings.Builder
		if code := tandem([]string{"completion", sh}, &out, &errb); code != 0 || !strings.Contains(out.String(), "tandem") {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", sh, code, out.Len(), errb.String())
		}
	}
	// The shells ask tandem itself: flags and subcommands complete.
	var out, errb strings.Builder
	if code := tandem([]string{"__complete", "run", "--no"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "--node") || !strings.Contains(out.String(), "--no-ipvs") {
		t.Errorf("__complete run --no: exit %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := tandem([]string{"__complete", "st"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "status") {
		t.Errorf("__complete st: exit %d:\n%s", code, out.String())
	}
}

// The man pages hold every subcommand and flag and the exit statuses,
// and groff reads them without a warning.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	var out, errb strings.Builder
	if code := tandem([]string{"man", dir}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	written := strings.Fields(out.String())
	for name, flags := range subcommands {
		page := "tandem-" + name + ".1"
		if !slices.Contains(written, page) {
			t.Errorf("no %s in %v", page, written)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), `\-`, "-")
		if strings.Contains(text, "--socket") && !strings.Contains(text, `\fB--socket\fP="/run/tandem/tandem.sock"`) {
			t.Errorf("%s: the socket's default is not the documented one", page)
		}
		for _, f := range flags {
			if !strings.Contains(text, `\fB--`+f+`\fP`) {
				t.Errorf("%s lacks --%s", page, f)
			}
		}
	}
	top, err := os.ReadFile(filepath.Join(dir, "tandem.1"))
	if err != nil {
		t.Fatal(err)
	}
	for name := range subcommands {
		if !strings.Contains(strings.ReplaceAll(string(top), `\-`, "-"), `\fBtandem-`+name+`(1)\fP`) {
			t.Errorf("tandem.1 does not refer to tandem-%s(1)", name)
		}
	}
	if !strings.Contains(string(top), "Exit status: 0 success") {
		t.Error("tandem.1 lacks the exit statuses")
	}
	if !slices.Contains(written, "tandem-cluster.5") {
		t.Errorf("no tandem-cluster.5 in %v", written)
	}
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("no groff to render the pages")
	}
	for _, page := range written {
		cmd := exec.Command("groff", "-man", "-ww", "-z", filepath.Join(dir, page))
		if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("groff %s: %v\n%s", page, err, b)
		}
	}
}

func TestBuildOf(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	b := buildOf(bi)
	if got, want := b.short(), "v1.2.3 0123456789ab go1.26.8"; got != want {
		t.Errorf("short: %q, want %q", got, want)
	}
	for _, s := range []string{"tandem v1.2.3\n", "commit: 0123456789abcdef0123456789abcdef01234567 (modified)\n", "date:   2026-12-01T10:00:00Z\n", "go:     go1.26.8 "} {
		if !strings.Contains(b.text(), s) {
			t.Errorf("text lacks %q:\n%s", s, b.text())
		}
	}
	if got := buildOf(&debug.BuildInfo{GoVersion: "go1.26.8"}).text(); strings.Contains(got, "commit") || !strings.HasPrefix(got, "tandem (devel)\n") {
		t.Errorf("no VCS: %q", got)
	}
}

// Two builds of the same tree, as the packages are built (CGO_ENABLED=0,
// -trimpath, the VCS stamped), are the same bytes, and say which commit
// they are.
func TestReproducibleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tandem twice")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git: the VCS is not stamped")
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	var bins [2][]byte
	for i := range bins {
		out := filepath.Join(t.TempDir(), "tandem")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=true")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		if bins[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			v, err := exec.Command(out, "version").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(v), "commit: "+strings.TrimSpace(string(rev))) || !strings.Contains(string(v), "date: ") {
				t.Errorf("tandem version does not name commit %s:\n%s", rev, v)
			}
		}
	}
	if !bytes.Equal(bins[0], bins[1]) {
		t.Errorf("two builds differ (%d and %d bytes)", len(bins[0]), len(bins[1]))
	}
}
