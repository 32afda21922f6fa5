# Direct routing: the real servers share the client-facing LAN with the
# directors and answer clients directly. Each real server holds the VIP on
# its loopback and must not answer ARP for it (arp_ignore=1, arp_announce=2).
# DR cannot change ports, so the real servers take the virtual port.

director {
  ip_forward = "auto" # stays off: there is no NAT real server
}

node "director1" {
  hostname   = "lb1.example.net"
  priority   = 150
  interfaces = ["eth0"]
}

node "director2" {
  hostname   = "lb2.example.net"
  interfaces = ["eth0"]
}

vrrp "public" {
  vrid            = 61
  interface       = "eth0"
  addresses       = ["203.0.113.20/24"]
  advert_interval = "500ms"
}

virtual_server "https" {
  address   = "203.0.113.20:443"
  scheduler = "wlc"
  forward   = "dr"

  persistence {
    timeout = "600s"
    netmask = 24
  }

  check "tcp" {
    interval = "1s"
    timeout  = "500ms"
  }

  real_server "web1" {
    address = "203.0.113.31"
    weight  = 2
  }

  real_server "web2" {
    address = "203.0.113.32"
  }
}
