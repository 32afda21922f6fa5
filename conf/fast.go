package conf

import (
	"bytes"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The fast path: a lexer and parser for the part of HCL a cluster file
// uses, which builds the AST hclsyntax.ParseConfig would build, with the
// same ranges, so that the decoder and its diagnostics cannot tell them
// apart. hcl's own lexer keeps every token of the file in one slice and
// its parser copies them about: most of the time and memory of loading a
// large file went there.
//
// The subset is what conf accepts anyway (see nonLiteral): blocks with
// quoted or bare labels, attributes, and as values quoted strings without
// templates, numbers, true, false, null, a minus before a number, lists
// and maps of those; comments of every form; LF or CRLF line ends. At
// anything else (an operator, a function, a variable, "${" or "%{", a
// heredoc, a syntax error of any kind, a character whose width in columns
// it is unsure of) the fast path declines and Parse hands the file to
// hclsyntax, so that every syntax error is hcl's own. FuzzFastParse holds
// it to that: for any input it declines, or decodes to the same Cluster
// and diagnostics as hclsyntax.
//
// The bodies of top-level blocks are parsed when the decoder opens them
// (lazyBodies), so that only one virtual server's AST is alive at a time:
// a first pass checks the file's top level and finds where each of those
// bodies ends, the decoder parses each body it opens, and the bodies it
// never opens are parsed last, so that every byte of the file has been
// parsed before the result counts.

// Token kinds. Punctuation is its own byte: { } [ ] , = : -
const (
	tkEOF byte = iota + 1
	tkNewline
	tkIdent
	tkNumber
	tkString
)

// fastTok is a token as hcl's lexer cuts it, but a quoted string is one
// token from its opening to its closing quote. A line comment that ends
// with a newline is a newline token with the comment's range, as hcl's
// peeker makes it; other comments are skipped.
type fastTok struct {
	kind byte
	rng  hcl.Range
	esc  bool // a string with escapes ($${ and %%{ included)
}

// declined is the panic that unwinds the fast parser when it meets
// something outside its subset; fastParse and lazyBodies recover it.
type declined struct{}

func decline() { panic(declined{}) }

// catchDecline, deferred, stops a declined panic, and lets any other
// through: the function returns its results as they were, nil.
func catchDecline() {
	if r := recover(); r != nil {
		if _, is := r.(declined); !is {
			panic(r)
		}
	}
}

// lexer cuts tokens from src, keeping hcl's positions: lines from 1,
// columns from 1 counting characters (hcl counts grapheme clusters, so
// the lexer declines any character it cannot be sure is one cluster, see
// oneColumn), bytes from 0.
type lexer struct {
	src      []byte
	filename string
	pos      hcl.Pos
}

// oneColumn reports whether hcl counts the non-ASCII r as a column of its
// own whatever surrounds it: a character that combines with none of its
// neighbours into one grapheme cluster. The ranges are the Latin, Greek
// and Cyrillic letters, punctuation and currency signs (TestOneColumn
// checks each against hcl); anything else makes the fast path decline.
func oneColumn(r rune) bool {
	switch {
	case r >= 0xa0 && r <= 0x2ff:
		return r != 0xad // a soft hyphen is a control character
	case r >= 0x370 && r <= 0x482: // Greek, Cyrillic
		return true
	case r >= 0x2010 && r <= 0x2027, r >= 0x2030 && r <= 0x205e: // dashes, quotes, …
		return true
	case r >= 0x20a0 && r <= 0x20c0: // currency signs
		return true
	}
	return false
}

// columns returns the columns hcl counts in b, a part of one line.
func columns(b []byte) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			i++
			n++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if !oneColumn(r) {
			decline()
		}
		i += size
		n++
	}
	return n
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isHex(c byte) bool    { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// at returns the byte at i, or 0 past the end (src has no NUL: screen).
func (l *lexer) at(i int) byte {
	if i < len(l.src) {
		return l.src[i]
	}
	return 0
}

// token returns a token of n bytes (and n columns) at the position, and
// moves past it.
func (l *lexer) token(kind byte, n int) fastTok {
	start := l.pos
	l.pos.Byte += n
	l.pos.Column += n
	return fastTok{kind: kind, rng: hcl.Range{Filename: l.filename, Start: start, End: l.pos}}
}

// newline returns a newline token ending after the byte at end.
func (l *lexer) newline(end int) fastTok {
	start := l.pos
	l.pos = hcl.Pos{Line: start.Line + 1, Column: 1, Byte: end + 1}
	return fastTok{kind: tkNewline, rng: hcl.Range{Filename: l.filename, Start: start, End: l.pos}}
}

// next returns the next token, skipping spaces, tabs and block comments.
func (l *lexer) next() fastTok {
	src := l.src
	for {
		i := l.pos.Byte
		if i >= len(src) {
			return l.token(tkEOF, 0)
		}
		switch c := src[i]; {
		case c == ' ' || c == '\t':
			l.pos.Byte++
			l.pos.Column++
		case c == '\n':
			return l.newline(i)
		case c == '\r' && l.at(i+1) == '\n':
			return l.newline(i + 1)
		case c == '#' || c == '/' && l.at(i+1) == '/':
			k := bytes.IndexByte(src[i:], '\n')
			if k >= 0 {
				return l.newline(i + k)
			}
			// A comment at the end of the file, without a newline, is
			// skipped; the end of file token comes after it.
			l.pos.Column += columns(src[i:])
			l.pos.Byte = len(src)
		case c == '/' && l.at(i+1) == '*':
			k := bytes.Index(src[i+2:], []byte("*/"))
			if k < 0 {
				decline()
			}
			end := i + 2 + k + 2
			text := src[i:end]
			if nl := bytes.LastIndexByte(text, '\n'); nl >= 0 {
				l.pos.Line += bytes.Count(text, []byte("\n"))
				l.pos.Column = 1 + columns(text[nl+1:])
			} else {
				l.pos.Column += columns(text)
			}
			l.pos.Byte = end
		case isLetter(c):
			n := 1
			for c := l.at(i + n); isLetter(c) || isDigit(c) || c == '-'; c = l.at(i + n) {
				n++
			}
			if l.at(i+n) >= utf8.RuneSelf {
				decline() // an identifier may go on with a non-ASCII letter
			}
			return l.token(tkIdent, n)
		case isDigit(c):
			return l.token(tkNumber, l.number(i))
		case c == '"':
			return l.quoted(i)
		case c == '{' || c == '}' || c == '[' || c == ']' || c == ',' || c == '-':
			return l.token(c, 1)
		case c == '=' && l.at(i+1) != '=' && l.at(i+1) != '>', c == ':' && l.at(i+1) != ':':
			return l.token(c, 1)
		default:
			decline()
		}
	}
}

// number returns the length of the number at i, cut as hcl's lexer cuts
// it: a digit, then digits, dots and exponents (e5, e+5, E-5), not ending
// with a dot. Whether it is a valid number is cty's to say.
func (l *lexer) number(i int) int {
	end := i + 1 // after the last unit that is not a dot
	for j := end; ; {
		switch c := l.at(j); {
		case isDigit(c):
			j++
			end = j
		case c == '.':
			j++
		case c == 'e' || c == 'E':
			k := j + 1
			if s := l.at(k); s == '+' || s == '-' {
				k++
			}
			if !isDigit(l.at(k)) {
				return end - i
			}
			j = k + 1
			end = j
		default:
			return end - i
		}
	}
}

// quoted returns the string token at i, from its opening to its closing
// quote. It declines a template ("${", "%{"), a newline in the string, an
// escape hcl refuses, and a \u or \U escape that is no character.
func (l *lexer) quoted(i int) fastTok {
	src := l.src
	start := l.pos
	esc := false
	cols := 1
	j := i + 1
	for {
		if j >= len(src) {
			decline()
		}
		c := src[j]
		switch {
		case c == '"':
			l.pos.Byte = j + 1
			l.pos.Column += cols + 1
			return fastTok{kind: tkString, esc: esc, rng: hcl.Range{Filename: l.filename, Start: start, End: l.pos}}
		case c == '\\':
			n := 2
			switch l.at(j + 1) {
			case 'n', 'r', 't', '"', '\\':
			case 'u', 'U':
				n = 6
				if src[j+1] == 'U' {
					n = 10
				}
				if j+n > len(src) {
					decline()
				}
				for _, h := range src[j+2 : j+n] {
					if !isHex(h) {
						decline()
					}
				}
				r, _ := strconv.ParseUint(string(src[j+2:j+n]), 16, 32)
				if utf8.RuneLen(rune(r)) < 0 {
					decline()
				}
			default:
				decline()
			}
			esc = true
			j += n
			cols += n
		case c == '$' || c == '%':
			switch {
			case l.at(j+1) == '{':
				decline() // an interpolation or a directive
			case l.at(j+1) == c && l.at(j+2) == '{':
				esc = true
				j += 3
				cols += 3
			default:
				j++
				cols++
			}
		case c == '\n' || c == '\r':
			decline()
		case c < utf8.RuneSelf:
			j++
			cols++
		default:
			r, size := utf8.DecodeRune(src[j:])
			if !oneColumn(r) {
				decline()
			}
			j += size
			cols++
		}
	}
}

// text returns what a string token stands for, its escapes resolved as
// hcl resolves them (\n, \r, \t, \", \\, \uXXXX, \UXXXXXXXX, $${, %%{).
func (l *lexer) text(t fastTok) string {
	b := l.src[t.rng.Start.Byte+1 : t.rng.End.Byte-1]
	if !t.esc {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		switch c := b[i]; {
		case c == '\\':
			switch b[i+1] {
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u', 'U':
				n := 6
				if b[i+1] == 'U' {
					n = 10
				}
				r, _ := strconv.ParseUint(string(b[i+2:i+n]), 16, 32)
				out = utf8.AppendRune(out, rune(r))
				i += n
				continue
			default: // " and \
				out = append(out, b[i+1])
			}
			i += 2
		case (c == '$' || c == '%') && i+2 < len(b) && b[i+1] == c && b[i+2] == '{':
			out = append(out, c, '{')
			i += 3
		default:
			out = append(out, c)
			i++
		}
	}
	return string(out)
}

// fastParser parses tokens into hclsyntax's AST, following hclsyntax's
// parser step by step for the subset.
type fastParser struct {
	lexer
	tok   fastTok   // the next token, when have
	have  bool      //
	prev  hcl.Range // the last token read: hcl's PrevRange
	depth int       // of blocks, lists and maps, at most MaxNesting
	// lazy, in the first pass, takes the top-level blocks' bodies.
	lazy *lazyBodies
	// names interns the names of attributes and blocks, which repeat.
	names map[string]string
	// blocks is a stack of the blocks of the bodies being parsed, each
	// body's copied out at its end: one slice of the right size a body.
	blocks []*hclsyntax.Block
}

// peek returns the next token. Where hcl ignores newlines (nl false: in
// a list) it skips them, and line comments with them; they are consumed
// then, which is the same as long as the parser reads on in that mode
// (or opens a map, which eats leading newlines anyway).
func (p *fastParser) peek(nl bool) *fastTok {
	for {
		if !p.have {
			p.tok = p.next()
			p.have = true
		}
		if nl || p.tok.kind != tkNewline {
			return &p.tok
		}
		p.have = false
	}
}

func (p *fastParser) read(nl bool) fastTok {
	t := *p.peek(nl)
	p.have = false
	p.prev = t.rng
	return t
}

// expect reads a token of kind or declines.
func (p *fastParser) expect(kind byte, nl bool) fastTok {
	if p.peek(nl).kind != kind {
		decline()
	}
	return p.read(nl)
}

func (p *fastParser) enter() {
	if p.depth++; p.depth > MaxNesting {
		decline()
	}
}

// name returns the text of an identifier, interned.
func (p *fastParser) name(t fastTok) string {
	b := p.src[t.rng.Start.Byte:t.rng.End.Byte]
	if s, ok := p.names[string(b)]; ok {
		return s
	}
	s := string(b)
	p.names[s] = s
	return s
}

func endOf(r hcl.Range) hcl.Range {
	return hcl.Range{Filename: r.Filename, Start: r.End, End: r.End}
}

// fastParse parses src as hclsyntax.ParseConfig would, or declines (nil).
// The top-level blocks' bodies are placeholders that lazy parses.
func fastParse(src []byte, filename string) (root *hclsyntax.Body, lazy *lazyBodies) {
	if bytes.HasPrefix(src, []byte("\xef\xbb\xbf")) {
		return nil, nil // hcl skips a byte order mark, and counts it in bytes only
	}
	defer catchDecline()
	l := &lazyBodies{src: src, filename: filename, spans: map[*hclsyntax.Body]int{}, names: map[string]string{}}
	p := &fastParser{lexer: lexer{src: src, filename: filename, pos: hcl.InitialPos}, lazy: l, names: l.names}
	// hcl's PrevRange before the first token is that token's range.
	p.prev = p.peek(true).rng
	b := &hclsyntax.Body{}
	p.body(tkEOF, b)
	return b, l
}

// body parses the items of a body up to its end token into b (hcl's
// ParseBody); the last token read is the one before the body.
func (p *fastParser) body(end byte, b *hclsyntax.Body) {
	start := p.prev
	mark := len(p.blocks)
	for {
		t := p.peek(true)
		switch t.kind {
		case end:
			p.read(true)
			b.SrcRange = hcl.RangeBetween(start, p.prev)
			b.EndRange = endOf(p.prev)
			if len(p.blocks) > mark {
				b.Blocks = slices.Clone(p.blocks[mark:])
				p.blocks = p.blocks[:mark]
			}
			return
		case tkNewline:
			p.read(true)
		case tkIdent:
			ident := p.read(true)
			switch p.peek(true).kind {
			case '=':
				a := p.attribute(ident, false)
				if b.Attributes == nil {
					b.Attributes = hclsyntax.Attributes{}
				} else if b.Attributes[a.Name] != nil {
					decline() // hcl: Attribute redefined
				}
				b.Attributes[a.Name] = a
			case tkString, '{', tkIdent:
				p.blocks = append(p.blocks, p.block(ident, end == tkEOF && p.lazy != nil))
			default:
				decline()
			}
		default:
			decline()
		}
	}
}

// attribute parses "= value" after its name (hcl's
// finishParsingBodyAttribute); on its own line it ends with a newline.
func (p *fastParser) attribute(ident fastTok, singleLine bool) *hclsyntax.Attribute {
	eq := p.read(true)
	expr := p.expr(true, false)
	end := p.prev
	if !singleLine {
		switch p.peek(true).kind {
		case tkNewline:
			p.read(true)
		case tkEOF:
		default:
			decline()
		}
	}
	return &hclsyntax.Attribute{
		Name:        p.name(ident),
		Expr:        expr,
		SrcRange:    hcl.RangeBetween(ident.rng, end),
		NameRange:   ident.rng,
		EqualsRange: eq.rng,
	}
}

// block parses a block's labels and body (hcl's finishParsingBodyBlock).
// A top-level block's body is left to lazy, which parses it with
// blockBody when the decoder opens it.
func (p *fastParser) block(ident fastTok, top bool) *hclsyntax.Block {
	// One allocation for a block, its body and its label.
	n := &struct {
		blk    hclsyntax.Block
		body   hclsyntax.Body
		label  [1]string
		labelR [1]hcl.Range
	}{}
	blk := &n.blk
	blk.Type, blk.TypeRange = p.name(ident), ident.rng
	for {
		t := p.read(true)
		var label string
		switch t.kind {
		case tkString:
			label = p.text(t)
		case tkIdent:
			label = p.name(t)
		case '{':
			blk.OpenBraceRange = t.rng
			blk.Body = &n.body
			if top {
				p.skipBody()
			} else {
				p.blockBody(blk.Body)
			}
			blk.CloseBraceRange = p.prev
			if top {
				p.lazy.add(blk)
			}
			switch p.peek(true).kind {
			case tkNewline, tkEOF:
				p.read(true)
			default:
				decline() // hcl: Missing newline after block definition
			}
			return blk
		default:
			decline()
		}
		if blk.Labels == nil {
			n.label[0], n.labelR[0] = label, t.rng
			blk.Labels, blk.LabelRanges = n.label[:], n.labelR[:]
		} else {
			blk.Labels = append(blk.Labels, label)
			blk.LabelRanges = append(blk.LabelRanges, t.rng)
		}
	}
}

// blockBody parses a body after its opening brace, up to and with its
// closing brace, into b: a body of lines, or a single attribute on the
// block's line, as in node "a" { priority = 150 }.
func (p *fastParser) blockBody(b *hclsyntax.Body) {
	p.enter()
	defer func() { p.depth-- }()
	switch p.peek(true).kind {
	case tkNewline, tkEOF, '}':
		p.body('}', b)
		return
	}
	ident := p.expect(tkIdent, true)
	if p.peek(true).kind != '=' {
		decline()
	}
	a := p.attribute(ident, true)
	p.expect('}', true)
	b.Attributes = hclsyntax.Attributes{a.Name: a}
	b.SrcRange = a.SrcRange
	b.EndRange = endOf(a.SrcRange)
}

// skipBody skips tokens up to and with the closing brace that matches
// the one just read, for lazy to parse the body later. The tokens are
// checked (the lexer declines what it does not know) but not parsed.
func (p *fastParser) skipBody() {
	for depth := 1; depth > 0; {
		switch p.read(true).kind {
		case '{':
			depth++
		case '}':
			depth--
		case tkEOF:
			decline()
		}
	}
}

// expr parses a value (hcl's ParseExpression, for the subset); with key,
// a bare name too, as an object key. The token after it is left to the
// caller, which declines anything but what may follow a value there: so
// operators, conditionals, calls and traversals are declined.
func (p *fastParser) expr(nl, key bool) hclsyntax.Expression {
	t := p.read(nl)
	switch t.kind {
	case tkString:
		return p.template(t)
	case tkNumber:
		return p.number(t)
	case '-':
		n := p.expect(tkNumber, nl)
		return &hclsyntax.UnaryOpExpr{
			Op:          hclsyntax.OpNegate,
			Val:         p.number(n),
			SrcRange:    hcl.RangeBetween(t.rng, n.rng),
			SymbolRange: t.rng,
		}
	case tkIdent:
		switch name := p.name(t); name {
		case "true":
			return &hclsyntax.LiteralValueExpr{Val: cty.True, SrcRange: t.rng}
		case "false":
			return &hclsyntax.LiteralValueExpr{Val: cty.False, SrcRange: t.rng}
		case "null":
			return &hclsyntax.LiteralValueExpr{Val: cty.NullVal(cty.DynamicPseudoType), SrcRange: t.rng}
		default:
			if !key {
				decline() // a variable
			}
			return &hclsyntax.ScopeTraversalExpr{
				Traversal: hcl.Traversal{hcl.TraverseRoot{Name: name, SrcRange: t.rng}},
				SrcRange:  t.rng,
			}
		}
	case '[':
		return p.tuple(t)
	case '{':
		return p.object(t)
	}
	decline()
	return nil
}

// template is a quoted string: a TemplateExpr of one string literal.
func (p *fastParser) template(t fastTok) hclsyntax.Expression {
	// One allocation for the three parts of the node.
	n := &struct {
		tmpl  hclsyntax.TemplateExpr
		lit   hclsyntax.LiteralValueExpr
		parts [1]hclsyntax.Expression
	}{}
	n.lit.Val = cty.StringVal(p.text(t))
	if t.rng.End.Byte-t.rng.Start.Byte == 2 {
		// "": hcl gives the empty literal the empty range after the
		// closing quote.
		n.lit.SrcRange = endOf(t.rng)
	} else {
		// The text between the quotes, which are one column each.
		n.lit.SrcRange = hcl.Range{Filename: t.rng.Filename, Start: t.rng.Start, End: t.rng.End}
		n.lit.SrcRange.Start.Column++
		n.lit.SrcRange.Start.Byte++
		n.lit.SrcRange.End.Column--
		n.lit.SrcRange.End.Byte--
	}
	n.parts[0] = &n.lit
	n.tmpl.Parts = n.parts[:]
	n.tmpl.SrcRange = t.rng
	return &n.tmpl
}

func (p *fastParser) number(t fastTok) *hclsyntax.LiteralValueExpr {
	v, err := cty.ParseNumberVal(p.name(t))
	if err != nil {
		decline() // hcl: Invalid number literal
	}
	return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: t.rng}
}

