# Imported from keepalived: keepalived.conf.status_code
# keepalived: notification_email (keepalived.conf.status_code:5): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.status_code:8): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.status_code:9): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.status_code:10): not translated: tandem sends no e-mail

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

virtual_server "vs_192.168.200.100_443" {
  address   = "192.168.200.100:443"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.201.100_443" {
    address = "192.168.201.100:443"
    weight  = 1
    check "https" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/"
      status   = ["200-299", "400-499", "503", "505"]
      # keepalived: url (keepalived.conf.status_code:28): not translated: tandem's http check has one path: the first url is used
      # keepalived: delay_before_retry (keepalived.conf.status_code:35): tandem probes again at the check's interval (6s), not after delay_before_retry
      tls {
        insecure_skip_verify = true
      }
      # keepalived: SSL_GET (keepalived.conf.status_code:23): keepalived's SSL_GET does not verify the certificate: insecure_skip_verify = true keeps that; set tls.ca_file to verify
    }
  }
}
