# Imported from keepalived: keepalived.conf.vrrp.lvs_syncd

director {
  conn_sync {
    interface = "eth1"
    vrrp      = "VI_1"
  }
}

node "keepalived.conf.vrrp.lvs_syncd" {
  priority = 150
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 100
# }

vrrp "VI_1" {
  vrid      = 51
  interface = "eth0"
  addresses = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  version   = 2
  auth_pass = "grr02"
  # keepalived: 192.168.200.16 (keepalived.conf.vrrp.lvs_syncd:20): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

vrrp "VI_2" {
  vrid      = 52
  interface = "eth0"
  addresses = ["192.168.200.19/32", "192.168.200.20/32", "192.168.200.21/32"]
  version   = 2
  priorities = {
    "keepalived.conf.vrrp.lvs_syncd" = 100
  }
  # keepalived: 192.168.200.19 (keepalived.conf.vrrp.lvs_syncd:32): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

vrrp "VI_3" {
  vrid      = 53
  interface = "eth1"
  addresses = ["192.168.201.19/32", "192.168.201.20/32", "192.168.201.21/32"]
  version   = 2
  priorities = {
    "keepalived.conf.vrrp.lvs_syncd" = 100
  }
  # keepalived: 192.168.201.19 (keepalived.conf.vrrp.lvs_syncd:44): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

sync_group "VG1" {
  instances = ["VI_2", "VI_3"]
}

virtual_server "vs_192.168.200.19_80" {
  address   = "192.168.200.19:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.201.100_80" {
    address = "192.168.201.100:80"
    weight  = 1
    check "tcp" {
      interval = "20s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
    }
  }
}
