# Imported from keepalived: keepalived.conf.vrrp.scripts

node "keepalived.conf.vrrp.scripts" {
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
  notify    = ["/bin/sh", "-c", "case \"$3\" in BACKUP) /usr/local/bin/vrrp.sh  BACKUP   VI_1 ;; MASTER) /usr/local/bin/vrrp.sh  MASTER  VI_1 ;; FAULT) /usr/local/bin/vrrp.sh  FAULT  VI_1 ;; esac", "notify"]
  # keepalived: smtp_alert (keepalived.conf.vrrp.scripts:19): not translated: tandem sends no e-mail; use notify
  # keepalived: 192.168.200.16 (keepalived.conf.vrrp.scripts:28): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
  # keepalived: notify_backup (keepalived.conf.vrrp.scripts:32): tandem has one notify, called with INSTANCE NAME STATE PRIORITY: the notify_* commands run from a /bin/sh dispatcher on the state
}

vrrp "VI_2" {
  vrid      = 52
  interface = "eth0"
  addresses = ["192.168.200.100/27"]
  version   = 2
  priorities = {
    "keepalived.conf.vrrp.scripts" = 150
  }
}

vrrp "VI_3" {
  vrid      = 53
  interface = "eth0"
  addresses = ["192.168.200.101/27"]
  version   = 2
  priorities = {
    "keepalived.conf.vrrp.scripts" = 150
  }
}

sync_group "G1" {
  instances = ["VI_2", "VI_3"]
  notify    = ["/bin/sh", "-c", "case \"$3\" in BACKUP) /usr/local/bin/vrrp.back arg1 arg2 ;; MASTER) /usr/local/bin/vrrp.mast arg1 arg2 ;; FAULT) /usr/local/bin/vrrp.fault arg1 arg2 ;; esac", "notify"]
  # keepalived: notify_backup (keepalived.conf.vrrp.scripts:11): tandem has one notify, called with GROUP NAME STATE: the notify_* commands run from a /bin/sh dispatcher on the state
}
