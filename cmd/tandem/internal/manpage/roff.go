package manpage

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Header is a page's .TH line and NAME section.
type Header struct {
	Name    string // the page's name: tandem-cluster
	Section string // 5
	About   string // the NAME line's description
	Date    string // the .TH date
	Source  string // tandem v1.2.3
	Manual  string // the title of the manual: "File Formats"
}

var (
	headingRe = regexp.MustCompile(`^(#{1,6})\s+(.*)$`)
	itemRe    = regexp.MustCompile(`^(?:[-*+]|(\d+)[.)])\s+(.*)$`)
	linkRe    = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)\)`)
)

// FromMarkdown converts md, the CommonMark subset that tandem's READMEs
// use, to a man page: its first level-1 heading becomes the NAME section
// (h.About) and what follows it DESCRIPTION; level-2 headings are
// sections (upper-cased unless they hold code, which keeps its case),
// deeper ones subsections; paragraphs, bullet and numbered lists, fenced
// code blocks and tables (each row a tagged paragraph: the first cell is
// the tag, the others labelled by their column's header); inline `code`
// and **bold** in bold, links as their text (with the address when it is
// a web one). Raw HTML, block quotes and nested lists are not read as
// such: they come out as text.
func FromMarkdown(md string, h Header) []byte {
	var w roffWriter
	w.line(fmt.Sprintf(`.TH %s %s %s %s %s`, quote(strings.ToUpper(h.Name)), quote(h.Section),
		quote(h.Date), quote(h.Source), quote(h.Manual)))
	w.line(".SH NAME")
	w.line(escapeText(h.Name) + ` \- ` + escapeText(h.About))
	lines := strings.Split(strings.ReplaceAll(md, "\r\n", "\n"), "\n")
	started := false // past the title: DESCRIPTION is open
	for i := 0; i < len(lines); {
		l := lines[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			i++
		case strings.HasPrefix(t, "```"):
			fence := t[:strings.LastIndex(t, "`")+1]
			i++
			var code []string
			for ; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), fence); i++ {
				code = append(code, lines[i])
			}
			i++ // the closing fence
			w.open(&started)
			w.code(code)
		case headingRe.MatchString(t):
			m := headingRe.FindStringSubmatch(t)
			i++
			level, text := len(m[1]), strings.TrimRight(m[2], " #")
			switch {
			case level == 1 && !started:
				started = true
				w.line(".SH DESCRIPTION")
			case level <= 2:
				started = true
				if !strings.Contains(text, "`") {
					text = strings.ToUpper(text)
				}
				w.line(".SH")
				w.text(inline(text))
			default:
				w.open(&started)
				w.line(".SS")
				w.text(inline(text))
			}
		case strings.HasPrefix(t, "|"):
			var rows [][]string
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				rows = append(rows, cells(lines[i]))
			}
			w.open(&started)
			w.table(rows)
		case itemRe.MatchString(t):
			w.open(&started)
			for i < len(lines) {
				m := itemRe.FindStringSubmatch(strings.TrimSpace(lines[i]))
				if m == nil {
					break
				}
				para := []string{m[2]}
				for i++; i < len(lines) && continues(lines[i]) && !itemRe.MatchString(strings.TrimSpace(lines[i])); i++ {
					para = append(para, lines[i])
				}
				if m[1] != "" {
					w.line(".IP " + m[1] + ". 4")
				} else {
					w.line(`.IP \(bu 2`)
				}
				w.text(inline(strings.Join(para, "\n")))
				// A blank line between items keeps the list going.
				j := i
				for j < len(lines) && strings.TrimSpace(lines[j]) == "" {
					j++
				}
				if j < len(lines) && itemRe.MatchString(strings.TrimSpace(lines[j])) && !strings.HasPrefix(lines[j], " ") {
					i = j
				}
			}
		default:
			para := []string{l}
			for i++; i < len(lines) && continues(lines[i]); i++ {
				para = append(para, lines[i])
			}
			w.open(&started)
			w.line(".PP")
			w.text(inline(strings.Join(para, "\n")))
		}
	}
	return []byte(w.String())
}

// continues reports whether l goes on the paragraph above it: it is not
// blank and starts no other block.
func continues(l string) bool {
	t := strings.TrimSpace(l)
	return t != "" && !strings.HasPrefix(t, "```") && !strings.HasPrefix(t, "|") && !headingRe.MatchString(t) &&
		!(itemRe.MatchString(t) && !strings.HasPrefix(l, " "))
}

