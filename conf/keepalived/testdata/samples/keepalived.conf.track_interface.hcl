# Imported from keepalived: keepalived.conf.track_interface
# keepalived: static_routes (keepalived.conf.track_interface:7): not translated: tandem does not manage routes: configure them in the system's network settings

node "LVS_DEVEL" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

vrrp "VI_1" {
  vrid             = 51
  interface        = "eth0.1"
  addresses        = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  version          = 2
  track_interfaces = ["eth0", "eth1"]
  # keepalived: virtual_routes (keepalived.conf.track_interface:28): not translated: tandem does not manage routes
  # keepalived: 192.168.200.16 (keepalived.conf.track_interface:24): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
  # keepalived: 192.168.200.17 (keepalived.conf.track_interface:25): dev eth1: tandem adds every address to the instance's interface eth0.1
  # keepalived: 192.168.200.18 (keepalived.conf.track_interface:26): dev eth2: tandem adds every address to the instance's interface eth0.1
}
