# Cluster file imported by tandem from lvs_nat.sh (ipvsadm).
# Lines that did not carry over are comments at their place; check it with `tandem check`.

director {
  # lvs_nat.sh:3 turned ip_forward on; "auto" does it while NAT real servers exist.
  ip_forward     = "auto"
  send_redirects = false
  masquerade     = ["192.168.100.0/24"]
  static_vips    = ["203.0.113.10"]
  # lvs_nat.sh:11: not translated: iptables: tandem never flushes firewall rules: it keeps its masquerading in its own nftables table: `iptables -t nat -F`
  # lvs_nat.sh:12: not translated: iptables: tandem never flushes firewall rules: it keeps its masquerading in its own nftables table: `iptables -t nat -X`
}

node "director1" {
  interfaces = ["ens33", "ens37"]
}

# lvs_nat.sh:16: not translated: ipvsadm -C: tandem never flushes: it owns only the services of the cluster file, leaves any other alone and reports it
virtual_server "vs_tcp_203.0.113.10_80" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  real_server "rs_192.168.100.11_80" {
    address = "192.168.100.11:80"
    weight  = 1
  }

  real_server "rs_192.168.100.12_80" {
    address = "192.168.100.12:80"
    weight  = 1
  }
}

# One director, without VRRP: the VIPs above are static_vips. For a pair,
# add node "director2", remove the VIPs from static_vips, and let a vrrp
# instance move them (write each VIP's real prefix length; one family per
# instance):
#
# vrrp "vip" {
#   vrid      = 51
#   interface = "eth0"
#   addresses = ["203.0.113.10/32"]
# }
