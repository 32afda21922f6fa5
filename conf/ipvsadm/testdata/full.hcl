# Cluster file imported by tandem from full.save (ipvsadm).
# Lines that did not carry over are comments at their place; check it with `tandem check`.

director {
  static_vips = ["203.0.113.10", "2001:db8::10"]
}

node "director1" {
}

virtual_server "vs_tcp_203.0.113.10_80" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  real_server "rs_192.168.100.11_80" {
    address = "192.168.100.11:80"
    weight  = 1
  }

  real_server "rs_192.168.100.12_8080" {
    address = "192.168.100.12:8080"
    weight  = 0
  }
}

virtual_server "vs_tcp_203.0.113.10_443" {
  address   = "203.0.113.10:443"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "dr"

  persistence {
    timeout = "600s"
    netmask = 24
  }

  # full.save:6: not translated: ipvsadm -a: lower threshold 10 without an upper threshold at least as high: dropped

  real_server "rs_203.0.113.31_443" {
    address         = "203.0.113.31:443"
    weight          = 2
    upper_threshold = 1000
    lower_threshold = 800
  }

  real_server "rs_203.0.113.32_443" {
    address = "203.0.113.32:443"
    weight  = 1
  }
}

virtual_server "vs_udp_203.0.113.10_53" {
  address         = "203.0.113.10:53"
  protocol        = "udp"
  scheduler       = "sh"
  scheduler_flags = ["sh-fallback", "sh-port"]
  one_packet      = true
  forward         = "nat"

  real_server "rs_192.168.100.21_53" {
    address = "192.168.100.21:53"
    weight  = 1
  }

  real_server "rs_192.168.100.22_53" {
    address = "192.168.100.22:53"
    weight  = 1
  }
}

virtual_server "vs_sctp_203.0.113.10_3868" {
  address         = "203.0.113.10:3868"
  protocol        = "sctp"
  scheduler       = "mh"
  scheduler_flags = ["mh-fallback", "mh-port"]
  forward         = "tun"

  real_server "rs_198.51.100.5_3868" {
    address = "198.51.100.5:3868"
    weight  = 5
  }
}

virtual_server "vs_fwmark_1" {
  fwmark    = 1
  family    = "ipv4"
  scheduler = "wrr"
  forward   = "nat"

  persistence {
    timeout = "300s"
  }

  real_server "rs_192.168.100.11" {
    address = "192.168.100.11"
    weight  = 3
  }

  real_server "rs_192.168.100.12" {
    address = "192.168.100.12"
    weight  = 3
  }
}

virtual_server "vs_fwmark_2_v6" {
  fwmark    = 2
  family    = "ipv6"
  scheduler = "lc"
  forward   = "dr"

  persistence {
    timeout = "120s"
    netmask = 64
  }

  real_server "rs_2001_db8_100__11" {
    address = "2001:db8:100::11"
    weight  = 1
  }
}

virtual_server "vs_tcp_2001_db8__10_80" {
  address   = "[2001:db8::10]:80"
  protocol  = "tcp"
  scheduler = "sed"
  forward   = "nat"

  real_server "rs_2001_db8_100__11_80" {
    address = "[2001:db8:100::11]:80"
    weight  = 1
  }

  real_server "rs_198.51.100.7_80" {
    address = "198.51.100.7:80"
    weight  = 1
    forward = "tun"
  }
}

virtual_server "vs_tcp_203.0.113.10_8443" {
  address   = "203.0.113.10:8443"
  protocol  = "tcp"
  scheduler = "lblcr"
  forward   = "nat"

  persistence {
    timeout = "3600s"
    netmask = 16
  }

  real_server "rs_192.168.100.41_8443" {
    address         = "192.168.100.41:8443"
    weight          = 7
    upper_threshold = 50
    lower_threshold = 40
  }

  real_server "rs_192.168.100.42_8443" {
    address = "192.168.100.42:8443"
    weight  = 3
    forward = "dr"
  }
}

# full.save:23: not translated: ipvsadm -A: --pe sip: tandem has no persistence engines
virtual_server "vs_tcp_203.0.113.10_25" {
  address   = "203.0.113.10:25"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "dr"

  # full.save:23: not translated: ipvsadm -A: scheduler flag "sh-port" means nothing to wlc (only sh and mh have flags)
  # full.save:23: not translated: ipvsadm -A: -o (one-packet scheduling) on a tcp service: tandem takes it on udp services only

  real_server "rs_192.168.100.51_25" {
    address = "192.168.100.51:25"
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
