#! /bin/bash
# director 服务器上开启路由转发功能 (Turn on routing forwarding on the director server)
echo 1 > /proc/sys/net/ipv4/ip_forward
# 关闭icmp的重定向 (Turn off redirection of ICMP)
echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/default/send_redirects
# 注意区分网卡名字，阿铭的两个网卡分别为ens33和ens37 (Note the name of the network card: ens33 and ens37)
echo 0 > /proc/sys/net/ipv4/conf/ens33/send_redirects
echo 0 > /proc/sys/net/ipv4/conf/ens37/send_redirects
# director 设置nat防火墙 (Director Set NAT Firewall)
iptables -t nat -F
iptables -t nat -X
iptables -t nat -A POSTROUTING -s 192.168.100.0/24 -j MASQUERADE
# director设置ipvsadm (Director set IPVSADM rules)
IPVSADM='/usr/sbin/ipvsadm'
$IPVSADM -C
$IPVSADM -A -t 203.0.113.10:80 -s rr
$IPVSADM -a -t 203.0.113.10:80 -r 192.168.100.11:80 -m -w 1
$IPVSADM -a -t 203.0.113.10:80 -r 192.168.100.12:80 -m -w 1
