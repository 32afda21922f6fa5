package conf

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// base is prepended to every snippet that is not bare: two nodes and two
// vrrp instances sharing vrid 51 on eth0, one per family.
const base = `node "director1" { priority = 150 }
node "director2" {}
vrrp "public" {
  vrid      = 51
  interface = "eth0"
  addresses = ["203.0.113.10/24", "203.0.113.11/24"]
}
vrrp "v6" {
  vrid      = 51
  interface = "eth0"
  addresses = ["2001:db8::10/64"]
}
`

var baseLines = strings.Count(base, "\n")

func errorsOf(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// bare: src is the whole file; otherwise base comes first and
		// line counts from the first line of src.
		bare    bool
		wantErr string
		line    int
		col     int // 0 = not checked
	}{
		// Structure and types.
		{name: "unknown attribute", src: `
virtual_server "web" {
  adress = "203.0.113.10:80"
}`, wantErr: `Did you mean "address"?`, line: 2, col: 3},
		{name: "unknown block", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
  grap {}
}`, wantErr: `Blocks of type "grap" are not expected here. Did you mean "garp"?`, line: 5, col: 3},
		{name: "unknown top-level block", src: `
nodes "director3" {}`, wantErr: `Did you mean "node"?`, line: 1, col: 1},
		{name: "string for a number", src: `
node "director3" { priority = "150" }`, wantErr: "number required, got string", line: 1, col: 31},
		{name: "fractional number", src: `
node "director3" { priority = 1.5 }`, wantErr: "whole number", line: 1, col: 31},
		{name: "string for a list", src: `
director { masquerade = "192.168.100.0/24" }`, wantErr: "a list of strings required", line: 1, col: 25},
		{name: "number in a string list", src: `
node "director3" { interfaces = ["eth0", 1] }`, wantErr: "string required, got number", line: 1, col: 42},
		{name: "string for a bool", src: `
director { send_redirects = "no" }`, wantErr: "a bool required", line: 1, col: 29},
		{name: "list for a map", src: `
vrrp "x" {
  vrid       = 60
  interface  = "eth0"
  addresses  = ["203.0.113.20/24"]
  priorities = ["director1"]
}`, wantErr: "map of node name to priority", line: 5, col: 16},
		{name: "null value", src: `
director { send_redirects = null }`, wantErr: "must not be null", line: 1, col: 29},
		{name: "missing required attribute", src: `
vrrp "x" {
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
}`, wantErr: "A vrrp block needs vrid", line: 1, col: 1},
		{name: "two director blocks", src: `
director {}
director {}`, wantErr: "Only one director block is allowed here; the first is at line 13", line: 2, col: 1},
		{name: "missing label", src: `
node {}`, wantErr: "Missing name for node", line: 1},
		{name: "extra label", src: `
node "a" "b" {}`, wantErr: "Extraneous label for node", line: 1, col: 10},
		{name: "bad name", src: `
node "-x" {}`, wantErr: "Invalid name", line: 1, col: 6},
		{name: "no node", bare: true, src: `
director {}`, wantErr: "No node block", line: 1, col: 1},

		// Values.
		{name: "bad IP", src: `
director { static_vips = ["203.0.113.300"] }`, wantErr: `"203.0.113.300" is not an IP address`, line: 1, col: 27},
		{name: "IP with a prefix", src: `
director { static_vips = ["203.0.113.30/24"] }`, wantErr: "without a prefix length", line: 1, col: 27},
		{name: "address without port", src: `
virtual_server "web" { address = "203.0.113.10" }`, wantErr: "has no port", line: 1, col: 34},
		{name: "bad ip:port", src: `
virtual_server "web" { address = "203.0.113.10:http" }`, wantErr: "is not a valid ip:port", line: 1, col: 34},
		{name: "port 0", src: `
virtual_server "web" { address = "203.0.113.10:0" }`, wantErr: "port 0", line: 1, col: 34},
		{name: "bad prefix", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20"]
}`, wantErr: "add the prefix length, as in 203.0.113.20/32", line: 4, col: 16},
		{name: "masquerade with host bits", src: `
director { masquerade = ["192.168.100.1/24"] }`, wantErr: `did you mean "192.168.100.0/24"?`, line: 1, col: 26},
		{name: "bad duration", src: `
track_script "s" {
  command  = ["/bin/true"]
  interval = "2 sec"
}`, wantErr: `"2 sec" is not a duration`, line: 3, col: 14},
		{name: "vrid out of range", src: `
vrrp "x" {
  vrid      = 256
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
}`, wantErr: "vrid must be between 1 and 255, got 256", line: 2, col: 15},
		{name: "priority 255 reserved for owners", src: `
node "director3" { priority = 255 }`, wantErr: "priority must be between 1 and 254", line: 1, col: 31},
		{name: "weight out of range", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" {
    address = "192.168.100.11"
    weight  = 65536
  }
}`, wantErr: "weight must be between 0 and 65535", line: 5, col: 15},
		{name: "check port out of range", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { port = 70000 }
}`, wantErr: "port must be between 1 and 65535", line: 3, col: 24},
		{name: "advert_interval v3 not centiseconds", src: `
vrrp "x" {
  vrid            = 60
  interface       = "eth0"
  addresses       = ["203.0.113.20/24"]
  advert_interval = "15ms"
}`, wantErr: "multiple of 10ms up to 40.95s", line: 5, col: 21},
		{name: "advert_interval v3 too long", src: `
vrrp "x" {
  vrid            = 60
  interface       = "eth0"
  addresses       = ["203.0.113.20/24"]
  advert_interval = "41s"
}`, wantErr: "VRRPv3 advertises in centiseconds", line: 5, col: 21},
		{name: "advert_interval v2 not whole seconds", src: `
vrrp "x" {
  vrid            = 60
  interface       = "eth0"
  addresses       = ["203.0.113.20/24"]
  version         = 2
  advert_interval = "1500ms"
}`, wantErr: "VRRPv2 advertises in whole seconds", line: 6, col: 21},
		{name: "advert_interval too short", src: `
vrrp "x" {
  vrid            = 60
  interface       = "eth0"
  addresses       = ["203.0.113.20/24"]
  advert_interval = "5ms"
}`, wantErr: "advert_interval must be between 10ms and 4m15s", line: 5, col: 21},
		{name: "lower threshold above upper", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" {
    address         = "192.168.100.11"
    upper_threshold = 100
    lower_threshold = 200
  }
}`, wantErr: "lower_threshold 200 is more than upper_threshold 100", line: 6, col: 23},
		{name: "lower threshold without upper", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" {
    address         = "192.168.100.11"
    lower_threshold = 200
  }
}`, wantErr: "without upper_threshold it does nothing", line: 5, col: 23},
		{name: "bad interface name", src: `
node "director3" { interfaces = ["eth0/1"] }`, wantErr: `"eth0/1" is not a valid interface name`, line: 1, col: 34},

		// Names and duplicates.
		{name: "duplicate node", src: `
node "director1" {}`, wantErr: `node "director1" is already defined at line 1`, line: 1, col: 6},
		{name: "duplicate node hostname", src: `
node "director3" { hostname = "director2" }`, wantErr: `Duplicate node hostname`, line: 1, col: 31},
		{name: "duplicate vrrp", src: `
vrrp "public" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
}`, wantErr: `vrrp "public" is already defined at line 3`, line: 1, col: 6},
		{name: "duplicate vrid on interface and family", src: `
vrrp "x" {
  vrid      = 51
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
}`, wantErr: `vrid 51 on eth0 for ipv4 is already defined at line 4`, line: 2, col: 15},
		{name: "duplicate VIP", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.10/25"]
}`, wantErr: `203.0.113.10 is already an address of vrrp "public"`, line: 4, col: 16},
		{name: "duplicate sync_group", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
}
vrrp "y" {
  vrid      = 61
  interface = "eth0"
  addresses = ["203.0.113.21/24"]
}
sync_group "g" { instances = ["public", "x"] }
sync_group "g" { instances = ["v6", "y"] }`, wantErr: `sync_group "g" is already defined`, line: 12, col: 12},
		{name: "duplicate track_script", src: `
track_script "s" { command = ["/bin/true"] }
track_script "s" { command = ["/bin/true"] }`, wantErr: `track_script "s" is already defined at line 13`, line: 2, col: 14},
		{name: "duplicate virtual_server name", src: `
virtual_server "web" { address = "203.0.113.10:80" }
virtual_server "web" { address = "203.0.113.10:443" }`, wantErr: `virtual_server "web" is already defined`, line: 2, col: 16},
		{name: "duplicate virtual service", src: `
virtual_server "web" { address = "203.0.113.10:80" }
virtual_server "web2" { address = "203.0.113.10:80" }`, wantErr: `service tcp 203.0.113.10:80 is already defined at line 13`, line: 2, col: 35},
		{name: "duplicate fwmark service", src: `
virtual_server "a" { fwmark = 1 }
virtual_server "b" { fwmark = 1 }`, wantErr: `service fwmark 1 ipv4 is already defined`, line: 2, col: 31},
		{name: "duplicate real_server name", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" { address = "192.168.100.11" }
  real_server "rs1" { address = "192.168.100.12" }
}`, wantErr: `real_server "rs1" is already defined at line 15`, line: 4, col: 15},
		{name: "duplicate real server address", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" { address = "192.168.100.11" }
  real_server "rs2" { address = "192.168.100.11:80" }
}`, wantErr: `real server 192.168.100.11:80 is already defined`, line: 4, col: 33},

		// References.
		{name: "priorities key not a node", src: `
vrrp "x" {
  vrid       = 60
  interface  = "eth0"
  addresses  = ["203.0.113.20/24"]
  priorities = { director9 = 120 }
}`, wantErr: `there is no node "director9". Hint: known nodes: "director1", "director2"`, line: 5, col: 18},
		{name: "priorities key twice", src: `
vrrp "x" {
  vrid       = 60
  interface  = "eth0"
  addresses  = ["203.0.113.20/24"]
  priorities = { director2 = 120, director2 = 130 }
}`, wantErr: `priority for node "director2" is already defined`, line: 5, col: 35},
		{name: "variables not allowed", src: `
director { send_redirects = var.x }`, wantErr: "Expressions are not supported", line: 1, col: 29},
		{name: "priorities value out of range", src: `
vrrp "x" {
  vrid       = 60
  interface  = "eth0"
  addresses  = ["203.0.113.20/24"]
  priorities = { director2 = 0 }
}`, wantErr: `priorities.director2 must be between 1 and 254`, line: 5, col: 30},
		{name: "VIP not covered", src: `
virtual_server "web" { address = "198.51.100.7:80" }`, wantErr: "VIP not covered by any vrrp instance", line: 1, col: 34},
		{name: "unknown track_script", src: `
vrrp "x" {
  vrid          = 60
  interface     = "eth0"
  addresses     = ["203.0.113.20/24"]
  track_scripts = ["db_alive"]
}`, wantErr: `there is no track_script "db_alive"`, line: 5, col: 20},
		{name: "unknown tracked virtual_server", src: `
vrrp "x" {
  vrid                  = 60
  interface             = "eth0"
  addresses             = ["203.0.113.20/24"]
  track_virtual_servers = { webb = -50 }
}`, wantErr: `there is no virtual_server "webb"`, line: 5, col: 29},
		{name: "tracked virtual_server weight not negative", src: `
vrrp "x" {
  vrid                  = 60
  interface             = "eth0"
  addresses             = ["203.0.113.20/24"]
  track_virtual_servers = { web = 10 }
}
virtual_server "web" { address = "203.0.113.20:80" }`, wantErr: "-254", line: 5, col: 35},
		{name: "track_virtual_servers not a map", src: `
vrrp "x" {
  vrid                  = 60
  interface             = "eth0"
  addresses             = ["203.0.113.20/24"]
  track_virtual_servers = ["web"]
}`, wantErr: "track_virtual_servers must be a map", line: 5, col: 27},
		{name: "track_interface not on node", src: `
node "director3" { interfaces = ["eth0", "eth1"] }
vrrp "x" {
  vrid             = 60
  interface        = "eth0"
  addresses        = ["203.0.113.20/24"]
  track_interfaces = ["eth2"]
}`, wantErr: `interface "eth2" is not in the interfaces of node "director3"`, line: 6, col: 23},
		{name: "conn_sync needs vrrp", src: `
director {
  conn_sync { interface = "eth1" }
}`, wantErr: "conn_sync needs vrrp", line: 2, col: 3},
		{name: "conn_sync unknown vrrp", src: `
director {
  conn_sync {
    interface = "eth1"
    vrrp      = "nope"
  }
}`, wantErr: `there is no vrrp "nope"`, line: 4, col: 17},
		{name: "conn_sync group not multicast", src: `
director {
  conn_sync {
    interface = "eth1"
    vrrp      = "public"
    group     = "192.0.2.81"
  }
}`, wantErr: "conn_sync group: 192.0.2.81 is not a multicast address", line: 5, col: 17},
		{name: "conn_sync port 0", src: `
director {
  conn_sync {
    interface = "eth1"
    vrrp      = "public"
    port      = 0
  }
}`, wantErr: "port must be between 1 and 65535, got 0", line: 5, col: 17},
		{name: "conn_sync ttl too big", src: `
director {
  conn_sync {
    interface = "eth1"
    vrrp      = "public"
    ttl       = 256
  }
}`, wantErr: "ttl must be between 1 and 255, got 256", line: 5, col: 17},

		// Virtual servers.
		{name: "fwmark with address", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  fwmark  = 1
}`, wantErr: "either an address service or a fwmark service", line: 3, col: 3},
		{name: "fwmark with protocol", src: `
