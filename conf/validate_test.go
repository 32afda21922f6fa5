package conf

import (
	"strings"
	"testing"
)

// What `tandem check` accepted although it can never work (issue 11,
// item 7): each is refused at the value's position. And values are
// literals: expressions are refused, not evaluated.
func TestUnusableValues(t *testing.T) {
	base := func(vrrpAddr, vsAddr, rsAddr, extra string) string {
		return `
node "d" {}
vrrp "v" {
  vrid      = 1
  interface = "eth0"
  addresses = ["` + vrrpAddr + `"]
}
virtual_server "w" {
  address = "` + vsAddr + `"
  real_server "r" { address = "` + rsAddr + `" }
` + extra + `
}
`
	}
	for _, tc := range []struct {
		name, src, want string
		line, col       int
	}{
		{"vip 0.0.0.0/0", base("0.0.0.0/0", "203.0.113.10:80", "192.168.1.1:80", ""), "zero prefix length", 6, 16},
		{"vip unspecified", base("0.0.0.0/24", "203.0.113.10:80", "192.168.1.1:80", ""), "0.0.0.0 is the unspecified address", 6, 16},
		{"vip is the vrrp group", base("224.0.0.18/24", "203.0.113.10:80", "192.168.1.1:80", ""), "224.0.0.18 is the VRRP multicast group itself", 6, 16},
		{"vip loopback", base("127.0.0.5/8", "203.0.113.10:80", "192.168.1.1:80", ""), "127.0.0.5 is a loopback address", 6, 16},
		{"vip ipv6 loopback", base("::1/128", "[::1]:80", "[2001:db8::1]:80", ""), "::1 is a loopback address", 6, 16},
		{"vip broadcast", base("255.255.255.255/32", "203.0.113.10:80", "192.168.1.1:80", ""), "limited broadcast", 6, 16},
		{"real server broadcast", base("203.0.113.10/24", "203.0.113.10:80", "255.255.255.255:80", ""), "real_server address: 255.255.255.255 is the limited broadcast", 10, 31},
		{"real server loopback", base("203.0.113.10/24", "203.0.113.10:80", "127.0.0.1:80", ""), "real_server address: 127.0.0.1 is a loopback", 10, 31},
		{"real server multicast", base("203.0.113.10/24", "203.0.113.10:80", "239.1.1.1:80", ""), "is a multicast group", 10, 31},
		{"sorry server unspecified", base("203.0.113.10/24", "203.0.113.10:80", "192.168.1.1:80", `  sorry_server { address = "0.0.0.0:80" }`), "sorry_server address: 0.0.0.0 is the unspecified", 11, 28},
		{"service multicast", base("203.0.113.10/24", "224.0.0.1:80", "192.168.1.1:80", ""), "address: 224.0.0.1 is a multicast group", 9, 13},
		{"interface all", strings.Replace(base("203.0.113.10/24", "203.0.113.10:80", "192.168.1.1:80", ""), `"eth0"`, `"all"`, 1), `"all" is not an interface`, 5, 15},
		{"interface default", `node "d" { interfaces = ["eth0", "default"] }`, `"default" is not an interface`, 1, 34},
		{"interpolation", `node "d" { hostname = "${5+5}" }`, "Expressions are not supported; hostname must be a literal", 1, 23},
		{"template directive", `node "d" { hostname = "%{ if true }x%{ endif }" }`, "Expressions are not supported", 1, 23},
		{"conditional", `node "d" { priority = true ? 1 : 2 }`, "Expressions are not supported; priority must be", 1, 23},
		{"arithmetic", `node "d" { priority = 100 + 1 }`, "Expressions are not supported", 1, 23},
		{"function", `node "d" { hostname = upper("x") }`, "Expressions are not supported", 1, 23},
		{"list element", `node "d" { interfaces = ["eth${0}"] }`, "Expressions are not supported", 1, 25},
		{"interpolated string", `node "d" { hostname = "${"a"}b" }`, "Expressions are not supported", 1, 23},
		{"map value", `node "d" {}
vrrp "v" {
  vrid = 1
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
  priorities = { d = 1 + 1 }
}`, "Expressions are not supported", 6, 22},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Parse([]byte(tc.src), "t.hcl")
			if c != nil || !diags.HasErrors() {
				t.Fatalf("accepted")
			}
			for _, d := range diags {
				if strings.Contains(FormatDiagnostic(d), tc.want) {
					if d.Subject.Start.Line != tc.line || d.Subject.Start.Column != tc.col {
						t.Errorf("at %d:%d, want %d:%d: %s", d.Subject.Start.Line, d.Subject.Start.Column, tc.line, tc.col, FormatDiagnostic(d))
					}
					return
				}
			}
			t.Errorf("no error %q in:\n%v", tc.want, diags)
		})
	}
}

// Literals that look like templates still work: escaped sequences, a $
// or % not opening one, negative numbers, bare and quoted map keys.
func TestLiteralsAccepted(t *testing.T) {
	src := `
node "d" {}
track_script "s" {
  command = ["/bin/sh", "-c", "test $HOME != 100% && echo $${x} %%{y}"]
  weight  = -10
}
vrrp "v" {
  vrid          = 1
  interface     = "eth0"
  addresses     = ["203.0.113.10/24"]
  priorities    = { d = 120, "d" = 120 }
  track_scripts = ["s"]
}
`
	_, diags := Parse([]byte(src), "t.hcl")
	for _, d := range diags {
		if strings.Contains(d.Summary, "Expressions") {
			t.Errorf("a literal refused: %s", FormatDiagnostic(d))
		}
	}
	c, diags := Parse([]byte(strings.Replace(src, `, "d" = 120`, "", 1)), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := c.TrackScripts[0].Command[2]; got != "test $HOME != 100% && echo ${x} %{y}" {
		t.Errorf("command %q", got)
	}
}
