package conf

import (
	"net/netip"
	"strings"
	"testing"
)

// The metrics block: the cluster's listener, a node's override, and bad
// addresses refused at their position.
func TestMetricsListen(t *testing.T) {
	src := `
node "d1" {
  metrics {
    listen = "192.0.2.1:9200"
  }
}
node "d2" {}
metrics {
  listen = "127.0.0.1:9115"
}
`
	c, diags := Parse([]byte(src), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for i, want := range []string{"192.0.2.1:9200", "127.0.0.1:9115"} {
		got, ok := c.MetricsListen(&c.Nodes[i])
		if !ok || got != netip.MustParseAddrPort(want) {
			t.Errorf("node %s: listen %v %v, want %s", c.Nodes[i].Name, got, ok, want)
		}
	}
	c, diags = Parse([]byte(`node "d" {}
metrics { listen = ":9115" }`), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got, _ := c.MetricsListen(&c.Nodes[0]); got != netip.MustParseAddrPort("[::]:9115") {
		t.Errorf(":9115 read as %v", got)
	}
	c, _ = Parse([]byte(`node "d" {}`), "t.hcl")
	if _, ok := c.MetricsListen(&c.Nodes[0]); ok {
		t.Error("no metrics block, but a listener")
	}
	for _, tc := range []struct {
		src, want string
		line, col int
	}{
		{"node \"d\" {}\nmetrics { listen = \"localhost:9115\" }", "Invalid listen address", 2, 20},
		{"node \"d\" {}\nmetrics { listen = \"127.0.0.1:0\" }", "port 0", 2, 20},
		{"node \"d\" {}\nmetrics {\n}", "Missing required argument", 2, 1},
		{"node \"d\" {\n  metrics { listen = \"1.2.3.4\" }\n}", "Invalid listen address", 2, 22},
		{"node \"d\" {}\nmetrics { listen = \"127.0.0.1:1\" }\nmetrics { listen = \"127.0.0.1:2\" }", "Duplicate metrics block", 3, 1},
	} {
		_, diags := Parse([]byte(tc.src), "t.hcl")
		found := false
		for _, d := range diags {
			if strings.Contains(FormatDiagnostic(d), tc.want) {
				found = true
				if d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col {
					t.Errorf("%q: at %d:%d, want %d:%d", tc.src, d.Subject.Start.Line, d.Subject.Start.Column, tc.line, tc.col)
				}
			}
		}
		if !found {
			t.Errorf("%q: no %q in %v", tc.src, tc.want, diags)
		}
	}
}
