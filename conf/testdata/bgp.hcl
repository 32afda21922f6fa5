# Active directors behind BGP ECMP: every director announces the VIP to the
# router with itself as next hop, and the router spreads the flows over them.
# mh (Maglev hashing) picks the same real server for a flow on every
# director, conn_sync shares the connections, and the kernel's sloppy_tcp
# lets a director pick up a flow mid-stream: flows survive a director
# joining or leaving. The real servers are DR (VIP on lo, arp_ignore=1).

director {
  conn_sync {
    interface = "eth0" # every director runs the master and the backup daemon
  }
}

node "director1" {
  router_id = "10.0.0.11"
}

node "director2" {
  router_id = "10.0.0.12"
}

bgp {
  local_as  = 65010
  addresses = ["203.0.113.10"] # added to lo on each director
  hold_time = "9s"

  peer "router" {
    address = "10.0.0.1"
    as      = 65000
  }
}

virtual_server "web" {
  address         = "203.0.113.10:80"
  scheduler       = "mh"
  scheduler_flags = ["mh-port", "mh-fallback"]
  forward         = "dr"

  check "http" {
    path = "/health"
  }

  real_server "web1" {
    address = "10.0.0.21"
  }

  real_server "web2" {
    address = "10.0.0.22"
  }
}
