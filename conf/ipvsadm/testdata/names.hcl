# Cluster file imported by tandem from names.save (ipvsadm).
# Lines that did not carry over are comments at their place; check it with `tandem check`.

director {
  static_vips = ["203.0.113.10"]
}

node "director1" {
}

# names.save:1: not translated: ipvsadm -A: host name "www.example.com": tandem resolves no names; save the table with ipvsadm -Sn (numeric) and import that
# names.save:2: not translated: ipvsadm -a: host name "www.example.com": tandem resolves no names; save the table with ipvsadm -Sn (numeric) and import that
# names.save:3: changed: ipvsadm -A: service name "http" read as port 80 (the usual /etc/services entry); prefer ipvsadm -Sn
virtual_server "vs_tcp_203.0.113.10_80" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # names.save:5: not translated: ipvsadm -a: host name "rs2": tandem resolves no names; save the table with ipvsadm -Sn (numeric) and import that

  real_server "rs_192.168.100.11_80" {
    address = "192.168.100.11:80"
    weight  = 1
  }
}

# names.save:4: changed: ipvsadm -a: service name "http" read as port 80 (the usual /etc/services entry); prefer ipvsadm -Sn
# names.save:4: changed: ipvsadm -a: service name "http" read as port 80 (the usual /etc/services entry); prefer ipvsadm -Sn
# names.save:5: changed: ipvsadm -a: service name "http" read as port 80 (the usual /etc/services entry); prefer ipvsadm -Sn
# names.save:6: not translated: ipvsadm -A: port "gopher" is not a number: tandem resolves no service names; save the table with ipvsadm -Sn and import that

# One director, without VRRP: the VIPs above are static_vips. For a pair,
# add node "director2", remove the VIPs from static_vips, and let a vrrp
# instance move them (write each VIP's real prefix length; one family per
# instance):
#
# vrrp "vip" {
#   vrid      = 51
#   interface = "eth0"
#   addresses = ["203.0.113.10/32"]
# }
