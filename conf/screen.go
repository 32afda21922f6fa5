package conf

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// screen returns an error for a source hcl's parser must not see: larger
// than MaxFileSize, with a NUL byte or invalid UTF-8 (not a text file), or
// nested deeper than MaxNesting, or with more than MaxTokens tokens
// (scan: one pass, no allocation per token; hcl's own lexer costs as
// much memory as its parser). Brackets inside strings and comments do
// not count; runs of unary operators and open template directives do.
func screen(src []byte, filename string) *hcl.Diagnostic {
	at := func(off int) *hcl.Range {
		pos := hcl.Pos{Line: 1 + bytes.Count(src[:off], []byte("\n")), Byte: off}
		pos.Column = 1 + utf8.RuneCount(src[bytes.LastIndexByte(src[:off], '\n')+1:off])
		return &hcl.Range{Filename: filename, Start: pos, End: hcl.Pos{Line: pos.Line, Column: pos.Column + 1, Byte: off + 1}}
	}
	if len(src) > MaxFileSize {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "File too large",
			Detail:  fmt.Sprintf("the file is %d bytes, more than the %d MiB a cluster file may have. Hint: is this the cluster file?", len(src), MaxFileSize>>20),
			Subject: &hcl.Range{Filename: filename}}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Not a text file",
			Detail: "the file contains a NUL byte: it is not an HCL cluster file. Hint: check the path given with -c.", Subject: at(i)}
	}
	if !utf8.Valid(src) {
		i := 0
		for i < len(src) {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid UTF-8",
			Detail: "the file is not valid UTF-8 text. Hint: save it as UTF-8; check the path given with -c.", Subject: at(i)}
	}
	tokens, deep, long := scan(src, MaxNesting)
	if long >= 0 {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Number too long",
			Detail:  fmt.Sprintf("a number here has more than %d digits. Hint: no setting takes a number that long; check the value.", maxNumber),
			Subject: at(long)}
	}
	if deep >= 0 {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nested too deeply",
			Detail:  fmt.Sprintf("brackets, braces, strings, templates, their %%{if} and %%{for} directives and unary operators (- and !) nest more than %d deep here. Hint: a cluster file nests a few levels; check for unbalanced brackets.", MaxNesting),
			Subject: at(deep)}
	}
	if tokens > MaxTokens {
		return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "File too large",
			Detail:  fmt.Sprintf("the file has more than %d tokens (words, numbers, strings and punctuation). Hint: a cluster file of 130 000 real servers has about 1.3 million; is this the cluster file?", MaxTokens),
			Subject: &hcl.Range{Filename: filename}}
	}
	return nil
}