virtual_server "web" {
  fwmark   = 1
  protocol = "tcp"
}`, wantErr: "protocol on a fwmark service", line: 3, col: 3},
		{name: "neither address nor fwmark", src: `
virtual_server "web" {}`, wantErr: "needs address or fwmark", line: 1, col: 1},
		{name: "family without fwmark", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  family  = "ipv4"
}`, wantErr: "family is only for fwmark services", line: 3, col: 3},
		{name: "fwmark out of range", src: `
virtual_server "web" { fwmark = 0 }`, wantErr: "fwmark must be between 1 and 4294967295", line: 1, col: 33},
		{name: "port on a DR real server of a fwmark service", src: `
virtual_server "web" {
  fwmark  = 1
  forward = "dr"
  real_server "rs1" { address = "192.168.100.11:80" }
}`, wantErr: "a dr real server of a fwmark service takes no port", line: 4, col: 33},
		{name: "real server family mismatch", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" { address = "[2001:db8::11]:80" }
}`, wantErr: "only forward = \"tun\" can mix families", line: 3, col: 33},
		{name: "DR real server port differs", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  forward = "dr"
  real_server "rs1" { address = "192.168.100.11:8080" }
}`, wantErr: "IPVS cannot rewrite ports in DR mode", line: 4, col: 33},
		{name: "TUN real server port differs", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" {
    address = "192.168.100.11:8080"
    forward = "tun"
  }
}`, wantErr: "IPVS cannot rewrite ports in TUN mode", line: 4, col: 15},
		{name: "unknown protocol", src: `
