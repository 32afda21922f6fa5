# Imported from keepalived: keepalived.conf.fwmark

node "io" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

virtual_server "vs_fwmark_1" {
  fwmark    = 1
  scheduler = "rr"
  forward   = "nat"
  persistence {
    timeout = "15m"
  }
  # keepalived: protocol (keepalived.conf.fwmark:12): a fwmark service has no protocol: the firewall rule selects the packets
  real_server "rs_192.168.201.100" {
    address = "192.168.201.100"
    weight  = 1
    check "tcp" {
      interval = "6s"
      timeout  = "3s"
      rise     = 1
      fall     = 2
      port     = 80
    }
  }
  real_server "rs_192.168.201.101" {
    address = "192.168.201.101"
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
