# Imported from keepalived: keepalived.conf.vrrp.localcheck

node "keepalived.conf.vrrp.localcheck" {
  priority = 100
}
# The peer director: import both files (tandem import keepalived A.conf B.conf) or fill this in.
# node "director2" {
#   priority = 50
# }

track_script "chk_sshd" {
  command = ["/bin/sh", "-c", "killall -0 sshd"]
  # keepalived: script (keepalived.conf.vrrp.localcheck:12): run with /bin/sh -c: tandem runs commands by absolute path without a shell
  weight   = -4
  fall     = 2
  rise     = 2
  interval = "2s"
}

track_script "chk_haproxy" {
  command = ["/bin/sh", "-c", "killall -0 haproxy"]
  # keepalived: script (keepalived.conf.vrrp.localcheck:20): run with /bin/sh -c: tandem runs commands by absolute path without a shell
  interval = "2s"
}

track_script "chk_http_port" {
  command = ["/bin/sh", "-c", "</dev/tcp/127.0.0.1/80"]
  # keepalived: script (keepalived.conf.vrrp.localcheck:25): run with /bin/sh -c: tandem runs commands by absolute path without a shell
  weight   = -2
  interval = "1s"
}

track_script "chk_https_port" {
  command = ["/bin/sh", "-c", "</dev/tcp/127.0.0.1/443"]
  # keepalived: script (keepalived.conf.vrrp.localcheck:31): run with /bin/sh -c: tandem runs commands by absolute path without a shell
  weight   = -2
  interval = "1s"
}

track_script "chk_smtp_port" {
  command = ["/bin/sh", "-c", "</dev/tcp/127.0.0.1/25"]
  # keepalived: script (keepalived.conf.vrrp.localcheck:37): run with /bin/sh -c: tandem runs commands by absolute path without a shell
  weight   = -2
  interval = "1s"
}

vrrp "VI_1" {
  vrid             = 51
  interface        = "eth0"
  addresses        = ["192.168.200.18/25"]
  version          = 2
  track_interfaces = ["eth1", "eth2", "eth3"]
  track_scripts    = ["chk_sshd", "chk_haproxy", "chk_http_port", "chk_https_port", "chk_smtp_port"]
  # keepalived: eth1 (keepalived.conf.vrrp.localcheck:51): interface weights are not supported: the instance goes to FAULT while the interface is down
  # keepalived: eth2 (keepalived.conf.vrrp.localcheck:52): interface weights are not supported: the instance goes to FAULT while the interface is down
  # keepalived: chk_haproxy (keepalived.conf.vrrp.localcheck:57): not translated: per-instance weight overrides are not supported: the track_script's own weight applies
}

vrrp "VI_2" {
  vrid             = 52
  interface        = "eth1"
  addresses        = ["192.168.201.18/26"]
  version          = 2
  track_interfaces = ["eth0", "eth2", "eth3"]
  track_scripts    = ["chk_haproxy", "chk_http_port", "chk_https_port", "chk_smtp_port"]
  # keepalived: eth0 (keepalived.conf.vrrp.localcheck:73): interface weights are not supported: the instance goes to FAULT while the interface is down
  # keepalived: eth2 (keepalived.conf.vrrp.localcheck:74): interface weights are not supported: the instance goes to FAULT while the interface is down
  # keepalived: chk_haproxy (keepalived.conf.vrrp.localcheck:78): not translated: per-instance weight overrides are not supported: the track_script's own weight applies
}

vrrp "VI_3" {
  vrid      = 53
  interface = "eth0"
  addresses = ["192.168.200.19/27"]
  version   = 2
}

vrrp "VI_4" {
  vrid      = 54
  interface = "eth1"
  addresses = ["192.168.201.19/28"]
  version   = 2
}

vrrp "VI_5" {
  vrid      = 55
  interface = "eth0"
  addresses = ["192.168.200.20/27"]
  version   = 2
}

vrrp "VI_6" {
  vrid      = 56
  interface = "eth0"
  addresses = ["192.168.200.21/27"]
  version   = 2
}

vrrp "VI_7" {
  vrid      = 57
  interface = "eth0"
  addresses = ["192.168.200.22/27"]
  version   = 2
}

vrrp "VI_8" {
  vrid      = 58
  interface = "eth0"
  addresses = ["192.168.200.23/27"]
  version   = 2
}

vrrp "VI_9" {
  vrid      = 59
  interface = "eth0"
  addresses = ["192.168.200.24/27"]
  version   = 2
}
