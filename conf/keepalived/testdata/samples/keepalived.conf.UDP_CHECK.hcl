# Imported from keepalived: keepalived.conf.UDP_CHECK
# keepalived: notification_email (keepalived.conf.UDP_CHECK:5): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.UDP_CHECK:8): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.UDP_CHECK:9): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.UDP_CHECK:10): not translated: tandem sends no e-mail

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
  protocol  = "udp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.200.6_1358" {
    address = "192.168.200.6:1358"
    weight  = 1
    # keepalived: UDP_CHECK (keepalived.conf.UDP_CHECK:23): not translated: tandem has no UDP check; a command check can run one
  }
}
