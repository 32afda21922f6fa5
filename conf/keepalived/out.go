package keepalived

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/tandem-lb/tandem/conf/importer"
)

// reporter collects the findings in input order.
type reporter struct {
	findings []importer.Finding
}

func (r *reporter) add(file string, line int, kw string, sev importer.Severity, msg string) {
	if len(r.findings) == maxFindings {
		r.findings = append(r.findings, importer.Finding{File: file, Line: line, Severity: importer.Invalid, Message: fmt.Sprintf("more than %d findings: the rest are left out", maxFindings)})
	}
	if len(r.findings) > maxFindings {
		return
	}
	r.findings = append(r.findings, importer.Finding{File: file, Line: line, Keyword: kw, Severity: sev, Message: msg})
}

// blk is a block of the cluster file being built: attributes, nested
// blocks and comments, in order.
type blk struct {
	typ     string
	labels  []string
	items   []*item
	dropped bool // written as a comment
}

type item struct {
	name    string
	val     cty.Value
	comment string
	block   *blk
	raw     hclwrite.Tokens // a map attribute written as tokens
}

func (b *blk) set(name string, v cty.Value) {
	for _, it := range b.items {
		if it.name == name {
			it.val = v
			return
		}
	}
	b.items = append(b.items, &item{name: name, val: v})
}

func (b *blk) get(name string) (cty.Value, bool) {
	for _, it := range b.items {
		if it.name == name {
			return it.val, true
		}
	}
	return cty.NilVal, false
}

func (b *blk) del(name string) {
	for i, it := range b.items {
		if it.name == name {
			b.items = append(b.items[:i], b.items[i+1:]...)
			return
		}
	}
}

func (b *blk) note(s string) {
	b.items = append(b.items, &item{comment: s})
}

func (b *blk) child(typ string, labels ...string) *blk {
	for _, it := range b.items {
		if it.block != nil && it.block.typ == typ && len(labels) == 0 {
			return it.block
		}
	}
	c := &blk{typ: typ, labels: labels}
	b.items = append(b.items, &item{block: c})
	return c
}

func (b *blk) add(c *blk) { b.items = append(b.items, &item{block: c}) }

// commentText makes s safe inside one # comment line.
func commentText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return ' '
		}
		return r
	}, s)
	return s
}

func commentTokens(s string) hclwrite.Tokens {
	return hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte("# " + commentText(s) + "\n")}}
}

func (b *blk) render(body *hclwrite.Body) {
	for _, it := range b.items {
		switch {
		case it.comment != "":
			body.AppendUnstructuredTokens(commentTokens(it.comment))
		case it.block != nil:
			c := body.AppendNewBlock(it.block.typ, it.block.labels)
			it.block.render(c.Body())
		case it.raw != nil:
			body.SetAttributeRaw(it.name, it.raw)
		case it.val == cty.NilVal:
			// a placeholder never filled in
		default:
			body.SetAttributeValue(it.name, it.val)
		}
	}
}

// mapTokens writes { key = n, ... } with bare keys (node names are valid
// identifiers or quoted otherwise).
func mapTokens(m map[string]int) hclwrite.Tokens {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ts := hclwrite.Tokens{{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")}, {Type: hclsyntax.TokenNewline, Bytes: []byte("\n")}}
	for _, k := range keys {
		ts = append(ts, hclwrite.TokensForValue(cty.StringVal(k))...)
		ts = append(ts, &hclwrite.Token{Type: hclsyntax.TokenEqual, Bytes: []byte("=")})
		ts = append(ts, hclwrite.TokensForValue(cty.NumberIntVal(int64(m[k])))...)
		ts = append(ts, &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")})
	}
	ts = append(ts, &hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}")})
	return ts
}

// commented renders b and returns its lines as comments.
func commented(b *blk) []string {
	f := hclwrite.NewEmptyFile()
	(&blk{items: []*item{{block: b}}}).render(f.Body())
	out := strings.TrimRight(string(hclwrite.Format(f.Bytes())), "\n")
	return strings.Split(out, "\n")
}

func strs(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(strings.ToValidUTF8(s, "\uFFFD"))
	}
	return cty.ListVal(vs)
}

func str(s string) cty.Value { return cty.StringVal(strings.ToValidUTF8(s, "\uFFFD")) }

func num(n int64) cty.Value { return cty.NumberIntVal(n) }

func dur(ms int64) cty.Value {
	switch {
	case ms%3600000 == 0 && ms > 0:
		return str(fmt.Sprintf("%dh", ms/3600000))
	case ms%60000 == 0 && ms > 0:
		return str(fmt.Sprintf("%dm", ms/60000))
	case ms%1000 == 0:
		return str(fmt.Sprintf("%ds", ms/1000))
	}
	return str(fmt.Sprintf("%dms", ms))
}

// didYouMean returns the closest known keyword, if close enough.
func didYouMean(kw string, known []string) string {
	best, bd := "", 4
	for _, k := range known {
		d := distance(strings.ToLower(kw), k)
		if d < bd {
			best, bd = k, d
		}
	}
	if best == "" || bd > len(kw)/2 {
		return ""
	}
	return best
}

func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
