package conf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// deepFile is issue 11's crash: 70 000 nested brackets overflowed hcl's
// recursive parser (a fatal error, not a panic).
func deepFile(n int) []byte {
	return []byte("node \"a\" {\n  interfaces = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n}\n")
}

// No file crashes Load or Parse or makes them block or exhaust memory:
// each is refused with a diagnostic that names the file (and, where
// there is one, the place).
func TestHostileInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.hcl")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, tc := range []struct {
		name, path string
		want       string // in the one-line diagnostic
	}{
		{"deep nesting", write("deep.hcl", deepFile(70000)), "deep.hcl:2:"},
		{"deep nesting (message)", write("deep2.hcl", deepFile(70000)), "Nested too deeply"},
		{"deep braces", write("braces.hcl", []byte(strings.Repeat("a {\n", 5000))), "Nested too deeply"},
		{"deep templates", write("tpl.hcl", []byte(`x = "`+strings.Repeat("${\"", 3000)+"\n")), "Nested too deeply"},
		{"/dev/zero", "/dev/zero", "is not a regular file"},
		{"fifo", fifo, "is not a regular file"},
		{"directory", dir, "is not a regular file"},
		{"too large", big, "more than the 8 MiB"},
		{"NUL byte", write("nul.hcl", []byte("node \"a\" {}\n\x00\n")), "nul.hcl:2:1: error: Not a text file"},
		{"invalid UTF-8", write("latin1.hcl", []byte("# caf\xe9\nnode \"a\" {}\n")), "latin1.hcl:1:6: error: Invalid UTF-8"},
		{"missing", filepath.Join(dir, "nope.hcl"), "check the path given with -c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			c, _, diags := Load(tc.path)
			if c != nil || !diags.HasErrors() {
				t.Fatalf("loaded: %v", diags)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v", took)
			}
			got := FormatDiagnostic(diags[0])
			if !strings.Contains(got, tc.want) {
				t.Errorf("diagnostic %q lacks %q", got, tc.want)
			}
			if diags[0].Subject == nil || diags[0].Subject.Filename != tc.path {
				t.Errorf("diagnostic does not name the file: %+v", diags[0].Subject)
			}
		})
	}
}

// Nesting up to MaxNesting is fine (a file that needs it parses).
func TestNestingLimit(t *testing.T) {
	ok := "node \"a\" {\n  interfaces = " + strings.Repeat("[", MaxNesting-2) + strings.Repeat("]", MaxNesting-2) + "\n}\n"
	if d := screen([]byte(ok), "x.hcl"); d != nil {
		t.Errorf("depth %d refused: %v", MaxNesting-1, d)
	}
	// Brackets in strings and comments are not nesting.
	s := "# " + strings.Repeat("[", 1000) + "\nnode \"a\" { hostname = \"" + strings.Repeat("[", 1000) + "\" }\n"
	if d := screen([]byte(s), "x.hcl"); d != nil {
		t.Errorf("brackets in a comment or string counted: %v", d)
	}
}

// A panic below Parse is an error, not a crash.
func TestParseRecovers(t *testing.T) {
	// hclsyntax is sound on every input the fuzzer found; a nil body
	// stands in for a bug further down.
	c, diags := func() (c *Cluster, diags hcl.Diagnostics) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("panic escaped: %v", r)
			}
		}()
		return parseWith(func() { panic("boom") })
	}()
	if c != nil || len(diags) != 1 || !strings.Contains(FormatDiagnostic(diags[0]), "Internal error") {
		t.Errorf("got %v, %v", c, diags)
	}
}

func parseWith(hook func()) (*Cluster, hcl.Diagnostics) {
	parseHook = hook
	defer func() { parseHook = nil }()
	return Parse([]byte("node \"a\" {}\n"), "x.hcl")
}
