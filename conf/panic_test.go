package conf

import (
	"strings"
	"testing"
)

// panic_threshold: a percentage from "0%" to "100%", refused otherwise at
// the value's position.
func TestPanicThreshold(t *testing.T) {
	file := func(v string) string {
		return `node "d" {}
vrrp "v" {
  vrid      = 1
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
}
virtual_server "w" {
  address = "203.0.113.10:80"
` + v + `
  real_server "r" { address = "192.168.1.1:80" }
}
`
	}
	for _, tc := range []struct {
		attr string
		want uint8
	}{
		{"", 0},
		{`  panic_threshold = "50%"`, 50},
		{`  panic_threshold = "0%"`, 0},
		{`  panic_threshold = "100%"`, 100},
	} {
		c, diags := Parse([]byte(file(tc.attr)), "t.hcl")
		if diags.HasErrors() {
			t.Fatalf("%q: %v", tc.attr, diags)
		}
		if got := c.VirtualServers[0].PanicThreshold; got != tc.want {
			t.Errorf("%q: PanicThreshold %d, want %d", tc.attr, got, tc.want)
		}
	}
	for _, tc := range []struct{ attr, want string }{
		{`  panic_threshold = "50"`, `panic_threshold must be a percentage of the real servers from "0%" to "100%", got "50"`},
		{`  panic_threshold = "101%"`, `got "101%"`},
		{`  panic_threshold = "-1%"`, `got "-1%"`},
		{`  panic_threshold = "12.5%"`, `got "12.5%"`},
		{`  panic_threshold = "%"`, `got "%"`},
		{`  panic_threshold = 50`, "panic_threshold"},
	} {
		c, diags := Parse([]byte(file(tc.attr)), "t.hcl")
		if c != nil || !diags.HasErrors() {
			t.Errorf("%q accepted", tc.attr)
			continue
		}
		found := false
		for _, d := range diags {
			if strings.Contains(FormatDiagnostic(d), tc.want) {
				found = true
				if d.Subject.Start.Line != 9 || d.Subject.Start.Column != 21 {
					t.Errorf("%q: at %d:%d, want 9:21: %s", tc.attr, d.Subject.Start.Line, d.Subject.Start.Column, FormatDiagnostic(d))
				}
			}
		}
		if !found {
			t.Errorf("%q: no error %q in:\n%v", tc.attr, tc.want, diags)
		}
	}
}
