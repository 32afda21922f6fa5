# Imported from keepalived: keepalived.conf.vrrp.static_ipaddress
# keepalived: static_ipaddress (keepalived.conf.vrrp.static_ipaddress:7): not translated: tandem does not manage static addresses: configure them in the system's network settings

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
  addresses = ["192.168.200.20/32"]
  version   = 2
  # keepalived: virtual_routes (keepalived.conf.vrrp.static_ipaddress:21): not translated: tandem does not manage routes
  # keepalived: 192.168.200.20 (keepalived.conf.vrrp.static_ipaddress:19): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}
