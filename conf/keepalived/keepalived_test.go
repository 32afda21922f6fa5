package keepalived

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/conf/importer"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// mustImport imports files and fails the test unless the output passes
// conf.Parse.
func mustImport(t *testing.T, paths ...string) *importer.Result {
	t.Helper()
	res, err := Import(paths)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	checkParses(t, res.HCL)
	return res
}

func checkParses(t testing.TB, src []byte) {
	t.Helper()
	_, diags := conf.Parse(src, "cluster.hcl")
	if diags.HasErrors() {
		t.Fatalf("output does not parse: %v\n%s", diags, src)
	}
}

// write puts files (name → content) in a temporary directory and returns
// the path of the first name given.
func write(t testing.TB, files ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var out []string
	for i := 0; i+1 < len(files); i += 2 {
		p := filepath.Join(dir, files[i])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[i+1]), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// findingLines renders findings without the temporary directory.
func findingLines(fs []importer.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		f.File = filepath.Base(f.File)
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSamples(t *testing.T) {
	samples, err := filepath.Glob("testdata/samples/keepalived.conf.*")
	if err != nil || len(samples) == 0 {
		t.Fatal("no samples")
	}
	for _, s := range samples {
		if strings.HasSuffix(s, ".findings") || strings.HasSuffix(s, ".hcl") {
			continue
		}
		t.Run(filepath.Base(s), func(t *testing.T) {
			res := mustImport(t, s)
			got := findingLines(res.Findings)
			for _, g := range []struct{ ext, got string }{{".findings", got}, {".hcl", string(res.HCL)}} {
				golden := s + g.ext
				if *update {
					if err := os.WriteFile(golden, []byte(g.got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if string(want) != g.got {
					t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, g.got, want)
				}
			}
		})
	}
}
