package conf

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The fast path is held to hclsyntax by a differential check (checkFast):
// on any input it declines, or it decodes to the same Cluster and the
// same diagnostics, from the same AST. The check runs on the fuzzer's
// inputs (FuzzFastParse, with the seeds below), and on every file any
// test of the package parses (TestMain): the error tables make a corpus
// of invalid files that parse.

// fastForms are inputs at the edges of the fast path's subset that it
// takes (and then must match hclsyntax on); declinedForms are inputs
// just outside, which it must decline.
var fastForms = []string{
	"node \"a\" {}\n",
	"node \"a\" { priority = 150 }",
	"node \"a\" {\n}\nnode \"b\" { }\n",
	"node a {}\nnode \"b\" \"c\" {}\n",
	"node \"a\" {\n  hostname = \"caf\\u00e9\\n\\t\\r\\\"\\\\\"\n}\n",
	"node \"a\" { hostname = \"\\U0001F600x\" }\n",
	"node \"a\" { hostname = \"$${x} %%{y} $ % $$ %% $x %x $$$${ }\" }\n",
	"node \"a\" { hostname = \"\" }\n",
	"node \"\\u00e9\" { hostname = \"café é ñ — €\" }\n",
	"# comment\n// comment\n/* block */ node \"a\" /* in */ {} # end\n",
	"/* multi\nline ß */ node \"a\" {\n  /* x */ priority = 1 /* y */\n} // end",
	"node \"a\" {\n  priority = 150 # why\n  hostname = \"h\" // who\n}\n# last without newline",
	"node \"a\" {}\r\nnode \"b\" {\r\n  priority = 2\r\n}\r\n",
	"node \"a\" {\n\tpriority\t=\t150\n}\n",
	"node \"a\" { priority = 1e3 }\n",
	"node \"a\" { priority = 1.5e2 }\n",
	"node \"a\" { priority = -1 }\n",
	"node \"a\" { priority = - 1 }\n",
	"node \"a\" { priority = 1.0 }\n",
	"node \"a\" { priority = 007 }\n",
	"node \"a\" { priority = true }\nnode \"b\" { priority = null }\n",
	"node \"a\" { interfaces = [\"eth0\", \"eth1\",] }\n",
	"node \"a\" { interfaces = [\n  \"eth0\", # one\n  \"eth1\"\n  ,\n  // two\n] }\n",
	"node \"a\" { interfaces = [] }\n",
	"node \"a\" { interfaces = [[\"x\"], {a = 1}, -2, true] }\n",
	"vrrp \"v\" {\n  priorities = {\n    a = 1,\n    \"b\" = 2\n    c: 3 # x\n    1 = 4\n  }\n}\n",
	"vrrp \"v\" { priorities = {} }\n",
	"vrrp \"v\" { priorities = { a = { b = [1, { c = 2 }] } } }\n",
	"vrrp \"v\" { priorities = {\n\n  a = 1\n\n} }\n",
	"vrrp \"v\" { priorities = { true = 1, null = 2, -3 = 3 } }\n",
	"x = 1\ny = \"z\"\n",
	"x = 1",
	"",
	"\n\n",
	"# only a comment",
	"director {\n  unknown {}\n  conn_sync \"x\" { a = 1 }\n}\nwhat \"x\" \"y\" {\n  z = [1, 2]\n}\n",
	"virtual_server \"w\" {\n  check \"tcp\" {}\n  real_server \"r\" { address = \"192.0.2.1:80\" }\n  real_server \"r\" { address = \"192.0.2.1:80\" }\n}\n",
	"virtual_server \"w\" {\n  check \"x\" { y = 1 }\n}\n",
	"node = {}\n",
	"node \"a\" { priority = 1 /* a block\n comment */ }\n",
	"node \"a\" /* c */ \"b\" {}\n",
	"node \"a\" { # c\n}\n",
	"node \"a\" { priority = 1e+2 }\nnode \"b\" { priority = 1.e2 }\nnode \"c\" { priority = 1E-3 }\n",
	"x = [1 # c\n]\ny = { a = 1 # c\n b = 2 }\n",
	"node \"a\" {\n  hostname = \"a\\\\\"\n}\n",
	"node \"a\" { hostname = \"\\u0000\" }\n",
}

