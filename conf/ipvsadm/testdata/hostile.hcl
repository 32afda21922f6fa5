# Cluster file imported by tandem from hostile.save (ipvsadm).
# Lines that did not carry over are comments at their place; check it with `tandem check`.

director {
  static_vips = ["203.0.113.10"]
}

node "director1" {
}

# hostile.save:1: invalid: ipvsadm: unexpected argument "junk" (ipvsadm refuses it): not translated: `-A -t 203.0.113.10:80 -s rr junk trailing`
# hostile.save:2: invalid: ipvsadm: unknown option -q (ipvsadm refuses it): not translated: `-A -t 203.0.113.10:80 -s nosuch -q`
virtual_server "vs_tcp_203.0.113.10_80" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "nat"

  # hostile.save:4: invalid: ipvsadm -a: address "999.1.1.1" is not an IP address (ipvsadm refuses it): not translated
  # hostile.save:5: invalid: ipvsadm -a: real server 127.0.0.1 is a loopback address: not translated
  # hostile.save:6: invalid: ipvsadm -a: weight "70000" is not 0..65535 (ipvsadm refuses it): not translated
  # hostile.save:7: invalid: ipvsadm -a: weight "-1" is not 0..65535 (ipvsadm refuses it): not translated
  # hostile.save:9: invalid: ipvsadm -a: the real server already exists (ipvsadm refuses it: File exists): not translated

  real_server "rs_192.168.100.12_80" {
    address = "192.168.100.12:80"
    weight  = 1
  }
}

# hostile.save:10: invalid: ipvsadm -a: no such service (not added before, or not translated): not translated
# hostile.save:11: invalid: ipvsadm -A: virtual address 0.0.0.0 is unspecified: not translated
# hostile.save:12: invalid: ipvsadm -A: virtual address 224.0.0.18 is multicast: not translated
# hostile.save:13: not translated: ipvsadm -A: service on port 0 (every port, with -p): tandem needs a port 1..65535; use a fwmark service
# hostile.save:14: not translated: ipvsadm -A: service on port 0 (every port, with -p): tandem needs a port 1..65535; use a fwmark service
# hostile.save:15: invalid: ipvsadm -A: address "[2001:db8::1:80" has no closing ]: not translated
# hostile.save:16: invalid: ipvsadm -A: needs exactly one of -t, -u, --sctp-service, -f (ipvsadm refuses it): not translated
virtual_server "vs_tcp_203.0.113.10_81" {
  address   = "203.0.113.10:81"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "dr"

  persistence {
    timeout = "300s"
  }

  # hostile.save:17: invalid: ipvsadm -A: persistence timeout "abc" is not 1..2147483 seconds: 300s kept
  # hostile.save:17: invalid: ipvsadm -A: netmask "255.0.255.0" is not a mask the service's family takes: not translated
}

virtual_server "vs_tcp_203.0.113.10_82" {
  address   = "203.0.113.10:82"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "dr"

  # hostile.save:18: not translated: ipvsadm -A: netmask without -p: it only groups persistent clients
}

# hostile.save:19: invalid: ipvsadm -A: fwmark "0" is not a number 1..4294967295: not translated
# hostile.save:20: invalid: ipvsadm -A: needs exactly one of -t, -u, --sctp-service, -f (ipvsadm refuses it): not translated
# hostile.save:21: not translated: shell: unterminated double quote: not translated: `ipvsadm -A -t "203.0.113.10:83 -s rr`
# hostile.save:22: not translated: shell: command substitution $(...): not translated: `VAR=$(hostname)`
# hostile.save:23: not translated: shell: value not known ($VAR is not set in the script): not translated: `ipvsadm -A -t $VAR:80`
# hostile.save:24: invalid: line is not UTF-8: skipped: `� bad utf8 �(`
# hostile.save:25: invalid: ipvsadm -A: -w does not belong to -A (ipvsadm refuses it): not translated
# hostile.save:26: invalid: ipvsadm -a: -s does not belong to -a (ipvsadm refuses it): not translated
# hostile.save:27: invalid: ipvsadm -a: no such service (not added before, or not translated): not translated

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