// cells splits a table row: | a | b `x|y` | c |.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	row = strings.TrimPrefix(row, "|")
	row = strings.TrimSuffix(row, "|")
	var out []string
	var cur strings.Builder
	code := false
	for i := 0; i < len(row); i++ {
		switch c := row[i]; {
		case c == '`':
			code = !code
			cur.WriteByte(c)
		case c == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case c == '|' && !code:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

var delimRow = regexp.MustCompile(`^:?-+:?$`)

// table writes each row of a table as a tagged paragraph: a terminal is
// too narrow for the columns of the cluster file's tables.
func (w *roffWriter) table(rows [][]string) {
	if len(rows) == 0 {
		return
	}
	head := rows[0]
	rows = rows[1:]
	if len(rows) > 0 && len(rows[0]) > 0 && delimRow.MatchString(rows[0][0]) {
		rows = rows[1:]
	}
	// The last column is the body when it explains ("meaning ..."); else
	// every column after the first is a labelled detail.
	body := len(head) > 2 && strings.HasPrefix(strings.ToLower(head[len(head)-1]), "meaning")
	for _, r := range rows {
		if len(r) == 0 {
			continue
		}
		var details []string
		last := len(r)
		if body {
			last = len(r) - 1
		}
		for j := 1; j < last; j++ {
			label := ""
			if j < len(head) {
				label = head[j] + " "
			}
			details = append(details, inline(label+r[j]))
		}
		w.line(".TP")
		tag := `\fB` + inlineCode(r[0]) + `\fR`
		if len(details) > 0 {
			tag += " (" + strings.Join(details, "; ") + ")"
		}
		w.text(tag)
		if body && last < len(r) && r[last] != "" {
			w.text(inline(r[last]))
		}
	}
	w.line(".PP")
}

// inlineCode is a tag cell: its code spans lose their backticks (the tag
// is bold already).
func inlineCode(s string) string {
	if strings.HasPrefix(s, "`") && strings.HasSuffix(s, "`") && strings.Count(s, "`") == 2 {
		return escapeCode(s[1 : len(s)-1])
	}
	return inline(s)
}

// inline converts a span of text: `code` and **bold** to bold, links to
// their text, and escapes the rest for roff.
func inline(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		switch {
		case s[0] == '`':
			n := 1
			for n < len(s) && s[n] == '`' {
				n++
			}
			ticks := s[:n]
			end := strings.Index(s[n:], ticks)
			if end < 0 {
				b.WriteString(escapeText(ticks))
				s = s[n:]
				continue
			}
			code := strings.TrimSpace(strings.ReplaceAll(s[n:n+end], "\n", " "))
			b.WriteString(`\fB` + escapeCode(code) + `\fR`)
			s = s[n+end+n:]
		case strings.HasPrefix(s, "**"):
			end := strings.Index(s[2:], "**")
			if end < 0 {
				b.WriteString("**")
				s = s[2:]
				continue
			}
			b.WriteString(`\fB` + inline(s[2:2+end]) + `\fR`)
			s = s[2+end+2:]
		case s[0] == '[' && linkRe.MatchString(s) && linkRe.FindStringIndex(s)[0] == 0:
			m := linkRe.FindStringSubmatch(s)
			b.WriteString(inline(m[1]))
			if strings.HasPrefix(m[2], "http://") || strings.HasPrefix(m[2], "https://") {
				b.WriteString(` <\fI` + escapeText(m[2]) + `\fR>`)
			}
			s = s[len(m[0]):]
		default:
			n := strings.IndexAny(s[1:], "`*[")
			if n < 0 {
				n = len(s)
			} else {
				n++
			}
			b.WriteString(escapeText(s[:n]))
			s = s[n:]
		}
	}
	return b.String()
}

// escapeText escapes running text for roff: backslashes, and characters
// beyond ASCII as \[uXXXX], so that groff reads the page whatever its
// input encoding.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\e`)
		case r == utf8.RuneError || r == '\t':
			b.WriteRune(' ')
		case r >= 0x80:
			fmt.Fprintf(&b, `\[u%04X]`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// escapeCode is escapeText, with - as the minus sign (code is copied).
func escapeCode(s string) string {
	return strings.ReplaceAll(escapeText(s), "-", `\-`)
}

// quote quotes a macro argument.
func quote(s string) string {
	return `"` + strings.ReplaceAll(escapeText(s), `"`, `\(dq`) + `"`
}

type roffWriter struct {
	strings.Builder
}

func (w *roffWriter) line(s string) {
	w.WriteString(s)
	w.WriteByte('\n')
}

// text writes running text: each line trimmed (a leading space would
// break the line), and protected when it starts like a request.
func (w *roffWriter) text(s string) {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if l[0] == '.' || l[0] == '\'' {
			l = `\&` + l
		}
		w.line(l)
	}
}

// code writes a code block, unfilled and indented.
func (w *roffWriter) code(lines []string) {
	w.line(".PP")
	w.line(".RS 4")
	w.line(".nf")
	for _, l := range lines {
		l = escapeCode(strings.ReplaceAll(l, "\t", "    "))
		if l == "" {
			l = `\&`
		} else if l[0] == '.' || l[0] == '\'' {
			l = `\&` + l
		}
		w.line(l)
	}
	w.line(".fi")
	w.line(".RE")
}

// open opens DESCRIPTION before the first text when the markdown has no
// title.
func (w *roffWriter) open(started *bool) {
	if !*started {
		*started = true
		w.line(".SH DESCRIPTION")
	}
}