var declinedForms = []string{
	"node \"a\" { hostname = \"${5+5}\" }\n",
	"node \"a\" { hostname = \"%{ if true }x%{ endif }\" }\n",
	"node \"a\" { hostname = <<EOT\nx\nEOT\n}\n",
	"node \"a\" {\n  hostname = <<-EOT\n    x\n  EOT\n}\n",
	"node \"a\" { priority = 0x10 }\n",
	"node \"a\" { priority = 1.2.3 }\n",
	"node \"a\" { priority = 1..2 }\n",
	"node \"a\" { priority = 1 + 1 }\n",
	"node \"a\" { priority = -\"x\" }\n",
	"node \"a\" { priority = x }\n",
	"node \"a\" { priority = x.y }\n",
	"node \"a\" { priority = f(1) }\n",
	"node \"a\" { priority = [for x in y: x] }\n",
	"vrrp \"v\" { priorities = { for = 1 } }\n",
	"vrrp \"v\" { priorities = { (a) = 1 } }\n",
	"node \"a\" { priority = 1, hostname = \"x\" }\n",
	"node \"a\" {\n  priority = 1\n  priority = 2\n}\n",
	"node \"a\" { priority = 1\n}\n",
	"node \"a\" {} node \"b\" {}\n",
	"node \"a\"\n{}\n",
	"virtual_server \"w\" { check \"x\" { y = 1 } }\n",
	"\"node\" {}\n",
	"node \"a\" {\n",
	"node \"a\" { hostname = \"x\n\" }\n",
	"node \"a\" { hostname = \"\\q\" }\n",
	"node \"a\" { hostname = \"\\u00\" }\n",
	"node \"a\" { hostname = \"\\uD800\" }\n",
	"node \"a\" { hostname = 'x' }\n",
	"nöde \"a\" {}\n",
	"node \"a\" { hostname = \"e\u0301\" }\n",
	"node \"a\" { hostname = \"👍\" }\n",
	"\xef\xbb\xbfnode \"a\" {}\n",
	"node \"a\" {}\rnode \"b\" {}\n",
	"node \"a\" { priority = 1 } ; \n",
	"/* unterminated",
}

var tricky = slices.Concat(fastForms, declinedForms)

// seeds are the fuzzer's seeds: the test files, a generated file and
// tricky.
func seeds(tb testing.TB) [][]byte {
	out := usualFiles(tb)
	for _, s := range tricky {
		out = append(out, []byte(s))
	}
	return out
}

// usualFiles are the test files and a generated one.
func usualFiles(tb testing.TB) [][]byte {
	files, err := filepath.Glob("testdata/*.hcl")
	if err != nil || len(files) == 0 {
		tb.Fatal("no test files", err)
	}
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, bigFile(3))
}

// FuzzFastParse: for any input the fast path declines, or it gives the
// Cluster, diagnostics and AST hclsyntax gives.
func FuzzFastParse(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, problem := checkFast(src); problem != "" {
			t.Fatal(problem)
		}
	})
}

// Files of the usual shapes take the fast path: the differential checks
// would otherwise pass for nothing.
func TestFastPathTaken(t *testing.T) {
	accepted := usualFiles(t)
	for _, s := range fastForms {
		accepted = append(accepted, []byte(s))
	}
	for _, src := range accepted {
		taken, problem := checkFast(src)
		if problem != "" {
			t.Errorf("%q: %s", src, problem)
		}
		if !taken {
			t.Errorf("the fast path declined:\n%s", src)
		}
	}
	for _, s := range declinedForms {
		if taken, problem := checkFast([]byte(s)); taken || problem != "" {
			t.Errorf("%q: taken %v, %s", s, taken, problem)
		}
	}
}

