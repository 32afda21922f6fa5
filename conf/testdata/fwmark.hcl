# A firewall-mark service: one IPVS service for HTTP and HTTPS, so a
# persistent client reaches the same real server on both ports. The mark is
# set on both directors by, for example:
#   nft add rule ip mangle prerouting ip daddr 203.0.113.10 tcp dport { 80, 443 } meta mark set 1

director {
  masquerade = ["192.168.100.0/24"]
}

node "director1" {
  priority = 150
}

node "director2" {}

vrrp "public" {
  vrid      = 51
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
}

vrrp "gateway" {
  vrid      = 52
  interface = "eth1"
  addresses = ["192.168.100.1/24"]
}

sync_group "lb" {
  instances = ["public", "gateway"]
}

virtual_server "web" {
  fwmark    = 1
  family    = "ipv4"
  scheduler = "sh"

  persistence {
    timeout = "300s"
  }

  # A fwmark service has no port: IPVS keeps each packet's own port, so the
  # check must name the port it probes.
  check "http" {
    port = 80
    path = "/health"
  }

  real_server "rs1" {
    address = "192.168.100.11"
  }

  real_server "rs2" {
    address = "192.168.100.12"
  }
}
