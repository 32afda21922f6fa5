package conf

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

func TestBGPExample(t *testing.T) {
	c, _, diags := Load("testdata/bgp.hcl")
	if diags.HasErrors() {
		t.Fatalf("bgp.hcl:\n%s", fmtDiags(diags))
	}
	if len(diags) != 0 {
		t.Errorf("bgp.hcl has warnings:\n%s", fmtDiags(diags))
	}
	g := c.BGP
	if g == nil {
		t.Fatal("no BGP")
	}
	if g.LocalAS != 65010 || g.Interface != "lo" || g.HoldTime != 9*time.Second || g.GracefulRestart ||
		g.RestartTime != 15*time.Second || g.Drain != 2*time.Second || g.MED != nil {
		t.Errorf("bgp = %+v", g)
	}
	if len(g.Addresses) != 1 || g.Addresses[0].String() != "203.0.113.10" || !c.IsBGPVIP(g.Addresses[0]) {
		t.Errorf("addresses = %v", g.Addresses)
	}
	if len(g.Peers) != 1 || g.Peers[0].Address.String() != "10.0.0.1" || g.Peers[0].AS != 65000 || g.Peers[0].Port != 179 || g.HoldTimeOf(&g.Peers[0]) != 9*time.Second {
		t.Errorf("peers = %+v", g.Peers)
	}
	if c.Nodes[0].RouterID.String() != "10.0.0.11" {
		t.Errorf("router_id = %s", c.Nodes[0].RouterID)
	}
	if vs := c.VirtualServers[0]; vs.OnFailure != Drain {
		t.Errorf("on_failure = %s, want drain for a BGP address", vs.OnFailure)
	}
	if cs := c.Director.ConnSync; cs == nil || cs.VRRP != "" {
		t.Errorf("conn_sync = %+v, want one with no vrrp (both daemons)", cs)
	}
}

// bgpFile is a valid BGP cluster; the cases below replace parts of it.
const bgpFile = `node "d1" {}
node "d2" {}
bgp {
  local_as  = 65010
  addresses = ["203.0.113.10"]
  peer "r" {
    address = "10.0.0.1"
    as      = 65000
  }
}
virtual_server "web" {
  address         = "203.0.113.10:80"
  scheduler       = "mh"
  scheduler_flags = ["mh-fallback"]
  forward         = "dr"
  real_server "a" { address = "10.0.0.21" }
}
`

func TestBGPErrors(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string // in the summary or detail
		line, col      int
		warning        bool
	}{
		{"no local_as", "local_as  = 65010", "", "local_as", 3, 1, false},
		{"as zero", "as      = 65000", "as      = 0", "0", 8, 15, false},
		{"no peer", `peer "r" {
    address = "10.0.0.1"
    as      = 65000
  }`, "", "at least one peer", 3, 1, false},
		{"bad community", `local_as  = 65010`, `local_as  = 65010
  communities = ["65010:70000"]`, "standard community", 5, 18, false},
		{"vip also vrrp", `node "d2" {}`, `node "d2" {}
vrrp "v" {
  vrid = 1
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
}`, "either moved by VRRP or announced by BGP", 10, 16, false},
		{"nat real server", `forward         = "dr"`, `forward         = "nat"`, "NAT real server", 11, 1, false},
		{"wlc warns", "scheduler       = \"mh\"\n  scheduler_flags = [\"mh-fallback\"]", `scheduler       = "wlc"`, "consistent placement", 11, 1, true},
		{"no fallback warns", `scheduler_flags = ["mh-fallback"]`, `scheduler_flags = ["mh-port"]`, "mh-fallback", 11, 1, true},
		{"router id v6", `node "d1" {}`, `node "d1" { router_id = "2001:db8::1" }`, "router_id", 1, 25, false},
		{"duplicate peer", `as      = 65000
  }`, `as      = 65000
  }
  peer "r2" {
    address = "10.0.0.1"
    as = 65001
  }`, "Duplicate peer address", 11, 15, false},
		{"hold time too short", "local_as  = 65010", "local_as  = 65010\n  hold_time = \"1s\"", "hold_time", 5, 15, false},
		{"on_failure remove", `forward         = "dr"`, `forward         = "dr"
  on_failure      = "remove"`, "on_failure", 16, 21, false},
		{"v6 without a v6 peer", `addresses = ["203.0.113.10"]`, `addresses = ["203.0.113.10", "2001:db8::10"]`, "IPv6 peer", 5, 15, false},
		{"vs on unannounced address", `address         = "203.0.113.10:80"`, `address         = "203.0.113.11:80"`, "not an address of any vrrp", 12, 21, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(bgpFile, tt.old, tt.new, 1)
			if src == bgpFile {
				t.Fatal("case changes nothing")
			}
			c, diags := Parse([]byte(src), "b.hcl")
			var hit *hcl.Diagnostic
			for _, d := range diags {
				if strings.Contains(d.Summary+" "+d.Detail, tt.want) {
					hit = d
					break
				}
			}
			if hit == nil {
				t.Fatalf("no diagnostic with %q:\n%s", tt.want, fmtDiags(diags))
			}
			if (hit.Severity == hcl.DiagWarning) != tt.warning {
				t.Errorf("severity = %v, want warning %t", hit.Severity, tt.warning)
			}
			if tt.warning && c == nil {
				t.Errorf("a warning made the file fail:\n%s", fmtDiags(diags))
			}
			if hit.Subject.Start.Line != tt.line || (tt.col != 0 && hit.Subject.Start.Column != tt.col) {
				t.Errorf("at %d:%d, want %d:%d: %s", hit.Subject.Start.Line, hit.Subject.Start.Column, tt.line, tt.col, FormatDiagnostic(hit))
			}
		})
	}
}

func TestBGPExampleInReadme(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/bgp.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```hcl\n"+string(src)+"```\n") {
		t.Error("README.md does not quote testdata/bgp.hcl verbatim")
	}
}

func TestBGPPeerOptions(t *testing.T) {
	src := strings.Replace(bgpFile, `as      = 65000`, `as      = 65000
    port = 1179
    password = "s3cret"
    hold_time = "3s"
    passive = true
    bfd = true
    bfd_interval = "100ms"
    bfd_multiplier = 5`, 1)
	src = strings.Replace(src, `local_as  = 65010`, `local_as  = 65010
  graceful_restart = true
  restart_time = "30s"
  communities = ["65010:1", "no-export"]
  med = 7
  drain_timeout = "500ms"
  interface = "dummy0"`, 1)
	c, diags := Parse([]byte(src), "b.hcl")
	if diags.HasErrors() {
		t.Fatal(fmtDiags(diags))
	}
	g, p := c.BGP, c.BGP.Peers[0]
	if !g.GracefulRestart || g.RestartTime != 30*time.Second || len(g.Communities) != 2 || g.MED == nil || *g.MED != 7 ||
		g.Drain != 500*time.Millisecond || g.Interface != "dummy0" {
		t.Errorf("bgp = %+v", g)
	}
	if p.Port != 1179 || p.Password != "s3cret" || g.HoldTimeOf(&p) != 3*time.Second || !p.Passive || !p.BFD ||
		p.BFDInterval != 100*time.Millisecond || p.BFDMultiplier != 5 {
		t.Errorf("peer = %+v", p)
	}
}
