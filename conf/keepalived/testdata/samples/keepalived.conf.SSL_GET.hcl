# Imported from keepalived: keepalived.conf.SSL_GET
# keepalived: notification_email (keepalived.conf.SSL_GET:4): not translated: tandem sends no e-mail; use notify hooks or metrics
# keepalived: notification_email_from (keepalived.conf.SSL_GET:7): not translated: tandem sends no e-mail
# keepalived: smtp_server (keepalived.conf.SSL_GET:8): not translated: tandem sends no e-mail
# keepalived: smtp_connect_timeout (keepalived.conf.SSL_GET:9): not translated: tandem sends no e-mail

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

vrrp "VI_1" {
  vrid      = 51
  interface = "eth0"
  addresses = ["192.168.200.16/32", "192.168.200.17/32", "192.168.200.18/32"]
  version   = 2
  # keepalived: authentication (keepalived.conf.SSL_GET:19): not translated: IPsec AH authentication is not supported
  # keepalived: 192.168.200.16 (keepalived.conf.SSL_GET:24): no prefix length: /32 as keepalived does (no subnet route); write the subnet's length if the VIP should carry one
}

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
      digest   = "md5:ff20ad2481f97b1754ef3e12ecd3a9cc"
      # keepalived: url (keepalived.conf.SSL_GET:44): not translated: tandem's http check has one path: the first url is used
      # keepalived: delay_before_retry (keepalived.conf.SSL_GET:50): tandem probes again at the check's interval (6s), not after delay_before_retry
      tls {
        insecure_skip_verify = true
      }
      # keepalived: SSL_GET (keepalived.conf.SSL_GET:39): keepalived's SSL_GET does not verify the certificate: insecure_skip_verify = true keeps that; set tls.ca_file to verify
    }
  }
}

virtual_server "vs_192.168.200.100_80" {
  address   = "192.168.200.100:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_192.168.201.100_80" {
    address = "192.168.201.100:80"
    weight  = 1
    check "http" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 4
      path     = "/"
      digest   = "md5:ff20ad2481f97b1754ef3e12ecd3a9cc"
      # keepalived: url (keepalived.conf.SSL_GET:69): not translated: tandem's http check has one path: the first url is used
      # keepalived: delay_before_retry (keepalived.conf.SSL_GET:75): tandem probes again at the check's interval (6s), not after delay_before_retry
    }
  }
}
