# Imported from keepalived: keepalived.conf.IPv6

director {
  static_vips = ["ae00::1"]
}

node "LVS_DEVEL" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

virtual_server "vs_ae00--1_80" {
  address   = "[ae00::1]:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "50s"
  }
  real_server "rs_ae00--10_25" {
    address = "[ae00::10]:25"
    weight  = 1
    # keepalived: SMTP_CHECK (keepalived.conf.IPv6:24): not translated: tandem has no SMTP check; a command check can run one
  }
}
