# Every block and attribute of the schema, set to a valid value.

director {
  ip_forward     = "auto"
  send_redirects = false
  masquerade     = ["192.168.100.0/24"]
  static_vips    = ["198.51.100.80"]

  conn_sync {
    interface = "eth1"
    sync_id   = 7
    vrrp      = "public"
  }

  timeouts {
    tcp     = "15m"
    tcp_fin = "2m"
    udp     = "5m"
  }
}

node "director1" {
  hostname   = "lb1.example.net"
  priority   = 150
  interfaces = ["eth0", "eth1"]
}

node "director2" {
  priority = 100
}

track_script "db_alive" {
  command  = ["/usr/bin/check_db"]
  interval = "2s"
  timeout  = "1s"
  weight   = -20
  rise     = 1
  fall     = 2
}

vrrp "public" {
  vrid             = 51
  interface        = "eth0"
  addresses        = ["203.0.113.10/24"]
  version          = 2
  advert_interval  = "1s"
  preempt          = true
  preempt_delay    = "0s"
  accept           = false
  unicast_peers    = ["198.51.100.2"]
  priorities       = { director2 = 120 }
  auth_pass        = "secret"
  track_interfaces = ["eth1"]
  track_scripts    = ["db_alive"]
  track_virtual_servers = { web = -60 }
  notify           = ["/usr/local/bin/notify"]
  pair_handover    = false

  garp {
    count        = 5
    interval     = "0s"
    repeat_count = 5
    repeat_after = "5s"
    refresh      = "0s"
  }
}

vrrp "gateway" {
  vrid      = 52
  interface = "eth1"
  addresses = ["192.168.100.1/24"]
}

sync_group "lb" {
  instances = ["public", "gateway"]
  notify    = []
}

virtual_server "web" {
  address         = "203.0.113.10:80"
  protocol        = "tcp"
  scheduler       = "sh"
  scheduler_flags = ["sh-fallback"]
  one_packet      = false
  forward         = "nat"
  on_failure      = "remove"
  quorum          = 1

  persistence {
    timeout = "300s"
    netmask = "255.255.255.255"
  }

  check "https" {
    interval        = "2s"
    timeout         = "1s"
    rise            = 2
    fall            = 2
    port            = 8443
    connect_address = "192.168.100.10"
    source_address  = "192.168.100.2"
    path            = "/health"
    host            = "www"
    status          = ["200", "300-399"]
    digest          = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    regex           = "ok"

    tls {
      server_name          = "www.example.net"
      ca_file              = "/etc/ssl/certs/ca.pem"
      insecure_skip_verify = false
    }
  }

  sorry_server {
    address = "192.168.100.99:80"
    forward = "nat"
  }

  real_server "rs1" {
    address         = "192.168.100.11:80"
    weight          = 1
    forward         = "nat"
    upper_threshold = 0
    lower_threshold = 0

    check "tcp" {
      half_open = true
    }
  }

  real_server "rs2" {
    address = "192.168.100.12:80"
  }
}

virtual_server "batch" {
  address = "198.51.100.80:9000"

  check "command" {
    command = ["/usr/local/bin/check_batch", "--quick"]
  }

  real_server "b1" {
    address = "192.168.100.21"
  }
}
