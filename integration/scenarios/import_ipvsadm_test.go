package scenarios

import (
	"os"
	"strings"
	"testing"
	"time"

	ipvsimport "github.com/tandem-lb/tandem/conf/ipvsadm"
)

// lvsNATScript is conf/ipvsadm/testdata/lvs_nat.sh, the seed article's
// script, copied here because the lab VM holds the test binary but not the
// source tree (TestLVSNATScriptCopy keeps the two the same).
const lvsNATScript = `#! /bin/bash
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
`

// TestLVSNATScriptCopy runs on the host (where the source tree is): the
// copy above is the importer's testdata.
func TestLVSNATScriptCopy(t *testing.T) {
	b, err := os.ReadFile("../../conf/ipvsadm/testdata/lvs_nat.sh")
	if err != nil {
		t.Skipf("no source tree here: %v", err)
	}
	if string(b) != lvsNATScript {
		t.Fatal("lvsNATScript differs from conf/ipvsadm/testdata/lvs_nat.sh")
	}
}

// TestImportLVSNAT is the seed scenario from the seed's own script: the
// article's lvs_nat.sh, imported by tandem's ipvsadm importer (its two
// interface names made the lab's: ens33 → eth0, ens37 → br0), run by
// tandem; four GETs to the VIP alternate between the two real servers.
func TestImportLVSNAT(t *testing.T) {
	vmOnly(t)
	l := newNATLab(t, "import", 2)
	script := strings.NewReplacer("ens33", "eth0", "ens37", "br0").Replace(lvsNATScript)
	res, err := ipvsimport.Import("lvs_nat.sh", []byte(script))
	if err != nil {
		t.Fatal(err)
	}
	var fs []string
	for _, f := range res.Findings {
		fs = append(fs, f.String())
	}
	say(t, "director$ tandem import ipvsadm lvs_nat.sh > cluster.hcl\n%s", strings.Join(fs, "\n"))
	say(t, "director$ cat cluster.hcl\n%s", res.HCL)
	cfg := writeConfig(t, string(res.HCL))
	say(t, "director$ tandem run -c cluster.hcl --node director1")
	p := startTandem(t, l.director, "run", "-c", cfg, "--node", "director1")
	w, at := p.reconciled(0)
	if w != 3 {
		t.Errorf("first reconcile wrote %d, want 3 (1 service, 2 destinations)", w)
	}
	say(t, "%s", strings.Join(p.tail.Lines()[:at+1], "\n"))
	p.waitLog(`masquerade`, 0, 5*time.Second)
	if v, _ := l.director.ReadSysctl("net/ipv4/ip_forward"); strings.TrimSpace(v) != "1" {
		t.Errorf("director ip_forward = %q, want 1 (the script's echo 1, as ip_forward = \"auto\")", v)
	}
	for _, k := range []string{"all", "default", "eth0", "br0"} {
		if v, _ := l.director.ReadSysctl("net/ipv4/conf/" + k + "/send_redirects"); strings.TrimSpace(v) != "0" {
			t.Errorf("director %s/send_redirects = %q, want 0", k, v)
		}
	}
	out := ipvsadm(t, l.director, "-Ln")
	say(t, "director$ ipvsadm -Ln\n%s", strings.TrimRight(out, "\n"))
	for _, want := range []string{"TCP 203.0.113.10:80 rr", "-> 192.168.100.11:80 Masq 1", "-> 192.168.100.12:80 Masq 1"} {
		if !strings.Contains(squash(out), want) {
			t.Errorf("ipvsadm -Ln lacks %q:\n%s", want, out)
		}
	}

	alternate(t, l.client, vip)
	if err := p.stop(); err != nil {
		t.Error(err)
	}
}
