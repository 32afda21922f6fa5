# Imported from keepalived: keepalived.conf.quorum

director {
  static_vips = ["10.0.1.1"]
}

node "keepalived.conf.quorum" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

virtual_server "vs_10.0.1.1_80" {
  address   = "10.0.1.1:80"
  protocol  = "tcp"
  scheduler = "wrr"
  forward   = "nat"
  quorum    = 7
  persistence {
    timeout = "15m"
  }
  # keepalived: alpha (keepalived.conf.quorum:29): tandem's own start state applies: a real server counts as down until its check passes rise times
  # keepalived: omega (keepalived.conf.quorum:30): tandem leaves the table in place on exit
  # keepalived: hysteresis (keepalived.conf.quorum:32): tandem's quorum has no hysteresis
  # keepalived: quorum_up (keepalived.conf.quorum:33): not translated: tandem has no quorum hooks; track_virtual_servers in a vrrp reacts to a lost quorum
  # keepalived: quorum_down (keepalived.conf.quorum:34): not translated: tandem has no quorum hooks; track_virtual_servers in a vrrp reacts to a lost quorum
  real_server "rs_10.0.0.1_8080" {
    address = "10.0.0.1:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.2_8080" {
    address = "10.0.0.2:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.3_8080" {
    address = "10.0.0.3:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.4_8080" {
    address = "10.0.0.4:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.5_8080" {
    address = "10.0.0.5:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.6_8080" {
    address = "10.0.0.6:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.7_8080" {
    address = "10.0.0.7:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.8_8080" {
    address = "10.0.0.8:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.9_8080" {
    address = "10.0.0.9:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_10.0.0.10_8080" {
    address = "10.0.0.10:8080"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
}
