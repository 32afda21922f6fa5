package conf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Files maps a file name to its source, so that diagnostics can be printed
// with a snippet. Load returns it; after Parse, use Files{name: src}.
type Files map[string][]byte

// WriteDiagnostics prints diags to w, one per entry, in the form
//
//	cluster.hcl:12:5: error: Unsupported argument; An argument named "adress" is not expected here. Did you mean "address"?
//	   12 |     adress = "192.0.2.11:80"
//	      |     ^^^^^^
//
// The snippet is left out when f has no source for the file. f may be nil.
func (f Files) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(FormatDiagnostic(d))
		b.WriteByte('\n')
		if d.Subject != nil {
			b.WriteString(snippet(f[d.Subject.Filename], *d.Subject))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FormatDiagnostic returns the one-line form of d:
// "file:line:col: severity: summary; detail".
func FormatDiagnostic(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	msg := sev + ": " + d.Summary
	if d.Detail != "" {
		msg += "; " + d.Detail
	}
	if r := d.Subject; r != nil {
		switch {
		case r.Start.Line > 0:
			return fmt.Sprintf("%s:%d:%d: %s", r.Filename, r.Start.Line, r.Start.Column, msg)
		case r.Filename != "":
			return r.Filename + ": " + msg
		}
	}
	return msg
}

// snippet returns the source line of r with carets under the range.
func snippet(src []byte, r hcl.Range) string {
	if src == nil || r.Start.Line < 1 || r.Start.Byte > len(src) {
		return ""
	}
	start := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	end := len(src)
	if i := bytes.IndexByte(src[r.Start.Byte:], '\n'); i >= 0 {
		end = r.Start.Byte + i
	}
	line := strings.TrimRight(string(src[start:end]), "\r")
	var pad strings.Builder
	for _, c := range string(src[start:r.Start.Byte]) {
		if c == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	n := 1
	if e := min(max(r.End.Byte, r.Start.Byte), end); e > r.Start.Byte {
		n = utf8.RuneCount(src[r.Start.Byte:e])
	}
	num := fmt.Sprint(r.Start.Line)
	return fmt.Sprintf("  %s | %s\n  %s | %s%s\n", num, line, strings.Repeat(" ", len(num)), pad.String(), strings.Repeat("^", n))
}
