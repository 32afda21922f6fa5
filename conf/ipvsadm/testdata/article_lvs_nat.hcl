# Cluster file imported by tandem from article_lvs_nat.sh (ipvsadm).
# Lines that did not carry over are comments at their place; check it with `tandem check`.

director {
  send_redirects = false
}

node "director1" {
  interfaces = ["ens33", "ens37"]
}

# article_lvs_nat.sh:3: not translated: Turn: command not translated: `Turn on routing forwarding on the director server`
# article_lvs_nat.sh:5: not translated: Echo: command not translated: `Echo 1 >/proc/sys/net/ipv4/ip_forward`
# article_lvs_nat.sh:7: not translated: Turn: command not translated: `Turn off redirection of ICMP`
# article_lvs_nat.sh:12: not translated: Note: command not translated: `Note the name of the network card, Adai Two network cards are ENS33 and ENS37`
# article_lvs_nat.sh:17: not translated: Director: command not translated: `Director Set NAT Firewall`
# article_lvs_nat.sh:19: not translated: Iptables-t: command not translated: `Iptables-t nat-f`
# article_lvs_nat.sh:20: not translated: Iptables-t: command not translated: `Iptables-t Nat-x`
# article_lvs_nat.sh:21: not translated: Iptables-t: command not translated: `Iptables-t nat-a postrouting-s Masquerade`
# article_lvs_nat.sh:23: not translated: Director: command not translated: `Director set IPVSADM rules`
# article_lvs_nat.sh:25: not translated: ipvsadm : command not translated: `Ipvsadm= '/usr/sbin/ipvsadm '`
