package conf

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse: no input makes Parse panic, hang or crash; it returns a
// Cluster and no errors, or no Cluster and errors that each name a
// place in the file. Seeds are the test files and the shapes of issue
// 11's hostile inputs; testdata/fuzz/FuzzParse holds what the fuzzer
// found.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.hcl", "full.hcl", "dr.hcl", "fwmark.hcl", "bad.hcl"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(deepFile(MaxNesting + 1))
	f.Add([]byte("node \"a\" {\n  hostname = \"${5+5}\"\n}\n"))
	f.Add([]byte("node \"a\" {}\nvrrp \"x\" {\n  notify = [<<EOT\n${a}\nEOT\n  ]\n}\n"))
	f.Add([]byte("# caf\xe9\nnode \"a\" {}\n"))
	f.Add([]byte("node \"a\" { priority = true ? 1 : 2 }\n/* unterminated"))
	f.Add([]byte(`x = "${"${"${[{(`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, diags := Parse(src, "f.hcl")
		if (c == nil) != diags.HasErrors() {
			t.Fatalf("cluster %v with errors %v", c != nil, diags)
		}
		for _, d := range diags {
			if d.Subject == nil || d.Subject.Filename != "f.hcl" {
				t.Fatalf("diagnostic without a place: %s", FormatDiagnostic(d))
			}
		}
		// Printing is bounded and does not panic either.
		var b strings.Builder
		Files{"f.hcl": src}.WriteDiagnostics(&b, diags)
		if b.Len() > 64<<10 {
			t.Fatalf("%d bytes of diagnostics", b.Len())
		}
	})
}
