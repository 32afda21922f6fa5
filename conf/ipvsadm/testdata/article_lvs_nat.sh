#! /bin/bash

Turn on routing forwarding on the director server

Echo 1 >/proc/sys/net/ipv4/ip_forward

Turn off redirection of ICMP

echo 0 >/proc/sys/net/ipv4/conf/all/send_redirects
echo 0 >/proc/sys/net/ipv4/conf/default/send_redirects

Note the name of the network card, Adai Two network cards are ENS33 and ENS37

echo 0 >/proc/sys/net/ipv4/conf/ens33/send_redirects
echo 0 >/proc/sys/net/ipv4/conf/ens37/send_redirects

Director Set NAT Firewall

Iptables-t nat-f
Iptables-t Nat-x
Iptables-t nat-a postrouting-s Masquerade

Director set IPVSADM rules

Ipvsadm= '/usr/sbin/ipvsadm '
#-c=clear, purge rule
#-a:=add, add rule;-t:=tcp;-s specify algorithm;
#在此可以添加-P: Specify timeout (resolve session issue: Ensure the same request is distributed to the same RS)
#因为添加-p option will affect the test effect, so this parameter is not added here (note: The time cannot be set to 0)
#-a:=add, adding Rs;-r in NAT Schema: Specify IP;-M for RS: Specify the LVS mode as NAT (Masquerade)
#-w:=weight, assigning weights
