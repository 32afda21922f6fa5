package conf

import (
	"slices"
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
	vrrpWith := func(attr string) string {
		return `node "d" {}
vrrp "v" {
  vrid      = 1
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
  ` + attr + `
}`
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
		{"list element", `node "d" { interfaces = ["eth${0}"] }`, "Expressions are not supported", 1, 26},
		{"interpolated string", `node "d" { hostname = "${"a"}b" }`, "Expressions are not supported", 1, 23},
		{"map value", `node "d" {}
vrrp "v" {
  vrid = 1
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
  priorities = { d = 1 + 1 }
}`, "Expressions are not supported", 6, 22},
		// Also found in review: the exact sub-expression, not the whole
		// value; a whole map written as an expression; a loopback service;
		// and more of the rules above, in every place they apply.
		{"second list element", `node "d" { interfaces = ["eth0", upper("x")] }`, "Expressions are not supported; interfaces must be", 1, 34},
		{"priorities expression", vrrpWith(`priorities = merge({ d = 1 })`), "Expressions are not supported; priorities must be", 6, 16},
		{"priorities variable", vrrpWith(`priorities = var.p`), "Expressions are not supported; priorities must be", 6, 16},
		{"track_virtual_servers for", vrrpWith(`track_virtual_servers = { for k in ["w"]: k => -1 }`), "Expressions are not supported; track_virtual_servers must be", 6, 27},
		{"priorities key", vrrpWith(`priorities = { (d) = 1 }`), "Expressions are not supported; priorities key must be", 6, 18},
		{"minus on a bool", `track_script "s" {
  command = ["/bin/true"]
  weight  = -true
}`, "Expressions are not supported; weight must be", 3, 13},
		{"not", `director { send_redirects = !true }`, "Expressions are not supported; send_redirects must be", 1, 29},
		{"minus minus", `track_script "s" {
  command = ["/bin/true"]
  weight  = - -1
}`, "Expressions are not supported", 3, 13},
		{"service loopback", base("203.0.113.10/24", "127.0.0.1:80", "192.168.1.1:80", ""), "address: 127.0.0.1 is a loopback address", 9, 13},
		{"service ipv6 loopback", base("2001:db8::10/64", "[::1]:80", "[2001:db8::1]:80", ""), "address: ::1 is a loopback address", 9, 13},
		{"service unspecified", base("203.0.113.10/24", "0.0.0.0:80", "192.168.1.1:80", ""), "address: 0.0.0.0 is the unspecified", 9, 13},
		{"service broadcast", base("203.0.113.10/24", "255.255.255.255:80", "192.168.1.1:80", ""), "address: 255.255.255.255 is the limited broadcast", 9, 13},
		{"service ipv6 multicast", base("2001:db8::10/64", "[ff02::12]:80", "[2001:db8::1]:80", ""), "ff02::12 is the VRRP multicast group itself", 9, 13},
		{"vip ::/0", base("::/0", "[2001:db8::10]:80", "[2001:db8::1]:80", ""), "zero prefix length", 6, 16},
		{"vip ipv6 multicast", base("ff05::1/64", "[2001:db8::10]:80", "[2001:db8::1]:80", ""), "ff05::1 is a multicast group", 6, 16},
		{"vip mapped unspecified", base("::ffff:0.0.0.0/104", "203.0.113.10:80", "192.168.1.1:80", ""), "0.0.0.0 is the unspecified", 6, 16},
		{"static vip loopback", `director { static_vips = ["192.0.2.1", "127.0.0.1"] }`, "static_vips: 127.0.0.1 is a loopback", 1, 40},
		{"static vip unspecified", `director { static_vips = ["::"] }`, "static_vips: :: is the unspecified", 1, 27},
		{"static vip broadcast", `director { static_vips = ["255.255.255.255"] }`, "static_vips: 255.255.255.255 is the limited broadcast", 1, 27},
		{"static vip multicast", `director { static_vips = ["224.0.0.1"] }`, "static_vips: 224.0.0.1 is a multicast group", 1, 27},
		{"real server unspecified", base("2001:db8::10/64", "[2001:db8::10]:80", "[::]:80", ""), "real_server address: :: is the unspecified", 10, 31},
		{"real server ipv6 loopback", base("2001:db8::10/64", "[2001:db8::10]:80", "::1", ""), "real_server address: ::1 is a loopback", 10, 31},
		{"sorry server loopback", base("203.0.113.10/24", "203.0.113.10:80", "192.168.1.1:80", `  sorry_server { address = "127.0.0.1" }`), "sorry_server address: 127.0.0.1 is a loopback", 11, 28},
		{"sorry server broadcast", base("203.0.113.10/24", "203.0.113.10:80", "192.168.1.1:80", `  sorry_server { address = "255.255.255.255:80" }`), "sorry_server address: 255.255.255.255 is the limited", 11, 28},
		{"sorry server multicast", base("203.0.113.10/24", "203.0.113.10:80", "192.168.1.1:80", `  sorry_server { address = "[ff0e::1]:80" }`), "sorry_server address: ff0e::1 is a multicast", 11, 28},
		{"track_interfaces all", vrrpWith(`track_interfaces = ["eth1", "all"]`), `track_interfaces: "all" is not an interface`, 6, 31},
		{"conn_sync default", `director {
  conn_sync {
    interface = "default"
  }
}`, `interface: "default" is not an interface`, 3, 17},
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

// A literal empty string is a literal (server_name = "" is the documented
// default), as are heredocs, flush heredocs and escaped template
// sequences in them; found in review: "" was refused as an expression.
func TestEmptyStringAndHeredocLiterals(t *testing.T) {
	src := `
node "d" {}
track_script "s" {
  command = ["/bin/sh", "-c", "", <<EOT
echo $${HOME} 100%%{x} $PATH
EOT
  , <<-EOT
    a $b
      c%
    EOT
  , <<EOT
EOT
  ]
}
vrrp "v" {
  vrid          = 1
  interface     = "eth0"
  addresses     = ["203.0.113.10/24"]
  notify        = ["/usr/local/bin/notify", ""]
  track_scripts = ["s"]
}
virtual_server "w" {
  address = "203.0.113.10:443"
  check "https" {
    tls {
      server_name = ""
    }
  }
  real_server "r" {
    address = "192.168.1.1"
  }
}
`
	c, diags := Parse([]byte(src), "t.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := []string{"/bin/sh", "-c", "", "echo ${HOME} 100%{x} $PATH\n", "a $b\n  c%\n", ""}
	if got := c.TrackScripts[0].Command; !slices.Equal(got, want) {
		t.Errorf("command %q, want %q", got, want)
	}
}

// Services that have no address are not touched by the address rules,
// nor are the addresses that can work: a loopback address elsewhere than
// the roles refused (a check's connect_address), IPv6 link-local VIPs.
func TestUsableAddressesAccepted(t *testing.T) {
	src := `
node "d" {}
vrrp "v" {
  vrid      = 1
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
}
vrrp "v6" {
  vrid      = 2
  interface = "eth0"
  addresses = ["fe80::10/64", "2001:db8::10/64"]
}
virtual_server "m" {
  fwmark = 1
  check "tcp" {
    port            = 80
    connect_address = "127.0.0.1"
  }
  real_server "r" {
    address = "192.168.1.1"
  }
}
virtual_server "w" {
  address = "[2001:db8::10]:80"
  real_server "r" {
    address = "[2001:db8::1]:80"
  }
  sorry_server {
    address = "2001:db8::99"
  }
}
`
	if _, diags := Parse([]byte(src), "t.hcl"); diags.HasErrors() {
		t.Fatal(diags)
	}
}