virtual_server "web" {
  address  = "203.0.113.10:80"
  protocol = "icmp"
}`, wantErr: `protocol must be one of "tcp", "udp", "sctp", got "icmp"`, line: 3, col: 14},
		{name: "unknown forward", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  forward = "masq"
}`, wantErr: `forward must be one of "nat", "dr", "tun"`, line: 3, col: 13},
		{name: "unknown scheduler", src: `
virtual_server "web" {
  address   = "203.0.113.10:80"
  scheduler = "roundrobin"
}`, wantErr: "use one of rr, wrr, lc, wlc", line: 3, col: 15},
		{name: "scheduler flag for another scheduler", src: `
virtual_server "web" {
  address         = "203.0.113.10:80"
  scheduler       = "rr"
  scheduler_flags = ["sh-port"]
}`, wantErr: `"sh-port" works only with scheduler "sh", not "rr"`, line: 4, col: 22},
		{name: "unknown scheduler flag", src: `
virtual_server "web" {
  address         = "203.0.113.10:80"
  scheduler       = "mh"
  scheduler_flags = ["mh-sticky"]
}`, wantErr: `"mh-sticky" is not a scheduler flag`, line: 4, col: 22},
		{name: "persistence netmask not contiguous", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  persistence { netmask = "255.0.255.0" }
}`, wantErr: `netmask "255.0.255.0" is not valid for an ipv4 service`, line: 3, col: 27},
		{name: "persistence dotted netmask on IPv6", src: `
virtual_server "web" {
  address = "[2001:db8::10]:80"
  persistence { netmask = "255.255.255.0" }
}`, wantErr: `not valid for an ipv6 service. Hint: write a prefix length 1..128`, line: 3, col: 27},
		{name: "persistence IPv6 prefix too long", src: `
