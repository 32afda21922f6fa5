package conf

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"weak"
)

// bigFile is a cluster file of n virtual servers of 10 real servers each,
// every one with a tcp check: the shape of the load-time benchmark
// (1000 services make about 700 KB).
func bigFile(n int) []byte {
	var b strings.Builder
	vip := func(i int) string { return fmt.Sprintf("10.%d.%d.%d", 1+i/62500, i/250%250, i%250+1) }
	b.WriteString("director {\n  static_vips = [")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", vip(i))
	}
	b.WriteString("]\n}\nnode \"d1\" { priority = 150 }\nnode \"d2\" {}\nvrrp \"v\" {\n  vrid = 51\n  interface = \"eth0\"\n  addresses = [\"10.0.0.100/24\"]\n}\n")
	for i := range n {
		fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = \"%s:80\"\n  scheduler = \"wrr\"\n  check \"tcp\" {}\n", i, vip(i))
		for j := range 10 {
			fmt.Fprintf(&b, "  real_server \"rs%d\" {\n    address = \"192.168.%d.%d:8080\"\n  }\n", j, i%200, j+1)
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

// BenchmarkLoad loads a file of 1000 virtual servers × 10 real servers.
func BenchmarkLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "big.hcl")
	if err := os.WriteFile(path, bigFile(1000), 0o644); err != nil {
		b.Fatal(err)
	}
	defer func(h func([]byte)) { sourceHook = h }(sourceHook)
	sourceHook = nil // TestMain's, which keeps a copy of each file
	b.ReportAllocs()
	for b.Loop() {
		c, _, diags := Load(path)
		if c == nil || diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}

// TestClusterKeepsNoParser checks that a parsed Cluster does not keep the
// file's source alive (nor, with it, the parser's maps and syntax tree): a
// director holds its Cluster for as long as it runs. The returned Cluster
// used to point into the parser.
func TestClusterKeepsNoParser(t *testing.T) {
	defer func(h func([]byte)) { sourceHook = h }(sourceHook)
	sourceHook = nil // TestMain's, which keeps a copy of each file
	w, c := parseWeak(t, bigFile(50))
	runtime.GC()
	runtime.GC()
	if w.Value() != nil {
		t.Error("the Cluster keeps the file's source alive")
	}
	runtime.KeepAlive(c)
}

// parseWeak parses src and returns a weak pointer to its first byte.
func parseWeak(t *testing.T, src []byte) (weak.Pointer[byte], *Cluster) {
	t.Helper()
	w := weak.Make(&src[0])
	c, diags := Parse(src, "big.hcl")
	if c == nil || diags.HasErrors() {
		t.Fatal(diags)
	}
	return w, c
}
