# Imported from keepalived: keepalived.conf.SMTP_CHECK
# keepalived: notification_email (keepalived.conf.SMTP_CHECK:16): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.SMTP_CHECK:19): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.SMTP_CHECK:20): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.SMTP_CHECK:21): not translated: tandem sends no e-mail

director {
  static_vips = ["192.168.200.100"]
}

node "LVS_DEVEL" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

virtual_server "vs_192.168.200.100_25" {
  address   = "192.168.200.100:25"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  real_server "rs_172.16.1.10_25" {
    address = "172.16.1.10:25"
    weight  = 1
    # keepalived: SMTP_CHECK (keepalived.conf.SMTP_CHECK:39): not translated: tandem has no SMTP check; a command check can run one
  }
  real_server "rs_172.16.1.11_25" {
    address = "172.16.1.11:25"
    weight  = 1
    # keepalived: SMTP_CHECK (keepalived.conf.SMTP_CHECK:58): not translated: tandem has no SMTP check; a command check can run one
  }
  real_server "rs_172.16.1.12_25" {
    address = "172.16.1.12:25"
    weight  = 1
    # keepalived: SMTP_CHECK (keepalived.conf.SMTP_CHECK:89): not translated: tandem has no SMTP check; a command check can run one
  }
}