// checkFast runs src through the fast path and through hclsyntax with
// the decoder's shortcuts off (the reference: how tandem decoded before
// either), and describes how they differ ("" when they do not); taken
// is whether the fast path took it.
func checkFast(src []byte) (taken bool, problem string) {
	const name = "f.hcl"
	if screen(src, name) != nil {
		return false, ""
	}
	got, gotDiags, ok := parseFast(src, name)
	if !ok {
		return false, ""
	}
	want, wantDiags := parseHCL(src, name, true)
	if !reflect.DeepEqual(got, want) {
		return true, "clusters differ: " + cmp.Diff(want, got, equateIP, cmp.AllowUnexported(Cluster{}))
	}
	if w, g := diagViews(wantDiags), diagViews(gotDiags); !cmp.Equal(w, g) {
		return true, "diagnostics differ (-hcl +fast):\n" + cmp.Diff(w, g)
	}
	file, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	if diags.HasErrors() {
		return true, "the fast path took a file with syntax errors: " + diags.Error()
	}
	root := fullAST(src, name)
	if root == nil {
		return true, "the fast path declined the file on a second parse"
	}
	if !sameAST(file.Body.(*hclsyntax.Body), root) {
		return true, "ASTs differ (-hcl +fast):\n" + cmp.Diff(file.Body, root, astOptions)
	}
	return true, ""
}

// fullAST is the fast path's AST of src, every body parsed; nil if it
// declines.
func fullAST(src []byte, filename string) *hclsyntax.Body {
	root, lazy := fastParse(src, filename)
	if root == nil {
		return nil
	}
	for _, b := range root.Blocks {
		if i, ok := lazy.spans[b.Body]; ok {
			if b.Body = lazy.parse(i); b.Body == nil {
				return nil
			}
		}
	}
	return root
}

// sameAST reports whether hcl's AST and the fast path's are the same,
// but for the empty maps and slices hcl makes where the fast path leaves
// nil (it clears those of hcl's). It is reflect.DeepEqual, which is
// quick enough for the fuzzer, where cmp.Equal with astOptions is not.
func sameAST(hclAST, fastAST *hclsyntax.Body) bool {
	var clear func(b *hclsyntax.Body)
	clear = func(b *hclsyntax.Body) {
		if len(b.Attributes) == 0 {
			b.Attributes = nil
		}
		if len(b.Blocks) == 0 {
			b.Blocks = nil
		}
		for _, blk := range b.Blocks {
			clear(blk.Body)
		}
	}
	clear(hclAST)
	return reflect.DeepEqual(hclAST, fastAST)
}

var astOptions = cmp.Options{
	cmpopts.EquateEmpty(), // hcl makes empty maps and slices where the fast path leaves nil
	cmpopts.IgnoreUnexported(hclsyntax.Body{}, hcl.TraverseRoot{}),
	cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) }),
	cmp.Comparer(func(a, b *hclsyntax.Operation) bool { return a == b }),
}

type diagView struct {
	Severity         hcl.DiagnosticSeverity
	Summary, Detail  string
	Subject, Context *hcl.Range
}

func diagViews(diags hcl.Diagnostics) []diagView {
	out := make([]diagView, len(diags))
	for i, d := range diags {
		out[i] = diagView{d.Severity, d.Summary, d.Detail, d.Subject, d.Context}
	}
	return out
}

// TestFastAST compares the ASTs of the seeds, every range included.
func TestFastAST(t *testing.T) {
	for _, src := range seeds(t) {
		root := fullAST(src, "f.hcl")
		if root == nil {
			continue
		}
		file, diags := hclsyntax.ParseConfig(src, "f.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Errorf("%q: the fast path took a file with syntax errors: %v", src, diags)
			continue
		}
		if diff := cmp.Diff(file.Body, root, astOptions); diff != "" {
			t.Errorf("%q: ASTs differ (-hcl +fast):\n%s", src, diff)
		}
		if !sameAST(file.Body.(*hclsyntax.Body), root) {
			t.Errorf("%q: sameAST false where cmp finds no difference", src)
		}
	}
}

