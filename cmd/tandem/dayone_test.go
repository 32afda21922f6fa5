package main

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
)

// Every subcommand's --help exits 0 with its usage on stdout; trailing
// arguments and bad flag values exit 2 before anything is done.
func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"--help"}, 0, "Usage:", ""},
		{"run help", []string{"run", "--help"}, 0, "-resync", ""},
		{"check help", []string{"check", "-h"}, 0, "-node", ""},
		{"realserver help", []string{"realserver", "--help"}, 0, "-undo", ""},
		{"version extra", []string{"version", "extra"}, 2, "", `unexpected argument "extra"`},
		{"check extra", []string{"check", "-c", "x.hcl", "extra"}, 2, "", `unexpected argument "extra"`},
		{"run extra", []string{"run", "-c", "x.hcl", "extra"}, 2, "", `unexpected argument "extra"`},
		{"realserver extra", []string{"realserver", "--undo", "extra"}, 2, "", `unexpected argument "extra"`},
		{"resync 0", []string{"run", "--resync", "0"}, 2, "", "bad --resync 0s: it must be between 100ms and 24h"},
		{"resync negative", []string{"run", "--resync", "-1s"}, 2, "", "bad --resync -1s"},
		{"resync huge", []string{"run", "--resync", "1000h"}, 2, "", "bad --resync"},
		{"realtime 100", []string{"run", "--realtime", "100"}, 2, "", "bad --realtime 100"},
		{"log level", []string{"run", "--log-level", "loud"}, 2, "", "bad --log-level"},
		{"bad flag", []string{"check", "--frob"}, 2, "", "unknown flag: --frob"},
		{"local without node", []string{"check", "--local"}, 2, "", "--local needs --node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := tandem(tc.args, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.stdout)
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Errorf("stderr %q lacks %q", errb.String(), tc.stderr)
			}
		})
	}
}

func TestCheckNode(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cluster.hcl")
	if err := os.WriteFile(good, []byte(readmeExample(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := tandem([]string{"check", "-c", good, "--node", "director2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, s := range []string{
		`node "director2" (hostname "director2", priority 100)`,
		`vrrp "public": vrid 51 v3 on eth0, priority 100, addresses 203.0.113.10/24`,
		"interfaces: eth0, eth1",
		"were not checked",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("stdout lacks %q:\n%s", s, out.String())
		}
	}
	out.Reset()
	errb.Reset()
	if code := tandem([]string{"check", "-c", good, "--node", "director3"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), `no node "director3"`) || !strings.Contains(errb.String(), `"director1"`) {
		t.Errorf("unknown node: exit %d, stderr %q", code, errb.String())
	}
}

func TestCheckHost(t *testing.T) {
	c, diags := conf.Parse([]byte(readmeExample(t)), "cluster.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	n, _ := c.Node("director1")
	a := netip.MustParseAddr
	for _, tc := range []struct {
		name string
		ifs  map[string][]netip.Addr
		want string
	}{
		{"all there", map[string][]netip.Addr{"lo": {a("127.0.0.1")}, "eth0": {a("203.0.113.2")}, "eth1": {a("192.168.100.2")}}, ""},
		{"eth1 missing", map[string][]netip.Addr{"lo": nil, "eth0": {a("203.0.113.2")}}, `interface "eth1" (vrrp "gateway", cluster.hcl:13:15) does not exist on this node ("director1"); its interfaces are: eth0, lo`},
		{"no address", map[string][]netip.Addr{"eth0": {a("203.0.113.2")}, "eth1": {a("192.168.100.1"), a("fe80::1")}}, `vrrp "gateway": interface eth1 has no address of its own`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHost(c, n, func() (map[string][]netip.Addr, error) { return tc.ifs, nil })
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCheckPrivileges(t *testing.T) {
	c, diags := conf.Parse([]byte(readmeExample(t)), "cluster.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	caps := func(v uint64) func() (uint64, error) { return func() (uint64, error) { return v, nil } }
	if err := checkPrivileges(c, true, caps(0)); err == nil ||
		!strings.Contains(err.Error(), "needs root, or the capabilities CAP_NET_ADMIN and CAP_NET_RAW") {
		t.Errorf("no caps: %v", err)
	}
	if err := checkPrivileges(c, true, caps(1<<capNetAdmin|1<<capNetRaw)); err != nil {
		t.Errorf("both caps: %v", err)
	}
	noVRRP := &conf.Cluster{}
	if err := checkPrivileges(noVRRP, false, caps(1<<capNetAdmin)); err != nil {
		t.Errorf("ipvs only, NET_ADMIN: %v", err)
	}
}

// One tandem run per node: the second lock fails naming the holder; the
// lock is free again once released.
func TestLockNode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	release, err := lockNode(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockNode(dir)
	if err == nil || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second lock: %v", err)
	}
	release()
	release2, err := lockNode(dir)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	release2()
}

// A bad file at start is printed as `tandem check` prints it (snippets,
// real newlines), not as one log line with escaped newlines.
func TestLoadErrorPrinted(t *testing.T) {
	var buf bytes.Buffer
	const path = "../../conf/testdata/bad.hcl"
	l := &loader{log: slog.New(slog.NewTextHandler(&buf, nil)), stderr: &buf, text: true}
	_, _, err := l.load(path)
	if err == nil {
		t.Fatal("bad.hcl loaded")
	}
	l.report("tandem not started", err)
	out := buf.String()
	for _, s := range []string{
		"bad.hcl:16:5: error: Unsupported argument",
		"\n  16 |", // the snippet, on a line of its own
		`msg="tandem not started" err="../../conf/testdata/bad.hcl is not valid (3 error(s)); the first: ../../conf/testdata/bad.hcl:16:5: error: Unsupported argument`,
	} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, `\n`) {
		t.Errorf("escaped newlines in the output:\n%s", out)
	}
	var js bytes.Buffer
	l = &loader{log: slog.New(slog.NewJSONHandler(&js, nil)), stderr: &js}
	_, _, err = l.load(path)
	l.report("tandem not started", err)
	if n := strings.Count(js.String(), `"diagnostic":"`); n != 3 {
		t.Errorf("json: %d diagnostic records, want 3:\n%s", n, js.String())
	}
}