// tuple parses a list after its "[" (hcl's parseTupleCons), where
// newlines do not count.
func (p *fastParser) tuple(open fastTok) hclsyntax.Expression {
	p.enter()
	defer func() { p.depth-- }()
	var exprs []hclsyntax.Expression
	for p.peek(false).kind != ']' {
		exprs = append(exprs, p.expr(false, false))
		if p.peek(false).kind == ']' {
			break
		}
		p.expect(',', false)
	}
	close := p.read(false)
	return &hclsyntax.TupleConsExpr{Exprs: exprs, SrcRange: hcl.RangeBetween(open.rng, close.rng), OpenRange: open.rng}
}

// object parses a map after its "{" (hcl's parseObjectCons), whose items
// end with a newline or a comma.
func (p *fastParser) object(open fastTok) hclsyntax.Expression {
	p.enter()
	defer func() { p.depth-- }()
	if t := p.peek(false); t.kind == tkIdent && p.name(*t) == "for" {
		decline() // a for expression
	}
	var items []hclsyntax.ObjectConsItem
	for {
		switch p.peek(true).kind {
		case tkNewline:
			p.read(true)
			continue
		case '}':
		default:
			key := &hclsyntax.ObjectConsKeyExpr{Wrapped: p.expr(true, true)}
			if k := p.peek(true).kind; k != '=' && k != ':' {
				decline()
			}
			p.read(true)
			items = append(items, hclsyntax.ObjectConsItem{KeyExpr: key, ValueExpr: p.expr(true, false)})
			switch p.peek(true).kind {
			case '}':
			case ',', tkNewline:
				p.read(true)
				continue
			default:
				decline()
			}
		}
		break
	}
	close := p.read(true)
	return &hclsyntax.ObjectConsExpr{Items: items, SrcRange: hcl.RangeBetween(open.rng, close.rng), OpenRange: open.rng}
}

