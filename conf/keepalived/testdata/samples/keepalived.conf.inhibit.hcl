# Imported from keepalived: keepalived.conf.inhibit
# keepalived: notification_email (keepalived.conf.inhibit:4): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.inhibit:7): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.inhibit:8): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.inhibit:9): not translated: tandem sends no e-mail

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

virtual_server "vs_10.10.10.2_1358" {
  address   = "10.10.10.2:1358"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.2_1358" {
    address = "192.168.200.2:1358"
    weight  = 1
    # keepalived: inhibit_on_failure (keepalived.conf.inhibit:22): tandem's on_failure is per virtual server: this real server is removed on failure like the others (set on_failure = "drain" on the virtual server to drain them all)
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/testurl3/test.jsp"
      digest   = "md5:640205b7b0fc66c1ea91c463fac6334d"
      # keepalived: delay_before_retry (keepalived.conf.inhibit:30): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}
