package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// readmeExample returns the first ```hcl block of the README.
func readmeExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```hcl\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatal("README has no hcl example")
	}
	return string(m[1])
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "cluster.hcl")
	if err := os.WriteFile(good, []byte(readmeExample(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		file     string
		code     int
		stdout   string
		stderr   []string
		stderrRe string
	}{
		{name: "README example", file: good, code: 0, stdout: "ok (2 nodes, 2 vrrp instances, 1 virtual servers, 2 real servers)"},
		{
			name: "three errors", file: "../../conf/testdata/bad.hcl", code: 1,
			stderr: []string{
				"bad.hcl:16:5: error: Unsupported argument",
				`Did you mean "address"?`,
				"bad.hcl:22:15: error: Duplicate real server",
				"bad.hcl:25:15: error: Invalid address",
				"3 error(s)",
			},
		},
		{name: "missing file", file: filepath.Join(dir, "nope.hcl"), code: 1, stderrRe: `nope\.hcl`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			code := tandem([]string{"check", "-c", tc.file}, &out, &errb)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tc.stdout)
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, errb.String())
				}
			}
			if tc.stderrRe != "" && !regexp.MustCompile(tc.stderrRe).MatchString(errb.String()) {
				t.Errorf("stderr %q does not match %s", errb.String(), tc.stderrRe)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	var out, errb strings.Builder
	if code := tandem(nil, &out, &errb); code != 2 {
		t.Errorf("no args: exit %d, want 2", code)
	}
	if code := tandem([]string{"frobnicate"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errb.String())
	}
	out.Reset()
	if code := tandem([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "tandem ") {
		t.Errorf("version: exit %d, stdout %q", code, out.String())
	}
}

// Every scheduler the cluster file accepts is one the ipvs package can
// program.
func TestSchedulersAgree(t *testing.T) {
	if d := cmp.Diff(conf.Schedulers, ipvs.Schedulers); d != "" {
		t.Errorf("conf and ipvs disagree on schedulers (-conf +ipvs):\n%s", d)
	}
}
