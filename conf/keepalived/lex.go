package keepalived

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tandem-lb/tandem/conf/importer"
)

// Bounds that keep a hostile input from exhausting the importer.
const (
	maxFileBytes   = 8 << 20  // one file
	maxTotalBytes  = 32 << 20 // all files of one node, includes too
	maxFiles       = 1000     // files read for one node
	maxIncludeNest = 16       // include depth
	maxDepth       = 32       // block nesting
	maxLineBytes   = 64 << 10 // one line after variable expansion
	maxTokens      = 1 << 20  // words of one node's input
	maxFindings    = 1000     // findings of one node's input
)

type tokKind int

const (
	tWord tokKind = iota
	tOpen
	tClose
	tEOL
)

type token struct {
	kind tokKind
	text string
	file string
	line int
}

// lexer reads keepalived's configuration files into words, as
// keepalived/core/parser.c does: one line at a time, with includes,
// conditional lines and variables resolved on the way.
type lexer struct {
	r        *reporter
	ids      map[string]bool // config ids @lines apply to
	node     string          // for the messages about @lines
	vars     map[string]string
	toks     []token
	files    int
	bytes    int
	comments map[string]map[int]string // file → line → full-line comment
	full     bool                      // maxTokens reached
}

var (
	varDef  = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$`)
	varUse  = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)
	seqLine = regexp.MustCompile(`^~SEQ\(`)
)

// readFile lexes one file; main says whether it is a file named on the
// command line (its absence is an error) or an include.
func (l *lexer) readFile(path string, nest int) error {
	if l.files >= maxFiles {
		return fmt.Errorf("%s: more than %d files or %d bytes in all", path, maxFiles, maxTotalBytes)
	}
	src, err := readSource(path)
	if err != nil {
		return err
	}
	if l.bytes+len(src) > maxTotalBytes {
		return fmt.Errorf("%s: more than %d files or %d bytes in all", path, maxFiles, maxTotalBytes)
	}
	l.files++
	l.bytes += len(src)
	l.lex(path, src, nest)
	return nil
}

// readSource reads path, a regular file of at most maxFileBytes (a
// device, a fifo or /proc file could be endless).
func readSource(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d this importer reads", path, st.Size(), maxFileBytes)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	src, err := io.ReadAll(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than this importer reads", path)
	}
	return src, nil
}

func (l *lexer) lex(path string, src []byte, nest int) {
	name := path
	badUTF := false
	if b, ok := bytes.CutPrefix(src, []byte("\uFEFF")); ok {
		// An editor's byte-order mark: keepalived reads it as part of
		// the first word, which that breaks.
		l.r.add(name, 1, "", importer.Changed, "a UTF-8 byte-order mark at the start (keepalived reads it as part of the first word): ignored")
		src = b
	}
	lines := strings.Split(string(src), "\n")
	for i, line := range lines {
		n := i + 1
		line = strings.TrimSuffix(line, "\r")
		if !utf8.ValidString(line) || strings.ContainsRune(line, 0) {
			if !badUTF {
				l.r.add(name, n, "", importer.Invalid, "not UTF-8 text (or a NUL byte): the bad bytes are read as U+FFFD")
				badUTF = true
			}
			line = strings.ToValidUTF8(line, "\uFFFD")
			line = strings.ReplaceAll(line, "\x00", "\uFFFD")
		}
		if len(line) > maxLineBytes {
			l.r.add(name, n, "", importer.Invalid, "line longer than 64 KiB: cut there")
			line = strings.ToValidUTF8(line[:maxLineBytes], "")
		}
		if len(l.toks) > maxTokens {
			l.r.add(name, n, "", importer.Invalid, fmt.Sprintf("more than %d words: the rest of the input is not read", maxTokens))
			l.full = true
		}
		if l.full {
			return
		}
		t := strings.TrimLeft(line, " \t")
		if strings.HasPrefix(t, "@") {
			id, rest, _ := strings.Cut(strings.TrimPrefix(t, "@"), " ")
			if j := strings.IndexByte(id, '\t'); j >= 0 {
				id, rest = id[:j], id[j+1:]+" "+rest
			}
			neg := strings.HasPrefix(id, "^")
			id = strings.TrimPrefix(id, "^")
			if l.ids[id] != neg {
				t = strings.TrimLeft(rest, " \t")
			} else {
				l.r.add(name, n, "@"+id, importer.NotTranslated, fmt.Sprintf("conditional line skipped for node %s (config id %q is not its router_id or file name): %s", l.node, id, clip(strings.TrimSpace(rest))))
				continue
			}
		}
		if m := varDef.FindStringSubmatch(t); m != nil {
			if l.vars == nil {
				l.vars = map[string]string{}
			}
			v := l.expand(name, n, strings.TrimSpace(m[2]))
			l.vars[m[1]] = v
			continue
		}
		if seqLine.MatchString(t) {
			l.r.add(name, n, "~SEQ", importer.NotTranslated, "sequence lines are not expanded: write the lines out")
			continue
		}
		if strings.Contains(t, "$") {
			t = l.expand(name, n, t)
		}
		words := l.split(name, n, t)
		if len(words) > 0 && words[0].kind == tWord && words[0].text == "include" {
			l.include(name, n, words[1:], nest)
			continue
		}
		if len(words) > 0 {
			l.toks = append(l.toks, words...)
			l.toks = append(l.toks, token{kind: tEOL, file: name, line: n})
		}
	}
}

func clip(s string) string {
	if len(s) > 80 {
		s = strings.ToValidUTF8(s[:80], "") + "…"
	}
	return s
}

// expand substitutes $VAR and ${VAR} as keepalived does: plain text.
func (l *lexer) expand(file string, line int, s string) string {
	for range 8 { // definitions may use definitions; bounded
		var b strings.Builder
		changed, cut := false, false
		last := 0
		for _, m := range varUse.FindAllStringSubmatchIndex(s, -1) {
			var k string
			if m[2] >= 0 {
				k = s[m[2]:m[3]]
			} else {
				k = s[m[4]:m[5]]
			}
			v, ok := l.vars[k]
			if !ok {
				continue
			}
			b.WriteString(s[last:m[0]])
			if b.Len()+len(v) > maxLineBytes {
				cut = true
				break
			}
			b.WriteString(v)
			last = m[1]
			changed = true
		}
		if cut {
			l.r.add(file, line, "$", importer.Invalid, "variable expansion longer than 64 KiB: line cut")
			return strings.ToValidUTF8(b.String(), "")
		}
		b.WriteString(s[last:])
		s = b.String()
		if len(s) > maxLineBytes {
			l.r.add(file, line, "$", importer.Invalid, "variable expansion longer than 64 KiB: line cut")
			return strings.ToValidUTF8(s[:maxLineBytes], "")
		}
		if !changed {
			break
		}
	}
	for _, m := range varUse.FindAllStringSubmatch(s, 4) {
		k := m[1] + m[2]
		l.r.add(file, line, "$"+k, importer.Invalid, "undefined variable: left as written")
	}
	return s
}

// split cuts one line into words: whitespace separates, "quoted strings"
// are one word, # and ! at a word's start begin a comment, { and } are
// words of their own.
func (l *lexer) split(file string, line int, s string) []token {
	var out []token
	var cur strings.Builder
	in := false
	flush := func() {
		if in {
			out = append(out, token{kind: tWord, text: cur.String(), file: file, line: line})
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r':
			flush()
		case (c == '#' || c == '!') && !in:
			if len(out) == 0 {
				l.noteComment(file, line, s[i+1:])
			}
			return out
		case c == '{' || c == '}':
			flush()
			k := tOpen
			if c == '}' {
				k = tClose
			}
			out = append(out, token{kind: k, text: string(c), file: file, line: line})
		case c == '"':
			in = true
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					j++
					cur.WriteByte(s[j])
					continue
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				l.r.add(file, line, "", importer.Invalid, "unterminated quoted string: read to the end of the line")
			}
			i = j
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

func (l *lexer) noteComment(file string, line int, text string) {
	if l.comments == nil {
		l.comments = map[string]map[int]string{}
	}
	if l.comments[file] == nil {
		l.comments[file] = map[int]string{}
	}
	l.comments[file][line] = strings.TrimSpace(text)
}

func (l *lexer) include(file string, line int, args []token, nest int) {
	if len(args) == 0 {
		l.r.add(file, line, "include", importer.Invalid, "include without a file")
		return
	}
	if nest >= maxIncludeNest {
		l.r.add(file, line, "include", importer.Invalid, fmt.Sprintf("includes nested more than %d deep (a loop?): not followed", maxIncludeNest))
		return
	}
	for _, a := range args {
		if a.kind != tWord {
			l.r.add(file, line, "include", importer.Invalid, "a brace on an include line")
			continue
		}
		pat := a.text
		if !filepath.IsAbs(pat) {
			pat = filepath.Join(filepath.Dir(file), pat)
		}
		matches, err := filepath.Glob(pat)
		if err != nil || len(matches) == 0 {
			l.r.add(file, line, "include", importer.Invalid, fmt.Sprintf("no file matches %q", a.text))
			continue
		}
		for _, m := range matches {
			if err := l.readFile(m, nest+1); err != nil {
				l.r.add(file, line, "include", importer.Invalid, fmt.Sprintf("cannot read %s: %v", m, err))
			}
		}
	}
}

// A stmt is one keepalived line: a keyword, its arguments and, for a
// block, the lines inside.
type stmt struct {
	kw    string
	args  []string
	file  string
	line  int
	block []*stmt
	isBlk bool
}

type parser struct {
	r    *reporter
	toks []token
	pos  int
}

// body parses statements until the closing brace (or the end of input
// at the top level).
func (p *parser) body(depth int, open *stmt) []*stmt {
	var out []*stmt
	for p.pos < len(p.toks) {
		t := p.toks[p.pos]
		switch t.kind {
		case tEOL:
			p.pos++
			continue
		case tClose:
			p.pos++
			if open == nil {
				p.r.add(t.file, t.line, "}", importer.Invalid, "a closing brace without an opening one: ignored")
				continue
			}
			return out
		case tOpen:
			p.r.add(t.file, t.line, "{", importer.Invalid, "an opening brace without a keyword: its block is ignored")
			p.pos++
			p.skip()
			continue
		}
		s := &stmt{kw: t.text, file: t.file, line: t.line}
		p.pos++
		for p.pos < len(p.toks) && p.toks[p.pos].kind == tWord {
			s.args = append(s.args, p.toks[p.pos].text)
			p.pos++
		}
		// a block opener may follow on the next line
		q := p.pos
		for q < len(p.toks) && p.toks[q].kind == tEOL {
			q++
		}
		if q < len(p.toks) && p.toks[q].kind == tOpen {
			p.pos = q + 1
			s.isBlk = true
			if depth >= maxDepth {
				p.r.add(s.file, s.line, s.kw, importer.Invalid, fmt.Sprintf("blocks nested more than %d deep: ignored", maxDepth))
				p.skip()
			} else {
				s.block = p.body(depth+1, s)
			}
		}
		out = append(out, s)
	}
	if open != nil {
		p.r.add(open.file, open.line, open.kw, importer.Invalid, "block not closed: a } is missing before the end of the input")
	}
	return out
}

// skip passes a block whose { was just read, without recursion.
func (p *parser) skip() {
	n := 1
	for p.pos < len(p.toks) && n > 0 {
		switch p.toks[p.pos].kind {
		case tOpen:
			n++
		case tClose:
			n--
		}
		p.pos++
	}
}
