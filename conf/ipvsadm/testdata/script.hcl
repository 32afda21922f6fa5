# Cluster file imported by tandem from script.sh (ipvsadm).
# Lines that did not carry over are comments at their place; check it with `tandem check`.

director {
  # script.sh:11 turned ip_forward on; "auto" does it while NAT real servers exist.
  ip_forward     = "auto"
  send_redirects = false
  masquerade     = ["192.168.100.0/24"]
  static_vips    = ["203.0.113.20", "203.0.113.21"]
  timeouts {
    tcp     = "900s"
    tcp_fin = "120s"
    udp     = "300s"
  }
  # script.sh:14: not translated: net/ipv4/vs/expire_nodest_conn: kernel setting not managed by tandem: keep it in /etc/sysctl.d: `echo 1 > /proc/sys/net/ipv4/vs/expire_nodest_conn`
  # script.sh:16: changed: vip: the VIP 203.0.113.20 is set by hand: it becomes a static_vips entry, which tandem expects configured outside it; for a director pair, move it into a vrrp instance (template at the end of the file)
  # script.sh:17: changed: vip: the VIP 203.0.113.21 is set by hand: it becomes a static_vips entry, which tandem expects configured outside it; for a director pair, move it into a vrrp instance (template at the end of the file)
  # script.sh:18: not translated: route: routes are not part of the cluster file: keep them in the system's network configuration: `route add -host $VIP dev eth0:0`
  # script.sh:19: not translated: ip route: not translated (routes, links and rules stay in the system's network configuration): `ip route add default via 203.0.113.1`
  # script.sh:20: changed: iptables: -o eth0: tandem masquerades the subnet's traffic whatever interface it leaves by
  # script.sh:21: not translated: iptables: firewall rule not translated (tandem manages only its masquerading): `iptables -A INPUT -p tcp --dport 22 -j ACCEPT`
  # script.sh:47: not translated: ipvsadm --start-daemon: connection sync follows VRRP in tandem: add a director.conn_sync block with the vrrp instance of the pair: `ipvsadm --start-daemon master --mcast-interface eth1`
}

node "director1" {
  interfaces = ["eth1", "eth0"]
}

# script.sh:3: not translated: set: command not translated: `set -e`
# script.sh:15: changed: modprobe: not needed: tandem loads the IPVS modules itself: `modprobe ip_vs`
# script.sh:23: not translated: ipvsadm -C: tandem never flushes: it owns only the services of the cluster file, leaves any other alone and reports it
virtual_server "web" {
  address   = "203.0.113.20:80"
  protocol  = "tcp"
  scheduler = "wrr"
  forward   = "nat"

  persistence {
    timeout = "60s"
  }

  real_server "rs_192.168.100.11_80" {
    address = "192.168.100.11:80"
    weight  = 5
  }

  real_server "rs_192.168.100.12_80" {
    address         = "192.168.100.12:80"
    weight          = 1
    upper_threshold = 100
  }
}

virtual_server "vs_udp_203.0.113.21_53" {
  address    = "203.0.113.21:53"
  protocol   = "udp"
  scheduler  = "rr"
  one_packet = true
  forward    = "nat"

  real_server "rs_192.168.100.11_53" {
    address = "192.168.100.11:53"
    weight  = 1
  }
}

virtual_server "vs_tcp_203.0.113.21_443" {
  address   = "203.0.113.21:443"
  protocol  = "tcp"
  scheduler = "wlc"
  forward   = "dr"
}

# script.sh:32: not translated: shell: value not known ($RIP3 is not set in the script): not translated: `ipvsadm -a -t 203.0.113.21:443 -r $RIP3:443 -m`
# script.sh:33: not translated: shell: value not known ($1 (a script argument or shell special)): not translated: `ipvsadm -a -t 203.0.113.21:443 -r $1:443 -m`
# script.sh:36: not translated: case: shell control flow is not translated (the commands inside a block are translated as if they always run): `case "$1" in`
# script.sh:37: not translated: shell: case pattern, subshell or function definition: not translated: `start)`
# script.sh:38: changed: ipvsadm -A: inside the shell block of line 36: translated as if it always runs
virtual_server "vs_tcp_203.0.113.20_8080" {
  address   = "203.0.113.20:8080"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "dr"
}

# script.sh:39: not translated: shell: case branch terminator ;;: not translated: `;;`
# script.sh:40: not translated: shell: case pattern, subshell or function definition: not translated: `stop)`
# script.sh:41: changed: ipvsadm -D: inside the shell block of line 36: translated as if it always runs
# script.sh:41: not translated: ipvsadm -D: the cluster file is the whole table: leave the service or real server out of it instead: `ipvsadm -D -t 203.0.113.20:8080`
# script.sh:42: not translated: shell: case branch terminator ;;: not translated: `;;`
# script.sh:43: not translated: esac: shell control flow is not translated (the commands inside a block are translated as if they always run): `esac`
# script.sh:44: not translated: if: shell control flow is not translated (the commands inside a block are translated as if they always run): `if [ -x /usr/bin/curl ]; then`
# script.sh:45: not translated: shell: pipeline (|): not translated: `curl -s http://$VIP/ | grep ok`
# script.sh:46: not translated: fi: shell control flow is not translated (the commands inside a block are translated as if they always run): `fi`
# script.sh:48: not translated: ipvsadm -L: not a configuration command: `ipvsadm -Ln`
# script.sh:49: not translated: echo: output only: not translated: `echo "done"`
# script.sh:50: not translated: exit: command not translated: `exit 0`

# One director, without VRRP: the VIPs above are static_vips. For a pair,
# add node "director2", remove the VIPs from static_vips, and let a vrrp
# instance move them (write each VIP's real prefix length; one family per
# instance):
#
# vrrp "vip" {
#   vrid      = 51
#   interface = "eth0"
#   addresses = ["203.0.113.20/24", "203.0.113.21/24"]
# }