virtual_server "web" {
  address = "[2001:db8::10]:80"
  persistence { netmask = 129 }
}`, wantErr: `netmask 129 is not valid`, line: 3, col: 27},
		{name: "persistence timeout not whole seconds", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  persistence { timeout = "1500ms" }
}`, wantErr: "timeout must be a multiple of 1s", line: 3, col: 27},
		{name: "one_packet on tcp", src: `
virtual_server "web" {
  address    = "203.0.113.10:80"
  one_packet = true
}`, wantErr: "one_packet on a tcp service", line: 3, col: 16},
		{name: "quorum never met", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  quorum  = 3
  real_server "rs1" { address = "192.168.100.11" }
}`, wantErr: "quorum 3 is more than the sum of all real-server weights (1)", line: 3, col: 13},
		{name: "sorry_server bad address", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  sorry_server { address = "192.168.100.999" }
}`, wantErr: `"192.168.100.999" is not a valid ip or ip:port`, line: 3, col: 28},
		{name: "sorry_server DR port differs", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  sorry_server {
    address = "192.168.100.99:81"
    forward = "dr"
  }
}`, wantErr: "sorry_server 192.168.100.99:81: IPVS cannot rewrite ports", line: 4, col: 15},

		// VRRP.
		{name: "version 2 with IPv6", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["2001:db8::20/64"]
  version   = 2
}`, wantErr: "VRRPv2 is IPv4 only", line: 5, col: 15},
		{name: "auth_pass with version 3", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
  auth_pass = "secret"
}`, wantErr: "VRRPv3 has no authentication", line: 5, col: 15},
		{name: "auth_pass too long", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
  version   = 2
  auth_pass = "123456789"
}`, wantErr: "auth_pass must have 1 to 8 characters, got 9", line: 6, col: 15},
		{name: "mixed families", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24", "2001:db8::20/64"]
}`, wantErr: "Mixed address families", line: 4, col: 35},
		{name: "no addresses", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = []
}`, wantErr: "needs at least one address", line: 4, col: 15},
		{name: "unicast peer family mismatch", src: `
vrrp "x" {
  vrid          = 60
  interface     = "eth0"
  addresses     = ["203.0.113.20/24"]
  unicast_peers = ["2001:db8::2"]
}`, wantErr: "unicast_peers: 2001:db8::2 is ipv6", line: 5, col: 20},
		{name: "preempt_delay without preempt", src: `
vrrp "x" {
  vrid          = 60
  interface     = "eth0"
  addresses     = ["203.0.113.20/24"]
  preempt       = false
  preempt_delay = "10s"
}`, wantErr: "preempt_delay without preempt", line: 6, col: 19},
		{name: "pair_handover with three nodes", src: `
node "director3" {}
vrrp "x" {
  vrid          = 60
  interface     = "eth0"
  addresses     = ["203.0.113.20/24"]
  pair_handover = true
}`, wantErr: "exactly 2 nodes; it has 3", line: 6, col: 19},
		{name: "notify not absolute", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
  notify    = ["notify.sh", "x"]
}`, wantErr: "must be an absolute path", line: 5, col: 16},
		{name: "garp count out of range", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
  garp { count = -1 }
}`, wantErr: "count must be between 0 and 10000", line: 5, col: 18},

		// Sync groups.
		{name: "sync_group unknown instance", src: `
sync_group "g" { instances = ["public", "private"] }`, wantErr: `there is no vrrp "private"`, line: 1, col: 41},
		{name: "instance in two sync groups", src: `
vrrp "x" {
  vrid      = 60
  interface = "eth0"
  addresses = ["203.0.113.20/24"]
}
sync_group "g1" { instances = ["public", "x"] }
sync_group "g2" { instances = ["v6", "x"] }`, wantErr: `vrrp "x" is already in sync_group "g1"`, line: 7, col: 38},
		{name: "sync_group with one instance", src: `
sync_group "g" { instances = ["public"] }`, wantErr: "needs at least 2 vrrp instances, got 1", line: 1, col: 30},

		// Track scripts.
		{name: "track_script without command", src: `
track_script "s" { interval = "1s" }`, wantErr: "A track_script block needs command", line: 1, col: 1},
		{name: "track_script weight out of range", src: `
track_script "s" {
  command = ["/bin/true"]
  weight  = -255
}`, wantErr: "weight must be between -254 and 254", line: 3, col: 13},

		// Checks.
		{name: "unknown check type", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "ping" {}
}`, wantErr: `check type "ping" is not known`, line: 3, col: 9},
		{name: "path on a tcp check", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { path = "/" }
}`, wantErr: "path is not valid in a tcp check", line: 3, col: 17},
		{name: "command on an http check", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" { command = ["/bin/true"] }
}`, wantErr: "command is not valid in a http check", line: 3, col: 18},
		{name: "half_open on an http check", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" { half_open = true }
}`, wantErr: "half_open is not valid in a http check", line: 3, col: 18},
		{name: "reuse_connection on a tcp check", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { reuse_connection = true }
}`, wantErr: "reuse_connection is not valid in a tcp check", line: 3, col: 17},
		{name: "keepalive_requests without reuse_connection", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" { keepalive_requests = 5 }
}`, wantErr: "keepalive_requests counts the probes on a kept connection", line: 3, col: 18},
		{name: "keepalive_requests of 0", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" {
    reuse_connection   = true
    keepalive_requests = 0
  }
}`, wantErr: "keepalive_requests", line: 5, col: 26},
		{name: "string for half_open", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { half_open = "yes" }
}`, wantErr: "Inappropriate value for half_open: a bool required, got string", line: 3, col: 29},
		{name: "tls on an http check", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" {
    tls {}
  }
}`, wantErr: "tls is valid only in an https check", line: 4, col: 5},
		{name: "command check without command", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "command" {}
}`, wantErr: "A check block needs command", line: 3, col: 3},
		{name: "bad status range", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" { status = ["200", "399-300"] }
}`, wantErr: `"399-300" is not an HTTP status code or range`, line: 3, col: 35},
		{name: "bad digest", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" { digest = "sha1:abcd" }
}`, wantErr: `digest "sha1:abcd" is not md5:<32 hex digits> or sha256:<64 hex digits>`, line: 3, col: 27},
		{name: "bad regex", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" { regex = "ok(" }
}`, wantErr: "regex does not compile", line: 3, col: 26},
		{name: "rise 0", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { rise = 0 }
}`, wantErr: "rise must be between 1 and 100", line: 3, col: 24},
		{name: "fall 0", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { fall = 0 }
}`, wantErr: "fall must be between 1 and 100", line: 3, col: 24},
		{name: "timeout longer than interval", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" {
    interval = "1s"
    timeout  = "2s"
  }
}`, wantErr: "timeout 2s is longer than interval 1s", line: 5, col: 16},
		{name: "ca_file with insecure_skip_verify", src: `
virtual_server "web" {
  address = "203.0.113.10:443"
  check "https" {
    tls {
      ca_file              = "/etc/ssl/ca.pem"
      insecure_skip_verify = true
    }
  }
}`, wantErr: "ca_file with insecure_skip_verify", line: 6, col: 30},
		{name: "check without port on a fwmark service", src: `
virtual_server "web" {
  fwmark = 1
  check "tcp" {}
  real_server "rs1" { address = "192.168.100.11" }
}`, wantErr: "does not know where to connect", line: 4, col: 33},
		{name: "check bad connect_address", src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" { connect_address = "rs1.local" }
}`, wantErr: `"rs1.local" is not an IP address`, line: 3, col: 35},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.TrimPrefix(tt.src, "\n")
			line := tt.line
			if !tt.bare {
				src = base + src
				line += baseLines
			}
			c, diags := Parse([]byte(src), "test.hcl")
			if c != nil {
				t.Errorf("Parse returned a Cluster along with errors")
			}
			errs := errorsOf(diags)
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%s", len(errs), fmtDiags(errs))
			}
			d := errs[0]
			if got := d.Summary + "; " + d.Detail; !strings.Contains(got, tt.wantErr) {
				t.Errorf("error %q does not contain %q", got, tt.wantErr)
			}
			if d.Subject == nil {
				t.Fatalf("error has no subject")
			}
			if d.Subject.Filename != "test.hcl" || d.Subject.Start.Line != line || (tt.col != 0 && d.Subject.Start.Column != tt.col) {
				t.Errorf("error at %s:%d:%d, want test.hcl:%d:%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line, tt.col)
			}
			if !strings.Contains(d.Detail, "Hint: ") && !strings.Contains(d.Detail, "Did you mean") {
				t.Errorf("detail %q has no hint", d.Detail)
			}
		})
	}
}

var equateIP = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{})

func fmtDiags(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		b.WriteString(FormatDiagnostic(d) + "\n")
	}
	return b.String()
}

// TestThreeErrors checks that one file with three mistakes of different
// kinds reports exactly those three, each at its position.
func TestThreeErrors(t *testing.T) {
	_, files, diags := Load("testdata/bad.hcl")
	want := []string{
		"testdata/bad.hcl:16:5: error: Unsupported argument; An argument named \"adress\" is not expected here. Did you mean \"address\"?",
		"testdata/bad.hcl:22:15: error: Duplicate real server;",
		"testdata/bad.hcl:25:15: error: Invalid address;",
	}
	errs := errorsOf(diags)
	if len(errs) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(errs), len(want), fmtDiags(errs))
	}
	for i, d := range errs {
		if got := FormatDiagnostic(d); !strings.HasPrefix(got, want[i]) {
			t.Errorf("error %d = %q, want prefix %q", i, got, want[i])
		}
	}
	var out strings.Builder
	if err := files.WriteDiagnostics(&out, diags); err != nil {
		t.Fatal(err)
	}
	wantSnippet := "  16 |     adress = \"192.168.100.11:80\"\n     |     ^^^^^^\n"
	if !strings.Contains(out.String(), wantSnippet) {
		t.Errorf("WriteDiagnostics output lacks the snippet %q:\n%s", wantSnippet, out.String())
	}
}

func TestLoadMissingFile(t *testing.T) {
	c, _, diags := Load("testdata/nope.hcl")
	if c != nil || !diags.HasErrors() {
		t.Fatalf("Load of a missing file: got %v, %v", c, diags)
	}
	if got := FormatDiagnostic(diags[0]); !strings.HasPrefix(got, "testdata/nope.hcl: error: Cannot read cluster file") {
		t.Errorf("got %q", got)
	}
}

func TestSyntaxError(t *testing.T) {
	_, diags := Parse([]byte("node \"a\" {\n  priority = \n}\n"), "x.hcl")
	if !diags.HasErrors() || diags[0].Subject == nil || diags[0].Subject.Start.Line != 2 {
		t.Fatalf("got %s", fmtDiags(diags))
	}
}

func mustParse(t *testing.T, src string) *Cluster {
	t.Helper()
	c, diags := Parse([]byte(src), "test.hcl")
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", fmtDiags(diags))
	}
	return c
}

func TestExample(t *testing.T) {
	c, _, diags := Load("testdata/example.hcl")
	if diags.HasErrors() {
		t.Fatalf("example.hcl:\n%s", fmtDiags(diags))
	}
	check := &Check{Type: CheckHTTP, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2,
		Path: "/health", Status: []StatusRange{{200, 299}}}
	vrrp := func(name string, vrid uint8, ifname, addr string) VRRPInstance {
		return VRRPInstance{Name: name, VRID: vrid, Interface: ifname,
			Addresses: []netip.Prefix{netip.MustParsePrefix(addr)}, Family: IPv4, Version: 3,
			AdvertInterval: time.Second, Preempt: true, GARP: defaultGARP}
	}
	want := &Cluster{
		Director: Director{IPForward: IPForwardAuto, Masquerade: []netip.Prefix{netip.MustParsePrefix("192.168.100.0/24")}},
		Nodes: []Node{
			{Name: "director1", Hostname: "director1", Priority: 150},
			{Name: "director2", Hostname: "director2", Priority: 100},
		},
		VRRP: []VRRPInstance{
			vrrp("public", 51, "eth0", "203.0.113.10/24"),
			vrrp("gateway", 52, "eth1", "192.168.100.1/24"),
		},
		SyncGroups: []SyncGroup{{Name: "lb", Instances: []string{"public", "gateway"}}},
		VirtualServers: []VirtualServer{{
			Name: "web", Address: netip.MustParseAddrPort("203.0.113.10:80"), Family: IPv4, Protocol: TCP,
			Scheduler: "rr", Forward: NAT, OnFailure: Remove, Quorum: 1, Check: check,
			RealServers: []RealServer{
				{Name: "rs1", Address: netip.MustParseAddrPort("192.168.100.11:80"), Weight: 1, Forward: NAT, Check: check},
				{Name: "rs2", Address: netip.MustParseAddrPort("192.168.100.12:80"), Weight: 1, Forward: NAT, Check: check},
			},
		}},
	}
	if diff := cmp.Diff(want, c, equateIP, cmpopts.IgnoreUnexported(Cluster{}), cmpopts.IgnoreFields(Cluster{}, "Hash")); diff != "" {
		t.Errorf("example.hcl (-want +got):\n%s", diff)
	}
	if !c.NeedsIPForward() {
		t.Errorf("NeedsIPForward() = false for a NAT cluster")
	}
	if got := c.VIPs(); len(got) != 2 || got[1].String() != "192.168.100.1/24" {
		t.Errorf("VIPs() = %v", got)
	}
	if g := c.SyncGroupOf("gateway"); g == nil || g.Name != "lb" {
		t.Errorf("SyncGroupOf(gateway) = %v", g)
	}
}

// TestDefaults checks the defaults and derived values of valid snippets.
func TestDefaults(t *testing.T) {
	tests := []struct {
		name string
		src  string
		bare bool // src is the whole file, without base
		got  func(c *Cluster) any
		want any
	}{
		{
			name: "node defaults",
			src:  ``,
			got:  func(c *Cluster) any { return c.Nodes[1] },
			want: Node{Name: "director2", Hostname: "director2", Priority: 100},
		},
		{
			name: "vrrp defaults and same vrid for another family",
			src:  ``,
			got:  func(c *Cluster) any { return *c.Instance("v6") },
			want: VRRPInstance{Name: "v6", VRID: 51, Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")},
				Family: IPv6, Version: 3, AdvertInterval: time.Second, Preempt: true, GARP: defaultGARP},
		},
		{
			name: "vrrp v2 with everything",
			src: `
