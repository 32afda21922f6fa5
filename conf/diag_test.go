package conf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Whatever the file, what WriteDiagnostics prints is bounded: issue 11
// found 50 000 errors printed in full, a 1 MB bad string turned into
// 3 MB of output, and a non-HCL file echoed line by line.
func TestDiagnosticsBounded(t *testing.T) {
	print := func(src string) string {
		_, diags := Parse([]byte(src), "b.hcl")
		if !diags.HasErrors() {
			t.Fatal("no error")
		}
		var b strings.Builder
		Files{"b.hcl": []byte(src)}.WriteDiagnostics(&b, diags)
		return b.String()
	}
	t.Run("50 000 errors", func(t *testing.T) {
		var src strings.Builder
		src.WriteString("node \"a\" {}\n")
		for i := range 50000 {
			fmt.Fprintf(&src, "bogus%d = 1\n", i)
		}
		out := print(src.String())
		if n := strings.Count(out, ": error: "); n != MaxDiagnostics {
			t.Errorf("%d errors printed, want %d", n, MaxDiagnostics)
		}
		if !strings.Contains(out, "... and ") || len(out) > 16<<10 {
			t.Errorf("%d bytes, closing line missing or output unbounded:\n%.2000s", len(out), out)
		}
	})
	t.Run("1 MB bad string", func(t *testing.T) {
		out := print("node \"a\" { hostname = \"" + strings.Repeat("x ", 512<<10) + "\" }\n")
		if len(out) > 4<<10 {
			t.Errorf("%d bytes of output for one error", len(out))
		}
	})
	t.Run("not HCL", func(t *testing.T) {
		var src strings.Builder
		for i := range 40 {
			fmt.Fprintf(&src, "user%d:x:%d:%d::/home/u:/bin/sh\n", i, i, i)
		}
		out := print(src.String())
		if n := strings.Count(out, ":x:"); n > maxSyntaxErrors {
			t.Errorf("%d lines of the file echoed, want at most %d:\n%s", n, maxSyntaxErrors, out)
		}
		if !strings.Contains(out, "is this an HCL cluster file?") {
			t.Errorf("no hint:\n%s", out)
		}
	})
}

// A long line is shown as a window around the error, with the carets
// under the right characters.
func TestSnippetWindow(t *testing.T) {
	line := strings.Repeat("a", 5000) + "XYZ" + strings.Repeat("b", 5000)
	src := []byte(line + "\n")
	r := rangeAt(src, 5000, 5003)
	got := snippet(src, r)
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("snippet:\n%s", got)
	}
	text, carets := lines[0], lines[1]
	if len([]rune(text)) > maxSnippet+20 {
		t.Errorf("snippet line of %d characters", len([]rune(text)))
	}
	i := strings.Index(text, "XYZ")
	j := strings.Index(carets, "^^^")
	if i < 0 || j < 0 || len([]rune(text[:i])) != len([]rune(carets[:j])) || strings.Count(carets, "^") != 3 {
		t.Errorf("carets not under XYZ:\n%s", got)
	}
	if !strings.Contains(text, "…a") || !strings.HasSuffix(text, "b…") {
		t.Errorf("cuts not marked:\n%s", got)
	}
}

func rangeAt(src []byte, from, to int) hcl.Range {
	return hcl.Range{Filename: "x",
		Start: hcl.Pos{Line: 1, Column: from + 1, Byte: from},
		End:   hcl.Pos{Line: 1, Column: to + 1, Byte: to}}
}
