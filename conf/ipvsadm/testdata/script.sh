#!/bin/sh
# An lvs_nat.sh-style script with the usual variations.
set -e
export VIP="203.0.113.20"
RIP1=192.168.100.11
RIP2='192.168.100.12'
PORT=80
IPVSADM=/sbin/ipvsadm
NET=192.168.100

sysctl -w net.ipv4.ip_forward=1
sysctl -w net.ipv4.conf.all.send_redirects=0
echo 0 > /proc/sys/net/ipv4/conf/eth1/send_redirects
echo 1 > /proc/sys/net/ipv4/vs/expire_nodest_conn
modprobe ip_vs
ifconfig eth0:0 $VIP netmask 255.255.255.0 broadcast 203.0.113.255 up
ip addr add 203.0.113.21/24 dev eth0 label eth0:1
route add -host $VIP dev eth0:0
ip route add default via 203.0.113.1
iptables -t nat -A POSTROUTING -s ${NET}.0/24 -o eth0 -j MASQUERADE
iptables -A INPUT -p tcp --dport 22 -j ACCEPT

$IPVSADM -C
$IPVSADM --set 900 120 300
# web
$IPVSADM -A -t ${VIP}:${PORT} -s wrr -p 60
$IPVSADM -a -t ${VIP}:${PORT} -r ${RIP1}:${PORT} -m -w 3
$IPVSADM -a -t $VIP:$PORT -r $RIP2:$PORT -m -w 1 -x 100
"$IPVSADM" -A -u 203.0.113.21:53 -s rr -o ; $IPVSADM -a -u 203.0.113.21:53 -r $RIP1 -m
/sbin/ipvsadm -A -t 203.0.113.21:443 \
  -s wlc
ipvsadm -a -t 203.0.113.21:443 -r $RIP3:443 -m
ipvsadm -a -t 203.0.113.21:443 -r $1:443 -m
ipvsadm -e -t ${VIP}:80 -r ${RIP1}:80 -m -w 5

case "$1" in
start)
    ipvsadm -A -t 203.0.113.20:8080 -s rr
    ;;
stop)
    ipvsadm -D -t 203.0.113.20:8080
    ;;
esac
if [ -x /usr/bin/curl ]; then
  curl -s http://$VIP/ | grep ok
fi
ipvsadm --start-daemon master --mcast-interface eth1
ipvsadm -Ln
echo "done"
exit 0
