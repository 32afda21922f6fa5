# /etc/tandem/cluster.hcl: the cluster file of a tandem director pair.
#
# THIS IS AN EXAMPLE. The package installs it but does not enable or start
# tandem: edit it for your network first. Every address and interface name
# below is a placeholder (203.0.113.0/24 is a documentation range).
#
# Deploy the SAME file, unchanged, to both directors: each finds its own
# `node` block by hostname (or `tandem run --node NAME`). Then, on each:
#
#   tandem check -c /etc/tandem/cluster.hcl --node director1
#   systemctl enable --now tandem
#
# (run on director1 itself, the check also looks at its interfaces), and
# after a later edit (on both directors): `tandem plan`, then
# `systemctl reload tandem`. Every setting and its default: man
# tandem-cluster (conf/README.md in the tandem sources).
#
# This example is a NAT pair: clients reach the VIP 203.0.113.10:80 on eth0;
# the real servers sit on 192.168.100.0/24 behind eth1 and use the floating
# 192.168.100.1 as their default gateway, so that replies come back through
# the active director.

director {
  # The real servers' own outbound traffic (updates, DNS...) is masqueraded
  # by the active director. IP forwarding is turned on because a service
  # below uses NAT, and ICMP redirects are turned off.
  masquerade = ["192.168.100.0/24"]
}

# The two directors. Rename the blocks to the machines' hostnames (or set
# `hostname`). The higher priority is master when both are up.
node "director1" {
  priority = 150
}

node "director2" {
  priority = 100
}

# The public VIP, moved by VRRP to the master. The VRID (1..255) must be
# unique on the link: pick one that no other VRRP router there uses.
vrrp "public" {
  vrid      = 51
  interface = "eth0"
  addresses = ["203.0.113.10/24"]
  # A master that stops (systemctl stop/restart tandem) tells its peer,
  # which takes over at once instead of waiting for the advert timeout.
  pair_handover = true
}

# The real servers' default gateway: it must sit on the same director as the
# public VIP, hence the sync_group below.
vrrp "gateway" {
  vrid          = 52
  interface     = "eth1"
  addresses     = ["192.168.100.1/24"]
  pair_handover = true
}

sync_group "lb" {
  instances = ["public", "gateway"]
}

# Prometheus metrics and a read-only status page. Bind a management
# address, not the VIP's link.
# metrics {
#   listen = "127.0.0.1:9115"
# }

# One IPVS virtual service, programmed on both directors.
virtual_server "web" {
  address   = "203.0.113.10:80"
  protocol  = "tcp"
  scheduler = "rr"
  forward   = "nat"

  # A real server that fails this check leaves the table until it passes
  # again.
  check "http" {
    path = "/health"
  }

  real_server "rs1" {
    address = "192.168.100.11:80"
  }

  real_server "rs2" {
    address = "192.168.100.12:80"
  }
}
