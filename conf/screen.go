package conf

import "bytes"

// scan walks src once, without allocating per token, and returns an
// estimate of its token count and the offset where its nesting first
// exceeds maxDepth (-1 if never). It knows just enough of HCL's lexical
// structure for that: comments (#, //, /* */), quoted strings with
// escapes, heredocs, and template sequences (${ and %{) inside both,
// which may hold strings of their own. Brackets in comments and string
// text do not count; every opening bracket, brace, parenthesis, quoted
// string, heredoc and template sequence does.
//
// It is a guard run before hcl's parser, which recurses once per level
// and keeps about 400 bytes a token: the count is an upper-bound-ish
// estimate (a word, a number, a punctuation mark, a string), not hcl's
// exact token count.
func scan(src []byte, maxDepth int) (tokens, deepAt int) {
	const (
		code    = iota // brackets, braces, parentheses, template sequences
		quoted         // inside "..."
		heredoc        // inside <<EOF ... EOF
	)
	type frame struct {
		kind int
		end  []byte // a heredoc's closing marker
	}
	stack := []frame{{kind: code}}
	deepAt = -1
	push := func(f frame, at int) {
		stack = append(stack, f)
		if len(stack)-1 > maxDepth && deepAt < 0 {
			deepAt = at
		}
	}
	pop := func() {
		if len(stack) > 1 {
			stack = stack[:len(stack)-1]
		}
	}
	word := func(c byte) bool {
		return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(src) && deepAt < 0; {
		c := src[i]
		switch top := stack[len(stack)-1]; top.kind {
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
			case word(c):
				tokens++
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
	return tokens, deepAt
}
