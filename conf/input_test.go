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
		// hcl recurses once per unary operator: these overflowed its stack
		// (a fatal error), and 200 000 unclosed ifs took minutes (its
		// search for each one's endif).
		{"minus signs", write("minus.hcl", []byte("x = "+strings.Repeat("-", 1_000_000)+"1\n")), "minus.hcl:1:69: error: Nested too deeply"},
		{"spaced minus signs", write("minus2.hcl", []byte("x = "+strings.Repeat("- ", 500_000)+"1\n")), "Nested too deeply"},
		{"negations", write("bang.hcl", []byte("x = "+strings.Repeat("!", 1_000_000)+"true\n")), "Nested too deeply"},
		{"unclosed ifs", write("ifs.hcl", []byte(`x = "`+strings.Repeat("%{if true}", 200_000)+"\"\n")), "Nested too deeply"},
		// hcl makes a big.Float of every number: 5 million digits took 31 s.
		{"long number", write("digits.hcl", []byte("x = "+strings.Repeat("9", 7_000_000)+"\n")), "digits.hcl:1:5: error: Number too long"},
		{"long fraction", write("frac.hcl", []byte("node \"a\" {}\nx = 1."+strings.Repeat("0", 5_000_000)+"1\n")), "frac.hcl:2:5: error: Number too long"},
		{"long exponent", write("exp.hcl", []byte("x = 1e"+strings.Repeat("9", 1_000_000)+"\n")), "Number too long"},
		{"nested fors", write("fors.hcl", []byte("x = <<EOT\n"+strings.Repeat("%{~ for a in b ~}", 100_000)+strings.Repeat("%{endfor}", 100_000)+"\nEOT\n")), "Nested too deeply"},
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
	// Nor are operators that are not unary, names with dashes, closed
	// directives one after another, or dashes and bangs in strings.
	for _, s := range []string{
		"x = " + strings.Repeat("1 - -1 - ", 1000) + "1\n",
		"x = " + strings.Repeat("a != !b && ", 1000) + "c\n",
		"x = " + strings.Repeat("-a-b--c ", 1000) + "\n",
		"x = \"" + strings.Repeat("%{ if a }%{ for b in c }d%{ endfor }%{ else }e%{ endif }", 1000) + "\"\n",
		"x = \"" + strings.Repeat("-!", 1000) + "\"\n",
		"x = \"%{if a}\"\n" + strings.Repeat("y = \"%{if a}\"\n", 1000), // each unclosed if is hcl's error to name
		"x = " + strings.Repeat("-", MaxNesting) + "1\n",
		"x = " + strings.Repeat("9", maxNumber) + " + 1.5e-3 + 4294967295\n",
		"x = \"" + strings.Repeat("9", 10*maxNumber) + "\"\n",
	} {
		if d := screen([]byte(s), "x.hcl"); d != nil {
			t.Errorf("%.40q…: %v", s, d)
		}
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
