# Imported from keepalived: keepalived.conf.HTTP_GET.port
# keepalived: notification_email (keepalived.conf.HTTP_GET.port:4): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.HTTP_GET.port:7): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.HTTP_GET.port:8): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.HTTP_GET.port:9): not translated: tandem sends no e-mail

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
      port     = 444
      path     = "/"
      digest   = "md5:ff20ad2481f97b1754ef3e12ecd3a9cc"
      # keepalived: delay_before_retry (keepalived.conf.HTTP_GET.port:30): tandem probes again at the check's interval (6s), not after delay_before_retry
      tls {
        insecure_skip_verify = true
      }
      # keepalived: SSL_GET (keepalived.conf.HTTP_GET.port:22): keepalived's SSL_GET does not verify the certificate: insecure_skip_verify = true keeps that; set tls.ca_file to verify
    }
  }
}
