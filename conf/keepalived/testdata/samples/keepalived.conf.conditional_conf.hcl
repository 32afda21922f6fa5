# Imported from keepalived: keepalived.conf.conditional_conf, keepalived.conf.conditional_conf
# keepalived: net_namespace (keepalived.conf.conditional_conf:3): not translated: tandem runs in the namespace it is started in

node "high" {
  priority = 170
}

node "low" {
  priority = 85
}

track_script "check_VI_0" {
  command  = ["/etc/keepalived/scripts/check_high_VI_0.sh"]
  rise     = 3
  fall     = 3
  interval = "1s"
  # keepalived: timeout (keepalived.conf.conditional_conf:10): timeout 10s is longer than the interval: tandem needs timeout <= interval, so it is 1s
  timeout = "1s"
}

vrrp "VI_0" {
  vrid             = 1
  interface        = "eth0"
  addresses        = ["10.1.0.254/32"]
  version          = 3
  advert_interval  = "12s"
  track_interfaces = ["eth3", "eth2"]
  track_scripts    = ["check_VI_0"]
  # keepalived: use_vmac (keepalived.conf.conditional_conf:23): not translated: tandem adds the VIPs to the interface itself; it has no VRRP MAC interface
  # keepalived: eth2 (keepalived.conf.conditional_conf:29): interface weights are not supported: the instance goes to FAULT while the interface is down
}