// lazyBodies are the bodies of the top-level blocks of a file the fast
// path parsed, each parsed when the decoder opens it (body), so that its
// AST is garbage once the block is decoded. A body outside the subset
// makes the whole file go to hclsyntax: body then returns an empty body,
// and finish reports it.
type lazyBodies struct {
	src      []byte
	filename string
	spans    map[*hclsyntax.Body]int // placeholder → index in list
	list     []lazySpan
	names    map[string]string // fastParser.names
	failed   bool
}

type lazySpan struct {
	blk  *hclsyntax.Block // its braces are where the body is
	done bool
}

// add makes blk's body a placeholder, to be parsed between its braces.
func (l *lazyBodies) add(blk *hclsyntax.Block) {
	b := blk.Body
	b.SrcRange, b.EndRange = hcl.RangeBetween(blk.OpenBraceRange, blk.CloseBraceRange), endOf(blk.CloseBraceRange)
	l.spans[b] = len(l.list)
	l.list = append(l.list, lazySpan{blk: blk})
}

// body returns the body b stands for: b itself, or when it is a
// placeholder of l, the body parsed.
func (l *lazyBodies) body(b hcl.Body) hcl.Body {
	sb, _ := b.(*hclsyntax.Body)
	i, ok := l.spans[sb]
	if !ok {
		return b
	}
	l.list[i].done = true
	if !l.failed {
		if parsed := l.parse(i); parsed != nil {
			return parsed
		}
		l.failed = true
	}
	return &hclsyntax.Body{}
}

// parse parses the body of span i, or declines (nil).
func (l *lazyBodies) parse(i int) (body *hclsyntax.Body) {
	defer catchDecline()
	blk := l.list[i].blk
	open := blk.OpenBraceRange
	p := &fastParser{lexer: lexer{src: l.src, filename: l.filename, pos: open.End}, prev: open, depth: 1, names: l.names}
	b := &hclsyntax.Body{}
	p.blockBody(b)
	if p.prev != blk.CloseBraceRange {
		return nil // it ends elsewhere than the first pass found: hcl decides
	}
	return b
}

// finish parses the bodies the decoder did not open (unknown or extra
// blocks), and reports whether every body of the file was in the subset.
func (l *lazyBodies) finish() bool {
	for i := range l.list {
		if l.failed {
			break
		}
		if !l.list[i].done {
			l.list[i].done = true
			l.failed = l.parse(i) == nil
		}
	}
	return !l.failed
}