node "director3" { interfaces = ["eth0", "eth1"] }
track_script "db" { command = ["/usr/bin/check_db"] }
vrrp "x" {
  vrid             = 60
  interface        = "eth0"
  addresses        = ["203.0.113.20/24"]
  version          = 2
  advert_interval  = "3s"
  preempt_delay    = "30s"
  accept           = true
  unicast_peers    = ["198.51.100.2"]
  priorities       = { director2 = 120, "director3" = 90 }
  auth_pass        = "secret"
  track_interfaces = ["eth1"]
  track_scripts    = ["db"]
  notify           = ["/usr/local/bin/notify", "--vrrp"]
  garp {
    count   = 1
    refresh = "60s"
  }
}`,
			got: func(c *Cluster) any { return *c.Instance("x") },
			want: VRRPInstance{Name: "x", VRID: 60, Interface: "eth0", Addresses: []netip.Prefix{netip.MustParsePrefix("203.0.113.20/24")},
				Family: IPv4, Version: 2, AdvertInterval: 3 * time.Second, Preempt: true, PreemptDelay: 30 * time.Second, Accept: true,
				UnicastPeers: []netip.Addr{netip.MustParseAddr("198.51.100.2")}, Priorities: map[string]uint8{"director2": 120, "director3": 90},
				AuthPass: "secret", TrackInterfaces: []string{"eth1"}, TrackScripts: []string{"db"},
				GARP:   GARP{Count: 1, RepeatCount: 5, RepeatAfter: 5 * time.Second, Refresh: time.Minute},
				Notify: []string{"/usr/local/bin/notify", "--vrrp"}},
		},
		{
			name: "track_script defaults; timeout follows a short interval",
			src: `