// TestOneColumn checks oneColumn against hcl's count of columns: each
// character it admits, alone and beside another, is one column.
func TestOneColumn(t *testing.T) {
	var admitted []rune
	for r := rune(utf8.RuneSelf); r <= 0x10ffff; r++ {
		if oneColumn(r) {
			admitted = append(admitted, r)
		}
	}
	closeQuote := func(s string) int {
		toks, diags := hclsyntax.LexConfig([]byte(`x = "`+s+`"`), "f.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%q: %v", s, diags)
		}
		for _, tok := range toks {
			if tok.Type == hclsyntax.TokenCQuote {
				return tok.Range.Start.Column
			}
		}
		t.Fatalf("%q: no closing quote", s)
		return 0
	}
	for _, r := range admitted {
		for _, s := range []string{"a" + string(r) + "b", string(r) + "a", "a" + string(r)} {
			if got := closeQuote(s); got != 6+utf8.RuneCountInString(s) {
				t.Fatalf("%q (U+%04X): closing quote at column %d, want %d", s, r, got, 6+utf8.RuneCountInString(s))
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		s := string(admitted[rng.IntN(len(admitted))]) + string(admitted[rng.IntN(len(admitted))]) + string(admitted[rng.IntN(len(admitted))])
		if got := closeQuote(s); got != 9 {
			t.Fatalf("%q: closing quote at column %d, want 9", s, got)
		}
	}
}

// TestMain runs the differential check on every file the package's tests
// parse, once they have passed (not when fuzzing: the fuzzer's inputs
// are FuzzFastParse's).
func TestMain(m *testing.M) {
	flag.Parse()
	var (
		mu   sync.Mutex
		seen = map[string]bool{}
	)
	set := func(name string) bool {
		f := flag.Lookup(name)
		return f != nil && f.Value.String() != "" && f.Value.String() != "false"
	}
	if !set("test.fuzz") && !set("test.fuzzworker") {
		sourceHook = func(src []byte) {
			mu.Lock()
			seen[string(src)] = true
			mu.Unlock()
		}
	}
	code := m.Run()
	sourceHook = nil
	if code == 0 && len(seen) > 0 {
		taken := 0
		for src := range seen {
			ok, problem := checkFast([]byte(src))
			if problem != "" {
				fmt.Fprintf(os.Stderr, "--- FAIL: differential check of a file a test parsed:\n%.2000s\n%s\n", src, problem)
				code = 1
			}
			if ok {
				taken++
			}
		}
		if testing.Verbose() {
			fmt.Printf("differential check: %d files parsed by the tests, %d by the fast path\n", len(seen), taken)
		}
	}
	os.Exit(code)
}

// The generated benchmark file decodes as hcl's parse of it does.
func TestBigFile(t *testing.T) {
	src := bigFile(200)
	if taken, problem := checkFast(src); !taken || problem != "" {
		t.Fatalf("taken %v: %s", taken, problem)
	}
	if strings.Count(string(src), "real_server") != 2000 {
		t.Fatal("generator")
	}
}

// TestFastRandomFiles runs the differential check on generated files:
// blocks and attributes of the schema, misspelt and unknown ones, values
// of every kind (right and wrong), comments of every form, tabs, CRLF,
// one-line blocks. Most are in the fast path's subset, and most have
// errors for the decoder to report: the fuzzer rarely builds those.
func TestFastRandomFiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 7))
	taken := 0
	const n = 3000
	for range n {
		src := randomFile(rng)
		ok, problem := checkFast(src)
		if problem != "" {
			t.Fatalf("%s\n%s", src, problem)
		}
		if ok {
			taken++
		}
	}
	t.Logf("the fast path took %d of %d", taken, n)
	if taken < n*3/4 {
		t.Errorf("the fast path took %d of %d generated files", taken, n)
	}
}

var (
	genBlocks = []string{"director", "node", "vrrp", "sync_group", "track_script", "virtual_server",
		"real_server", "check", "tls", "garp", "timeouts", "conn_sync", "persistence", "sorry_server", "nodes", "real-server"}
	genAttrs = []string{"address", "adress", "vrid", "interface", "addresses", "priority", "priorities", "hostname",
		"interfaces", "static_vips", "weight", "port", "interval", "timeout", "scheduler", "command", "notify",
		"track_scripts", "track_virtual_servers", "instances", "fwmark", "family", "forward", "quorum", "path",
		"status", "server_name", "send_redirects", "ip_forward", "masquerade", "netmask", "bogus"}
	genStrings = []string{`"192.0.2.1:80"`, `"203.0.113.10:80"`, `"203.0.113.10/24"`, `"192.168.1.1"`, `"2001:db8::1"`,
		`"[2001:db8::10]:80"`, `"eth0"`, `"1s"`, `"250ms"`, `"wrr"`, `"tcp"`, `""`, `"a\"b\\c"`, `"caf\u00e9"`,
		`"x$${y}%%{z}"`, `"100% $HOME"`, `"ñandú — 5 €"`, `"/bin/true"`, `"director1"`, `"\t\n"`, `"200-299"`}
	genNames = []string{`"a"`, `"b"`, `"director1"`, `"director2"`, `"web"`, `"rs1"`, `"rs1"`, `"tcp"`, `"http"`,
		`"-x"`, `"ñ"`, "bare", `"a\"b"`}
)