// scan walks src once, without allocating per token, and returns an
// estimate of its token count and the offset where its nesting first
// exceeds maxDepth (-1 if never). It knows just enough of HCL's lexical
// structure for that: comments (#, //, /* */), quoted strings with
// escapes, heredocs, and template sequences (${ and %{) inside both,
// which may hold strings of their own. Brackets in comments and string
// text do not count; every opening bracket, brace, parenthesis, quoted
// string, heredoc and template sequence does.
//
// A number literal longer than maxNumber is refused (longAt): hcl turns
// each into a big.Float, which took 31 s for 5 million digits.
//
// It is a guard run before hcl's parser, which recurses once per level
// and keeps about 400 bytes a token: the count is an upper-bound-ish
// estimate (a word, a number, a punctuation mark, a string), not hcl's
// exact token count.
func scan(src []byte, maxDepth int) (tokens, deepAt, longAt int) {
	const (
		code    = iota // brackets, braces, parentheses, template sequences
		quoted         // inside "..."
		heredoc        // inside <<EOF ... EOF
	)
	type frame struct {
		kind int
		end  []byte // a heredoc's closing marker
		open int    // a template's directives not yet closed
	}
	stack := []frame{{kind: code}}
	deepAt, longAt = -1, -1
	// hcl's parser also recurses once per unary operator (- and !) in a
	// row, and once per open template directive (%{if}, %{for}), which
	// it closes with a linear search: 100 000 unclosed ifs took 15 s, and
	// a run of 500 000 minus signs overflowed the stack. Both count as
	// nesting.
	unary, directives := 0, 0
	check := func(at int) {
		if len(stack)-1+unary+directives > maxDepth && deepAt < 0 {
			deepAt = at
		}
	}
	push := func(f frame, at int) {
		stack = append(stack, f)
		check(at)
	}
	pop := func() {
		if len(stack) > 1 {
			directives -= stack[len(stack)-1].open
			stack = stack[:len(stack)-1]
		}
	}
	word := func(c byte) bool {
		return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(src) && deepAt < 0 && longAt < 0; {
		c := src[i]
		top := stack[len(stack)-1]
		if top.kind == code && c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '#' && c != '/' && c != '-' && c != '!' {
			unary = 0 // an operand or another operator ends a run of unary ones
		}
		switch top.kind {
		case quoted, heredoc:
			switch {
			case top.kind == quoted && c == '\\' && i+1 < len(src):
				i += 2
			case top.kind == quoted && c == '"':
				pop()
				i++
			case top.kind == quoted && c == '\n':
				pop() // an unterminated string ends at the line (hcl says so)
				i++
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				if i+2 < len(src) && src[i+2] == '{' { // $${ is an escape
					i += 3
					continue
				}
				tokens++
				if c == '%' {
					if d := directive(src[i+2:]); d > 0 || stack[len(stack)-1].open > 0 {
						stack[len(stack)-1].open += d
						directives += d
					}
				}
				push(frame{kind: code}, i)
				i += 2
			case top.kind == heredoc && c == '\n':
				j := i + 1
				k := bytes.IndexByte(src[j:], '\n')
				if k < 0 {
					k = len(src) - j
				}
				if bytes.Equal(bytes.TrimSpace(src[j:j+k]), top.end) {
					pop()
					tokens++
					i = j + k
					continue
				}
				i++
			default:
				i++
			}
		default:
			switch {
			case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
				k := bytes.IndexByte(src[i:], '\n')
				if k < 0 {
					k = len(src) - i
				}
				i += k
			case c == '/' && i+1 < len(src) && src[i+1] == '*':
				k := bytes.Index(src[i+2:], []byte("*/"))
				if k < 0 {
					k = len(src) - i - 4
				}
				i += k + 4
			case c == '"':
				tokens++
				push(frame{kind: quoted}, i)
				i++
			case c == '<' && i+2 < len(src) && src[i+1] == '<' && (word(src[i+2]) || src[i+2] == '-'):
				j := i + 2
				if src[j] == '-' {
					j++
				}
				k := j
				for k < len(src) && word(src[k]) {
					k++
				}
				tokens++
				push(frame{kind: heredoc, end: src[j:k]}, i)
				i = k
			case c == '{' || c == '[' || c == '(':
				tokens++
				push(frame{kind: code}, i)
				i++
			case c == '}' || c == ']' || c == ')':
				tokens++
				pop()
				i++
			case c == '!' && (i+1 == len(src) || src[i+1] != '='):
				tokens++
				unary++
				check(i)
				i++
			case word(c):
				tokens++
				for i < len(src) && src[i] == '-' { // minus signs: no name starts with one
					unary++
					check(i)
					i++
				}
				if i < len(src) && word(src[i]) {
					unary = 0
				}
				if n := numberLen(src[i:]); n > maxNumber {
					longAt = i
				}
				for i < len(src) && word(src[i]) {
					i++
				}
			case c == ' ' || c == '\t' || c == '\r':
				i++
			default:
				tokens++
				i++
			}
		}
	}
	return tokens, deepAt, longAt
}

// directive tells what a template directive whose text, after its "%{",
// is b does to the template's nesting: 1 for if and for, -1 for endif and
// endfor, 0 for the others.
func directive(b []byte) int {
	b = bytes.TrimLeft(b, "~ \t")
	n := 0
	for n < len(b) && b[n] >= 'a' && b[n] <= 'z' {
		n++
	}
	switch string(b[:n]) {
	case "if", "for":
		return 1
	case "endif", "endfor":
		return -1
	}
	return 0
}

// maxNumber is the longest number literal a file may have, in bytes. A
// fwmark (4294967295) has 10 digits.
const maxNumber = 100

// numberLen is the length of the number literal b starts with (0 if
// none): digits, a fraction and an exponent, as hcl's scanner reads them.
func numberLen(b []byte) int {
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(b) == 0 || !digit(b[0]) {
		return 0
	}
	n := 0
	for n < len(b) && (digit(b[n]) || b[n] == '.') {
		n++
	}
	if n < len(b) && (b[n] == 'e' || b[n] == 'E') {
		n++
		if n < len(b) && (b[n] == '+' || b[n] == '-') {
			n++
		}
		for n < len(b) && digit(b[n]) {
			n++
		}
	}
	return n
}