track_script "s" {
  command  = ["/bin/true"]
  interval = "500ms"
}`,
			got:  func(c *Cluster) any { return *c.TrackScript("s") },
			want: TrackScript{Name: "s", Command: []string{"/bin/true"}, Interval: 500 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 1, Fall: 1},
		},
		{
			name: "director",
			src: `
director {
  ip_forward     = "off"
  send_redirects = true
  static_vips    = ["198.51.100.80"]
  conn_sync {
    interface = "eth1"
    sync_id   = 7
    vrrp      = "public"
  }
  timeouts {
    tcp     = "15m"
    tcp_fin = "2m"
    udp     = "5m"
  }
}
virtual_server "static" { address = "198.51.100.80:25" }`,
			got: func(c *Cluster) any { return c.Director },
			want: Director{IPForward: IPForwardOff, SendRedirects: true, StaticVIPs: []netip.Addr{netip.MustParseAddr("198.51.100.80")},
				ConnSync: &ConnSync{Interface: "eth1", SyncID: 7, VRRP: "public"},
				Timeouts: Timeouts{TCP: 15 * time.Minute, TCPFin: 2 * time.Minute, UDP: 5 * time.Minute}},
		},
		{
			name: "virtual server defaults; real server takes the port",
			src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  real_server "rs1" { address = "192.168.100.11" }
}`,
			got: func(c *Cluster) any { return c.VirtualServers[0] },
			want: VirtualServer{Name: "web", Address: netip.MustParseAddrPort("203.0.113.10:80"), Family: IPv4, Protocol: TCP,
				Scheduler: "wlc", Forward: NAT, OnFailure: Remove, Quorum: 1,
				RealServers: []RealServer{{Name: "rs1", Address: netip.MustParseAddrPort("192.168.100.11:80"), Weight: 1, Forward: NAT}}},
		},
		{
			name: "fwmark service: no protocol, port 0, DR real servers",
			src: `
virtual_server "marked" {
  fwmark  = 7
  family  = "ipv6"
  forward = "dr"
  check "tcp" { port = 443 }
  persistence {}
  real_server "rs1" { address = "2001:db8:1::11" }
}`,
			got: func(c *Cluster) any { return c.VirtualServers[0] },
			want: func() VirtualServer {
				ck := &Check{Type: CheckTCP, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2, Port: 443}
				return VirtualServer{Name: "marked", FWMark: 7, Family: IPv6, Scheduler: "wlc", Forward: DR, OnFailure: Remove, Quorum: 1,
					Check: ck, Persistence: &Persistence{Timeout: 300 * time.Second, PrefixLen: 128},
					RealServers: []RealServer{{Name: "rs1", Address: netip.MustParseAddrPort("[2001:db8:1::11]:0"), Weight: 1, Forward: DR, Check: ck}}}
			}(),
		},
		{
			name: "udp one_packet, mh flags, persistence netmask, TUN across families, sorry server, own check",
			src: `
virtual_server "dns" {
  address         = "203.0.113.11:53"
  protocol        = "udp"
  one_packet      = true
  scheduler       = "mh"
  scheduler_flags = ["mh-fallback", "mh-port"]
  on_failure      = "drain"
  quorum          = 0
  persistence {
    timeout = "60s"
    netmask = "255.255.255.0"
  }
  sorry_server { address = "192.168.100.99" }
  real_server "rs1" {
    address         = "[2001:db8:1::11]:53"
    forward         = "tun"
    weight          = 0
    upper_threshold = 100
    lower_threshold = 50
    check "https" {
      port   = 8443
      host   = "dns.example.net"
      status = ["200", "300-399"]
      digest = "md5:D41D8CD98F00B204E9800998ECF8427E"
      regex  = "^ok"
      tls { server_name = "dns.example.net" }
    }
  }
}`,
			got: func(c *Cluster) any { return c.VirtualServers[0] },
			want: VirtualServer{Name: "dns", Address: netip.MustParseAddrPort("203.0.113.11:53"), Family: IPv4, Protocol: UDP,
				Scheduler: "mh", SchedulerFlags: []string{FlagMHFallback, FlagMHPort}, OnePacket: true, Forward: NAT, OnFailure: Drain,
				Persistence: &Persistence{Timeout: time.Minute, PrefixLen: 24},
				SorryServer: &SorryServer{Address: netip.MustParseAddrPort("192.168.100.99:53"), Forward: NAT},
				RealServers: []RealServer{{Name: "rs1", Address: netip.MustParseAddrPort("[2001:db8:1::11]:53"), Forward: TUN,
					UpperThreshold: 100, LowerThreshold: 50,
					Check: &Check{Type: CheckHTTPS, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2, Port: 8443,
						Path: "/", Host: "dns.example.net", Status: []StatusRange{{200, 200}, {300, 399}},
						Digest: Digest{Algorithm: "md5", Sum: []byte{0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e}},
						Regex:  "^ok", TLS: TLS{ServerName: "dns.example.net"}}}}},
		},
		{
			name: "command check",
			src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "command" {
    command  = ["/usr/local/bin/probe", "--fast"]
    interval = "5s"
    timeout  = "3s"
  }
}`,
			got:  func(c *Cluster) any { return c.VirtualServers[0].Check },
			want: &Check{Type: CheckCommand, Interval: 5 * time.Second, Timeout: 3 * time.Second, Rise: 2, Fall: 2, Command: []string{"/usr/local/bin/probe", "--fast"}},
		},
		{
			name: "half-open tcp check",
			src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "tcp" {
    half_open      = true
    source_address = "192.168.100.2"
  }
}`,
			got: func(c *Cluster) any { return c.VirtualServers[0].Check },
			want: &Check{Type: CheckTCP, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2,
				SourceAddress: netip.MustParseAddr("192.168.100.2"), HalfOpen: true},
		},
		{
			name: "http check reusing its connection",
			src: `
virtual_server "web" {
  address = "203.0.113.10:80"
  check "http" {
    reuse_connection = true
  }
}`,
			got: func(c *Cluster) any { return c.VirtualServers[0].Check },
			want: &Check{Type: CheckHTTP, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2,
				ReuseConnection: true, KeepaliveRequests: 10, Path: "/", Status: []StatusRange{{200, 299}}},
		},
		{
			name: "https check reusing its connection for 100 probes",
			src: `
virtual_server "web" {
  address = "203.0.113.10:443"
  check "https" {
    reuse_connection   = true
    keepalive_requests = 100
  }
}`,
			got: func(c *Cluster) any { return c.VirtualServers[0].Check },
			want: &Check{Type: CheckHTTPS, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2,
				ReuseConnection: true, KeepaliveRequests: 100, Path: "/", Status: []StatusRange{{200, 299}}},
		},
		{
			name: "conn_sync group, port and ttl",
			src: `
director {
  conn_sync {
    interface = "eth1"
    vrrp      = "public"
    group     = "ff02::81"
    port      = 8849
    ttl       = 2
  }
}`,
			got:  func(c *Cluster) any { return c.Director.ConnSync },
			want: &ConnSync{Interface: "eth1", VRRP: "public", Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 2},
		},
		{
			name: "conn_sync defaults to the only vrrp instance",
			bare: true,
			src: `
node "a" {}
vrrp "only" {
  vrid      = 1
  interface = "eth0"
  addresses = ["192.0.2.1/24"]
}
director {
  conn_sync { interface = "eth1" }
}`,
			got:  func(c *Cluster) any { return c.Director.ConnSync },
			want: &ConnSync{Interface: "eth1", VRRP: "only"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.TrimPrefix(tt.src, "\n")
			if !tt.bare {
				src = base + src
			}
			c := mustParse(t, src)
			if diff := cmp.Diff(tt.want, tt.got(c), equateIP); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNodeLookup(t *testing.T) {
	c := mustParse(t, `
node "director1" {
  hostname = "lb1.example.net"
  priority = 150
}
node "director2" {}
vrrp "public" {
  vrid       = 51
  interface  = "eth0"
  addresses  = ["203.0.113.10/24"]
  priorities = { director2 = 200 }
}
`)
	for _, tt := range []struct{ host, want string }{
		{"lb1.example.net", "director1"},
		{"LB1.example.net", "director1"},
		{"director1", "director1"}, // block name when no hostname matches
		{"director2", "director2"},
	} {
		n, err := c.NodeForHost(tt.host)
		if err != nil || n.Name != tt.want {
			t.Errorf("NodeForHost(%q) = %v, %v; want %s", tt.host, n, err, tt.want)
		}
	}
	if _, err := c.NodeForHost("lb9"); err == nil || !strings.Contains(err.Error(), `"director1" (hostname "lb1.example.net"), "director2"`) || !strings.Contains(err.Error(), "--node") {
		t.Errorf("NodeForHost(lb9) error = %v", err)
	}
	n1, err := c.Node("director1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Node("lb1.example.net"); err == nil {
		t.Errorf("Node matched a hostname")
	}
	n2, _ := c.Node("director2")
	v := c.Instance("public")
	if v.PriorityOf(n1) != 150 || v.PriorityOf(n2) != 200 {
		t.Errorf("PriorityOf = %d, %d; want 150, 200", v.PriorityOf(n1), v.PriorityOf(n2))
	}
	if got := c.Interfaces(n1); !cmp.Equal(got, []string{"eth0"}) {
		t.Errorf("Interfaces = %v", got)
	}
	if c.NeedsIPForward() {
		t.Errorf("NeedsIPForward() = true without virtual servers")
	}
}

func TestIPForward(t *testing.T) {
	vs := `
virtual_server "web" {
  address = "203.0.113.10:80"
  forward = "dr"
  real_server "rs1" { address = "203.0.113.21" }
}`
	for _, tt := range []struct {
		dir  string
		want bool
	}{
		{"", false},
		{`director { ip_forward = "on" }`, true},
		{`director { ip_forward = "auto" }`, false},
	} {
		c := mustParse(t, base+tt.dir+vs)
		if got := c.NeedsIPForward(); got != tt.want {
			t.Errorf("%q: NeedsIPForward() = %v, want %v", tt.dir, got, tt.want)
		}
	}
}

func TestServiceKey(t *testing.T) {
	for _, tt := range []struct {
		vs   VirtualServer
		want string
	}{
		{VirtualServer{Protocol: TCP, Address: netip.MustParseAddrPort("[2001:db8::1]:80"), Family: IPv6}, "tcp [2001:db8::1]:80"},
		{VirtualServer{FWMark: 3, Family: IPv4}, "fwmark 3 ipv4"},
	} {
		if got := tt.vs.Key().String(); got != tt.want {
			t.Errorf("Key() = %q, want %q", got, tt.want)
		}
	}
}

func TestFullSchema(t *testing.T) {
	c, _, diags := Load("testdata/full.hcl")
	if diags.HasErrors() {
		t.Fatalf("full.hcl:\n%s", fmtDiags(diags))
	}
	web := c.VirtualServers[0]
	if got := web.RealServers[0].Check; got.Type != CheckTCP || !got.HalfOpen {
		t.Errorf("rs1 check = %s (half_open %t), want its own half-open tcp check", got.Type, got.HalfOpen)
	}
	if got := web.RealServers[1].Check; got != web.Check {
		t.Errorf("rs2 check = %v, want the virtual server's", got)
	}
	if got := c.VirtualServers[1].RealServers[0].Address.String(); got != "192.168.100.21:9000" {
		t.Errorf("b1 address = %s", got)
	}
	if got := c.VRRP[0].TrackVirtualServers; len(got) != 1 || got["web"] != -60 {
		t.Errorf("track_virtual_servers = %v, want web: -60", got)
	}
}

// TestExamples checks that every example file parses clean and is quoted
// verbatim in README.md, so the reference cannot drift from the code.
func TestExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.hcl", "dr.hcl", "fwmark.hcl"} {
		t.Run(name, func(t *testing.T) {
			c, _, diags := Load(filepath.Join("testdata", name))
			if diags.HasErrors() || c == nil {
				t.Fatalf("%s:\n%s", name, fmtDiags(diags))
			}
			src, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(readme), "```hcl\n"+string(src)+"```\n") {
				t.Errorf("README.md does not quote testdata/%s verbatim in an hcl block", name)
			}
		})
	}
}

