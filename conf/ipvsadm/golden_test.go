package ipvsadm

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tandem-lb/tandem/conf"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestGolden imports each input of testdata (lvs_nat.sh, the article's
// mangled copy, ipvsadm-save samples) and compares the cluster file and
// the findings with NAME.hcl and NAME.findings.
func TestGolden(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.sh")
	saves, _ := filepath.Glob("testdata/*.save")
	inputs = append(inputs, saves...)
	if len(inputs) < 3 {
		t.Fatalf("testdata has %d inputs", len(inputs))
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Import(filepath.Base(in), src)
			if err != nil {
				t.Fatal(err)
			}
			if _, diags := conf.Parse(res.HCL, "out.hcl"); diags.HasErrors() {
				t.Fatalf("output does not parse: %v\n%s", diags, res.HCL)
			}
			var fs strings.Builder
			for _, f := range res.Findings {
				fs.WriteString(f.String() + "\n")
			}
			base := strings.TrimSuffix(in, filepath.Ext(in))
			for _, g := range []struct{ file, got string }{{base + ".hcl", string(res.HCL)}, {base + ".findings", fs.String()}} {
				if *update {
					if err := os.WriteFile(g.file, []byte(g.got), 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(g.file)
				if err != nil {
					t.Fatalf("%v (run go test -update)", err)
				}
				if d := cmp.Diff(string(want), g.got); d != "" {
					t.Errorf("%s differs (-want +got):\n%s", g.file, d)
				}
			}
		})
	}
}
