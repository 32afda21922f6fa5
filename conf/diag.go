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

// Output bounds: what a file with many errors, or very long lines, can
// make WriteDiagnostics print.
const (
	// MaxDiagnostics is how many diagnostics are printed; the rest are
	// counted in one closing line.
	MaxDiagnostics = 20
	// maxSnippet is the widest snippet line, in characters: a longer
	// line is shown as a window around the error, … marking the cuts.
	maxSnippet = 100
	// maxMessage is the longest summary or detail, in characters.
	maxMessage = 300
)

// WriteDiagnostics prints diags to w, one per entry, in the form
//
//	cluster.hcl:12:5: error: Unsupported argument; An argument named "adress" is not expected here. Did you mean "address"?
//	   12 |     adress = "192.0.2.11:80"
//	      |     ^^^^^^
//
// The snippet is left out when f has no source for the file. f may be nil.
//
// The output is bounded whatever the file: the first MaxDiagnostics
// diagnostics, then a line counting the rest; a snippet is a window of
// at most 100 characters around the error; a summary or detail is cut at
// 300 characters. (Parse itself keeps only the first few errors of a file
// that is not HCL at all, so that its lines are not echoed.)
func (f Files) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var b strings.Builder
	for i, d := range diags {
		if i == MaxDiagnostics {
			rest := diags[i:]
			errs := len(rest.Errs())
			fmt.Fprintf(&b, "... and %d more (%d error(s), %d warning(s)) not shown\n", len(rest), errs, len(rest)-errs)
			break
		}
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
// "file:line:col: severity: summary; detail", summary and detail each cut
// at 300 characters.
func FormatDiagnostic(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	msg := sev + ": " + clip(d.Summary, maxMessage)
	if d.Detail != "" {
		msg += "; " + clip(d.Detail, maxMessage)
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

// clip cuts s to n characters, marking the cut with …; line breaks in s
// become spaces, so that a diagnostic stays on one line.
func clip(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// snippet returns the source line of r with carets under the range; a
// line wider than maxSnippet is shown as a window starting a little
// before the error.
func snippet(src []byte, r hcl.Range) string {
	if src == nil || r.Start.Line < 1 || r.Start.Byte > len(src) {
		return ""
	}
	start := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	end := len(src)
	if i := bytes.IndexByte(src[r.Start.Byte:], '\n'); i >= 0 {
		end = r.Start.Byte + i
	}
	line := []rune(strings.TrimRight(string(src[start:end]), "\r"))
	col := utf8.RuneCount(src[start:r.Start.Byte]) // the error's column, from 0
	n := 1
	if e := min(max(r.End.Byte, r.Start.Byte), end); e > r.Start.Byte {
		n = utf8.RuneCount(src[r.Start.Byte:e])
	}
	// The window: maxSnippet characters, from 20 before the error.
	from, to := 0, len(line)
	if len(line) > maxSnippet {
		from = max(0, min(col-20, len(line)-maxSnippet))
		to = from + maxSnippet
	}
	var text, pad strings.Builder
	if from > 0 {
		text.WriteString("…")
		pad.WriteByte(' ')
	}
	text.WriteString(string(line[from:min(to, len(line))]))
	if to < len(line) {
		text.WriteString("…")
	}
	for _, c := range line[from:min(col, len(line))] {
		if c == '\t' {
			pad.WriteByte('\t')
		} else {
			pad.WriteByte(' ')
		}
	}
	n = max(1, min(n, to-col))
	num := fmt.Sprint(r.Start.Line)
	return fmt.Sprintf("  %s | %s\n  %s | %s%s\n", num, text.String(), strings.Repeat(" ", len(num)), pad.String(), strings.Repeat("^", n))
}
