# Imported from keepalived: keepalived.conf.virtual_server_group
# keepalived: notification_email (keepalived.conf.virtual_server_group:4): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.virtual_server_group:7): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.virtual_server_group:8): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.virtual_server_group:9): not translated: tandem sends no e-mail

director {
  static_vips = ["10.0.0.1", "10.0.0.2", "192.168.200.1", "192.168.200.3", "192.168.200.4", "192.168.200.5", "192.168.200.6", "192.168.200.7", "192.168.200.8", "192.168.200.9", "192.168.200.10"]
}

node "LVS_DEVEL" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

virtual_server "vs_10.0.0.1_8080" {
  address   = "10.0.0.1:8080"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_10.0.0.2_80" {
  address   = "10.0.0.2:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.1_1358" {
  address   = "192.168.200.1:1358"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.3_80" {
  address   = "192.168.200.3:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.4_80" {
  address   = "192.168.200.4:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.5_80" {
  address   = "192.168.200.5:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.6_80" {
  address   = "192.168.200.6:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.7_80" {
  address   = "192.168.200.7:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.8_80" {
  address   = "192.168.200.8:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.9_80" {
  address   = "192.168.200.9:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_192.168.200.10_80" {
  address   = "192.168.200.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_fwmark_1" {
  fwmark    = 1
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  # keepalived: protocol (keepalived.conf.virtual_server_group:27): a fwmark service has no protocol: the firewall rule selects the packets
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      port     = 1358
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      port     = 1358
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}

virtual_server "vs_fwmark_2" {
  fwmark    = 2
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  # keepalived: protocol (keepalived.conf.virtual_server_group:27): a fwmark service has no protocol: the firewall rule selects the packets
  real_server "rs_192.168.200.1_1358" {
    address = "192.168.200.1"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      port     = 1358
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:38): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      port     = 1358
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.virtual_server_group:51): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}
