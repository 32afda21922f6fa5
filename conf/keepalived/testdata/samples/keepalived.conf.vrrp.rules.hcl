# Imported from keepalived: keepalived.conf.vrrp.rules
# keepalived: static_rules (keepalived.conf.vrrp.rules:9): not translated: tandem does not manage policy rules: configure them in the system's network settings

node "LVS_DEVEL" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

vrrp "VI_1" {
  vrid      = 51
  interface = "eth0"
  addresses = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  version   = 2
  # keepalived: virtual_rules (keepalived.conf.vrrp.rules:24): not translated: tandem does not manage policy rules
  # keepalived: 192.168.200.16 (keepalived.conf.vrrp.rules:20): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
  # keepalived: 192.168.200.17 (keepalived.conf.vrrp.rules:21): dev eth1: tandem adds every address to the instance's interface eth0
  # keepalived: 192.168.200.18 (keepalived.conf.vrrp.rules:22): dev eth2: tandem adds every address to the instance's interface eth0
}
