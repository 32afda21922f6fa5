# A NAT pair: clients reach 203.0.113.10:80 on eth0; the real servers sit on
# 192.168.100.0/24 behind eth1 and use the floating 192.168.100.1 as their
# default gateway, so replies come back through the active director.

director {
  masquerade = ["192.168.100.0/24"]
}

node "director1" {
  priority = 150
}

node "director2" {
  priority = 100
}

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
  address   = "203.0.113.10:80"
  scheduler = "rr"
  forward   = "nat"

  check "http" {
    path = "/health"
  }

  real_server "rs1" {
    address = "192.168.100.11:80"
  }

  real_server "rs2" {
    address = "192.168.100.12:80"
  }
}
