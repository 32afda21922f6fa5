# Imported from keepalived: keepalived.conf.sample
# keepalived: notification_email (keepalived.conf.sample:4): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.sample:7): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.sample:8): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.sample:9): not translated: tandem sends no e-mail

director {
  static_vips = ["10.10.10.2"]
}

node "LVS_DEVEL" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

vrrp "VI_1" {
  vrid      = 50
  interface = "eth0"
  addresses = ["192.168.200.11/32", "192.168.200.12/32", "192.168.200.13/32"]
  version   = 2
  preempt   = false
  # keepalived: 192.168.200.11 (keepalived.conf.sample:20): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

virtual_server "vs_10.10.10.2_1358" {
  address   = "10.10.10.2:1358"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  sorry_server {
    address = "192.168.200.200:1358"
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
      # keepalived: delay_before_retry (keepalived.conf.sample:44): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}