// readmeSnippet returns the first hcl block of the README.md section
// under heading (a "#### " line), parsed after the NAT example as the
// text says, and the last virtual server it defines.
func readmeSnippet(t *testing.T, heading string) *VirtualServer {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(readme), "#### "+heading+"\n")
	if !ok {
		t.Fatalf("README.md has no %s section", heading)
	}
	_, snippet, ok := strings.Cut(sec, "```hcl\n")
	if ok {
		snippet, _, ok = strings.Cut(snippet, "```\n")
	}
	if !ok {
		t.Fatalf("the %s section has no hcl block", heading)
	}
	nat, err := os.ReadFile(filepath.Join("testdata", "example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, string(nat)+"\n"+snippet)
	return &c.VirtualServers[len(c.VirtualServers)-1]
}

// TestReuseExample checks that the connection reuse snippet in README.md
// parses with the NAT example.
func TestReuseExample(t *testing.T) {
	vs := readmeSnippet(t, "Reusing connections in http checks")
	if vs.Name != "api" || vs.Check == nil || vs.Check.Type != CheckHTTPS || !vs.Check.ReuseConnection {
		t.Errorf("snippet: virtual server %q, check %+v; want api with an https check reusing its connection", vs.Name, vs.Check)
	}
}

// TestHalfOpenExample checks that the half-open snippet in README.md parses
// with the NAT example.
func TestHalfOpenExample(t *testing.T) {
	vs := readmeSnippet(t, "Half-open tcp checks")
	if vs.Name != "db" || vs.Check == nil || vs.Check.Type != CheckTCP || !vs.Check.HalfOpen {
		t.Errorf("snippet: virtual server %q, check %+v; want db with a half-open tcp check", vs.Name, vs.Check)
	}
}
