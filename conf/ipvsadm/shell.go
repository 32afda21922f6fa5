package ipvsadm

import (
	"bytes"
	"strings"
)

// A logical line: one or more physical lines joined by backslash
// continuations, and the 1-based number of its first physical line.
type logicalLine struct {
	no   int
	text string
}

// splitLines splits src into logical lines. Carriage returns are dropped;
// a line that ends in an unescaped backslash continues on the next one.
func splitLines(src []byte) []logicalLine {
	var out []logicalLine
	var cur strings.Builder
	start := 0
	no := 0
	for len(src) > 0 || cur.Len() > 0 {
		if len(src) == 0 {
			out = append(out, logicalLine{start, cur.String()})
			break
		}
		i := bytes.IndexByte(src, '\n')
		var line []byte
		if i < 0 {
			line, src = src, nil
		} else {
			line, src = src[:i], src[i+1:]
		}
		no++
		if cur.Len() == 0 {
			start = no
		}
		l := strings.TrimRight(string(line), "\r")
		if strings.HasSuffix(l, `\`) && !strings.HasSuffix(l, `\\`) && len(src) > 0 && cur.Len()+len(l) < MaxLine {
			cur.WriteString(l[:len(l)-1])
			continue
		}
		cur.WriteString(l)
		out = append(out, logicalLine{start, cur.String()})
		cur.Reset()
	}
	return out
}

// A word of a shell command after expansion.
type word struct {
	text    string
	unknown string // why the word's value is not known ("" = known)
	// assign is the variable name when the word is NAME=value with NAME
	// unquoted; value is then text[len(assign)+1:].
	assign string
}

type redir struct {
	fd     string // "" or the digits before the operator
	op     string // ">", ">>", "<", ">&", "<&"
	target word
}

// A simple command: words and redirections.
type command struct {
	words  []word
	redirs []redir
	sep    string // what ended it: "", ";", "&&", "||"
}

// A variable's value, or why it is not known.
type variable struct {
	value   string
	unknown string
}

const maxVar = 4096 // longest variable value kept

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i], i == 0) {
			return false
		}
	}
	return true
}

// parseShell splits one logical line into simple commands, expanding
// $VAR and ${VAR} from vars. It returns what it cannot read as a reason
// (unsupported shell: pipelines, subshells, command substitution,
// unterminated quotes); the commands are then not to be used.
func parseShell(line string, vars map[string]variable) (cmds []command, unsupported string) {
	var cur command
	var w word
	var raw strings.Builder  // unquoted literal prefix of the word
	var text strings.Builder // the word's text (w.text once flushed)
	inWord, prefixOpen := false, true
	pendingTarget := false // a redirection waits for its target word
	flush := func() {
		if !inWord {
			return
		}
		w.text = text.String()
		text.Reset()
		r := raw.String()
		if i := strings.IndexByte(r, '='); i > 0 && validVarName(r[:i]) {
			w.assign = r[:i]
		}
		if n := len(cur.redirs); n > 0 && pendingTarget {
			cur.redirs[n-1].target = w
			pendingTarget = false
		} else {
			cur.words = append(cur.words, w)
		}
		w = word{}
		raw.Reset()
		inWord, prefixOpen = false, true
	}
	endCmd := func(sep string) {
		flush()
		cur.sep = sep
		if len(cur.words) > 0 || len(cur.redirs) > 0 {
			cmds = append(cmds, cur)
		}
		cur = command{}
	}
	addText := func(s string, literal bool) {
		inWord = true
		if text.Len()+len(s) > MaxLine {
			w.unknown = "too long"
			return
		}
		text.WriteString(s)
		if literal && prefixOpen {
			raw.WriteString(s)
		} else {
			prefixOpen = false
		}
	}
	expand := func(i int) int { // line[i] == '$'; returns the index after
		prefixOpen = false
		inWord = true
		if i+1 >= len(line) {
			text.WriteString("$")
			return i + 1
		}
		c := line[i+1]
		switch {
		case c == '(':
			w.unknown = "command substitution $(...)"
			if unsupported == "" {
				unsupported = "command substitution $(...)"
			}
			return len(line)
		case c == '{':
			j := strings.IndexByte(line[i+2:], '}')
			if j < 0 {
				if unsupported == "" {
					unsupported = "unterminated ${"
				}
				return len(line)
			}
			name := line[i+2 : i+2+j]
			lookup(vars, name, &w, &text)
			return i + 3 + j
		case isNameByte(c, true):
			j := i + 1
			for j < len(line) && isNameByte(line[j], false) {
				j++
			}
			lookup(vars, line[i+1:j], &w, &text)
			return j
		case c >= '0' && c <= '9' || strings.IndexByte("@*#?$!-", c) >= 0:
			w.unknown = "$" + string(c) + " (a script argument or shell special)"
			return i + 2
		}
		text.WriteString("$")
		return i + 1
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
			i++
		case c == '#' && !inWord:
			i = len(line)
		case c == ';':
			if i+1 < len(line) && line[i+1] == ';' {
				return nil, "case branch terminator ;;"
			}
			endCmd(";")
			i++
		case c == '&':
			if i+1 < len(line) && line[i+1] == '&' {
				endCmd("&&")
				i += 2
				continue
			}
			if i > 0 && line[i-1] == '>' {
				i++
				continue
			}
			return nil, "background job (&)"
		case c == '|':
			if i+1 < len(line) && line[i+1] == '|' {
				endCmd("||")
				i += 2
				continue
			}
			return nil, "pipeline (|)"
		case c == '(' || c == ')':
			return nil, "case pattern, subshell or function definition"
		case c == '`':
			return nil, "command substitution `...`"
		case c == '<' || c == '>':
			fd := ""
			if inWord && prefixOpen && isDigits(raw.String()) && raw.Len() == text.Len() {
				fd = text.String()
				w = word{}
				raw.Reset()
				text.Reset()
				inWord = false
			}
			flush()
			op := string(c)
			i++
			if i < len(line) && (line[i] == '>' || line[i] == '&' || line[i] == '<') {
				if c == '<' && line[i] == '<' {
					return nil, "here-document (<<)"
				}
				op += string(line[i])
				i++
			}
			cur.redirs = append(cur.redirs, redir{fd: fd, op: op})
			pendingTarget = true
		case c == '\\':
			if i+1 < len(line) {
				addText(line[i+1:i+2], false)
				i += 2
			} else {
				i++
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, "unterminated single quote"
			}
			addText(line[i+1:i+1+j], false)
			i += j + 2
		case c == '"':
			inWord = true
			prefixOpen = false
			i++
			closed := false
			for i < len(line) {
				d := line[i]
				if d == '"' {
					closed = true
					i++
					break
				}
				if d == '\\' && i+1 < len(line) && strings.IndexByte("$`\"\\", line[i+1]) >= 0 {
					addText(line[i+1:i+2], false)
					i += 2
					continue
				}
				if d == '`' {
					return nil, "command substitution `...`"
				}
				if d == '$' {
					i = expand(i)
					if unsupported != "" {
						return nil, unsupported
					}
					continue
				}
				addText(line[i:i+1], false)
				i++
			}
			if !closed {
				return nil, "unterminated double quote"
			}
		case c == '$':
			i = expand(i)
			if unsupported != "" {
				return nil, unsupported
			}
		default:
			j := i
			for j < len(line) && strings.IndexByte(" \t#;&|()`<>\\'\"$", line[j]) < 0 {
				j++
			}
			if j == i { // '#' inside a word
				j = i + 1
			}
			addText(line[i:j], true)
			i = j
		}
	}
	endCmd("")
	if pendingTarget {
		return nil, "redirection without a target"
	}
	return cmds, ""
}

func lookup(vars map[string]variable, name string, w *word, text *strings.Builder) {
	if !validVarName(name) {
		w.unknown = "${" + name + "}"
		return
	}
	v, ok := vars[name]
	switch {
	case !ok:
		w.unknown = "$" + name + " is not set in the script"
	case v.unknown != "":
		w.unknown = "$" + name + ": " + clip(v.unknown)
	case text.Len()+len(v.value) > MaxLine:
		w.unknown = "too long"
	default:
		text.WriteString(v.value)
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
