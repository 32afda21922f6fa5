# Imported from keepalived: keepalived.conf.vrrp.sync

node "keepalived.conf.vrrp.sync" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

vrrp "VI_1" {
  vrid      = 51
  interface = "eth0"
  addresses = ["192.168.200.18/25"]
  version   = 2
}

vrrp "VI_2" {
  vrid      = 52
  interface = "eth1"
  addresses = ["192.168.201.18/26"]
  version   = 2
}

vrrp "VI_3" {
  vrid      = 53
  interface = "eth0"
  addresses = ["192.168.200.19/27"]
  version   = 2
}

vrrp "VI_4" {
  vrid      = 54
  interface = "eth1"
  addresses = ["192.168.201.19/28"]
  version   = 2
}

vrrp "VI_5" {
  vrid      = 55
  interface = "eth0"
  addresses = ["192.168.200.20/27"]
  version   = 2
}

vrrp "VI_6" {
  vrid      = 56
  interface = "eth0"
  addresses = ["192.168.200.21/27"]
  version   = 2
}

vrrp "VI_7" {
  vrid      = 57
  interface = "eth0"
  addresses = ["192.168.200.22/27"]
  version   = 2
}

vrrp "VI_8" {
  vrid      = 58
  interface = "eth0"
  addresses = ["192.168.200.23/27"]
  version   = 2
}

vrrp "VI_9" {
  vrid      = 59
  interface = "eth0"
  addresses = ["192.168.200.24/27"]
  version   = 2
}

sync_group "G1" {
  instances = ["VI_1", "VI_2", "VI_5", "VI_6", "VI_7", "VI_8", "VI_9"]
  notify    = ["/bin/sh", "-c", "case \"$3\" in BACKUP) /usr/local/bin/vrrp.back arg1 arg2 ;; MASTER) /usr/local/bin/vrrp.mast arg1 arg2 ;; FAULT) /usr/local/bin/vrrp.fault arg1 arg2 ;; esac", "notify"]
  # keepalived: notify_backup (keepalived.conf.vrrp.sync:13): tandem has one notify, called with GROUP NAME STATE: the notify_* commands run from a /bin/sh dispatcher on the state
}

sync_group "G2" {
  instances = ["VI_3", "VI_4"]
}
