# Imported from keepalived: keepalived.conf.vrrp
# keepalived: notification_email (keepalived.conf.vrrp:4): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.vrrp:7): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.vrrp:8): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.vrrp:9): not translated: tandem sends no e-mail

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
  auth_pass = "1111"
  # keepalived: smtp_alert (keepalived.conf.vrrp:17): not translated: tandem sends no e-mail; use notify
  # keepalived: 192.168.200.16 (keepalived.conf.vrrp:26): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
  garp {
    repeat_after = "10s"
  }
}

vrrp "VI_2" {
  vrid      = 50
  interface = "eth0"
  addresses = ["192.168.200.13/32", "192.168.200.14/32", "192.168.200.15/32"]
  version   = 2
  priorities = {
    "LVS_DEVEL" = 50
  }
  # keepalived: smtp_alert (keepalived.conf.vrrp:38): not translated: tandem sends no e-mail; use notify
  # keepalived: 192.168.200.13 (keepalived.conf.vrrp:43): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

vrrp "VI_3" {
  vrid      = 52
  interface = "eth1"
  addresses = ["192.168.201.13/32", "192.168.201.14/32", "192.168.201.15/32"]
  version   = 2
  auth_pass = "1111"
  # keepalived: smtp_alert (keepalived.conf.vrrp:52): not translated: tandem sends no e-mail; use notify
  # keepalived: 192.168.201.13 (keepalived.conf.vrrp:61): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

vrrp "VI_4" {
  vrid      = 53
  interface = "eth1"
  addresses = ["192.168.201.16/32", "192.168.201.17/32", "192.168.201.18/32"]
  version   = 2
  priorities = {
    "LVS_DEVEL" = 50
  }
  # keepalived: smtp_alert (keepalived.conf.vrrp:69): not translated: tandem sends no e-mail; use notify
  # keepalived: 192.168.201.16 (keepalived.conf.vrrp:74): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}