func randomFile(rng *rand.Rand) []byte {
	var b strings.Builder
	nl := "\n"
	if rng.IntN(5) == 0 {
		nl = "\r\n"
	}
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	space := func() string { return pick([]string{" ", " ", "  ", "\t", " /* c */ "}) }
	eol := func() string {
		switch rng.IntN(8) {
		case 0:
			return " # note" + nl
		case 1:
			return " // note ü" + nl
		case 2:
			return nl + nl
		}
		return nl
	}
	var value func(depth int) string
	value = func(depth int) string {
		switch k := rng.IntN(10); {
		case k < 4:
			return pick(genStrings)
		case k < 6:
			return pick([]string{"0", "1", "51", "150", "-1", "- 10", "1.5", "1e3", "65536", "4294967296"})
		case k == 6:
			return pick([]string{"true", "false", "null"})
		case k == 7 && depth < 3:
			var items []string
			for range rng.IntN(4) {
				items = append(items, value(depth+1))
			}
			sep := pick([]string{", ", ",", "," + nl + "  ", " ," + space()})
			return "[" + strings.Join(items, sep) + pick([]string{"", ",", nl}) + "]"
		case depth < 3:
			var items []string
			for range rng.IntN(4) {
				key := pick([]string{"director1", "director2", `"director2"`, "web", "x-y", "true", "1"})
				items = append(items, key+space()+pick([]string{"=", ":"})+space()+value(depth+1))
			}
			return "{" + strings.Join(items, pick([]string{", ", nl})) + "}"
		}
		return pick(genStrings)
	}
	// Mostly the blocks the schema has there, with one label where it
	// takes one, so that the decoder goes deep.
	inside := map[string][]string{
		"":               {"node", "node", "vrrp", "virtual_server", "virtual_server", "director", "track_script", "sync_group"},
		"virtual_server": {"real_server", "real_server", "check", "sorry_server", "persistence"},
		"real_server":    {"check"},
		"check":          {"tls"},
		"director":       {"conn_sync", "timeouts"},
		"vrrp":           {"garp"},
	}
	labels := map[string]int{"node": 1, "vrrp": 1, "virtual_server": 1, "track_script": 1, "sync_group": 1, "real_server": 1, "check": 1}
	var block func(depth int, parent string)
	block = func(depth int, parent string) {
		typ := pick(genBlocks)
		if in := inside[parent]; len(in) > 0 && rng.IntN(5) > 0 {
			typ = pick(in)
		}
		b.WriteString(typ)
		nLabels := rng.IntN(3)
		if n, ok := labels[typ]; rng.IntN(5) > 0 && ok {
			nLabels = n
		}
		for range nLabels {
			b.WriteString(space() + pick(genNames))
		}
		b.WriteString(space() + "{")
		switch k := rng.IntN(6); {
		case k == 0:
			b.WriteString("}")
		case k == 1:
			b.WriteString(" " + pick(genAttrs) + space() + "=" + space() + value(1) + " }")
		default:
			b.WriteString(eol())
			for range rng.IntN(6) {
				if depth < 3 && rng.IntN(4) == 0 {
					block(depth+1, typ)
					continue
				}
				b.WriteString(strings.Repeat("  ", depth+1) + pick(genAttrs) + space() + "=" + space() + value(0) + eol())
			}
			b.WriteString("}")
		}
		b.WriteString(eol())
	}
	for range 1 + rng.IntN(6) {
		if rng.IntN(10) == 0 {
			b.WriteString(pick(genAttrs) + " = " + value(0) + eol())
			continue
		}
		block(0, "")
	}
	return []byte(b.String())
}
