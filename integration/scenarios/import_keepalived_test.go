package scenarios

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// importCases are keepalived configurations of a director: a VRRP
// instance holding the VIPs and virtual servers of every kind the kernel
// is asked for (schedulers and their flags, persistence, forwarding
// methods, weights, thresholds, fwmark, UDP).
var importCases = map[string]string{
	"nat-persistent": `
global_defs {
   router_id d1
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    virtual_ipaddress {
        10.0.0.100/24
        10.0.0.101/24
    }
}
virtual_server 10.0.0.100 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind NAT
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    protocol TCP
    real_server 192.168.100.11 8080 {
        weight 1
    }
    real_server 192.168.100.12 8080 {
        weight 3
        uthreshold 100
        lthreshold 10
    }
}
virtual_server 10.0.0.101 53 {
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 192.168.100.21 53 {
        weight 2
    }
}
`,
	"dr-tun-fwmark": `
global_defs {
   router_id d1
}
vrrp_instance public {
    state BACKUP
    interface eth0
    virtual_router_id 52
    priority 100
    advert_int 1
    nopreempt
    virtual_ipaddress {
        10.0.0.110/24
    }
}
virtual_server 10.0.0.110 443 {
    lb_algo wlc
    lb_kind DR
    protocol TCP
    real_server 10.0.0.31 443 {
        weight 5
    }
    real_server 10.0.0.32 443 {
        weight 5
    }
}
virtual_server fwmark 7 {
    lb_algo sh
    sh-port
    sh-fallback
    lb_kind TUN
    persistence_timeout 60
    real_server 10.0.0.41 0 {
        weight 1
    }
}
`,
}

// dummyEth0 gives ns an interface eth0, up, multicast, with addr.
func dummyEth0(t *testing.T, ns *netlab.NS, addr string) {
	t.Helper()
	must(t, ns.Netlink().LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}}))
	link, err := ns.Netlink().LinkByName("eth0")
	must(t, err)
	must(t, ns.Netlink().LinkSetMulticastOn(link)) // VRRP's adverts
	must(t, ns.Addr("eth0", addr))
	must(t, ns.Up("eth0"))
}

// rules is `ipvsadm -Sn`, sorted (the table as rules), then the
// destinations' thresholds (`ipvsadm -Ln --thresholds`, which -S leaves
// out), sorted.
func rules(t *testing.T, ns *netlab.NS) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(ipvsadm(t, ns, "-Sn")), "\n")
	slices.Sort(lines)
	var thr []string
	for _, l := range strings.Split(ipvsadm(t, ns, "-Ln", "--thresholds"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "->") && !strings.Contains(l, "RemoteAddress") {
			thr = append(thr, strings.Join(strings.Fields(l), " "))
		}
	}
	slices.Sort(thr)
	return strings.Join(lines, "\n") + "\nthresholds:\n" + strings.Join(thr, "\n")
}

// eth0VIPs is the set of eth0's addresses but its own.
func eth0VIPs(t *testing.T, ns *netlab.NS, own string) string {
	t.Helper()
	link, err := ns.Netlink().LinkByName("eth0")
	must(t, err)
	addrs, err := ns.Netlink().AddrList(link, netlink.FAMILY_V4)
	must(t, err)
	var out []string
	for _, a := range addrs {
		if p, ok := netip.AddrFromSlice(a.IP); ok && p.String() != own {
			out = append(out, a.IPNet.String())
		}
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// waitStable polls read until it returns the same non-empty value twice a
// second apart, or the timeout.
func waitStable(t *testing.T, what string, read func() string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		v := read()
		if v != "" && v == last {
			return v
		}
		last = v
	}
	t.Fatalf("%s never settled within %v: %q", what, timeout, last)
	return ""
}

// TestImportKeepalivedEquivalence: for each configuration, keepalived
// (VRRP and checker) programs the kernel and takes the VIPs in a fresh
// namespace; `tandem import keepalived` turns the same file into a
// cluster file, and tandem, run on it in another fresh namespace, makes
// the same IPVS table (ipvsadm -Sn, field by field) and holds the same
// VIPs as master.
func TestImportKeepalivedEquivalence(t *testing.T) {
	vmOnly(t)
	for name, kconf := range importCases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			kpath := filepath.Join(dir, "keepalived.conf")
			must(t, os.WriteFile(kpath, []byte(kconf), 0o644))

			nsK := newNS(t, "ik-"+name[:3])
			dummyEth0(t, nsK, "10.0.0.1/24")
			k := nsK.Command(context.Background(), "/usr/sbin/keepalived", "-n", "-l", "-f", kpath,
				"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "kv.pid"), "-c", filepath.Join(dir, "kc.pid"))
			must(t, k.Start())
			t.Cleanup(func() { stopKeepalived(k) })
			kTable := waitStable(t, "keepalived's table", func() string { return rules(t, nsK) }, 20*time.Second)
			kVIPs := waitStable(t, "keepalived's VIPs", func() string { return eth0VIPs(t, nsK, "10.0.0.1") }, 20*time.Second)
			stopKeepalived(k)

			out, code := tandemCmd(t, nsK, "import", "keepalived", kpath, "-o", filepath.Join(dir, "cluster.hcl"))
			say(t, "%s: tandem import keepalived (exit %d):\n%s", name, code, strings.TrimRight(out, "\n"))
			if code != 0 {
				t.Fatalf("import: exit %d", code)
			}
			hcl, _ := os.ReadFile(filepath.Join(dir, "cluster.hcl"))
			t.Logf("cluster.hcl:\n%s", hcl)

			nsT := newNS(t, "it-"+name[:3])
			dummyEth0(t, nsT, "10.0.0.1/24")
			startTandem(t, nsT, "run", "-c", filepath.Join(dir, "cluster.hcl"), "--node", "d1")
			tTable := waitStable(t, "tandem's table", func() string { return rules(t, nsT) }, 20*time.Second)
			tVIPs := waitStable(t, "tandem's VIPs", func() string { return eth0VIPs(t, nsT, "10.0.0.1") }, 20*time.Second)
			say(t, "%s: ipvsadm -Sn, keepalived:\n%s\ntandem:\n%s", name, kTable, tTable)
			if kTable != tTable {
				t.Errorf("%s: the tables differ", name)
			}
			if kVIPs != tVIPs {
				t.Errorf("%s: VIPs: keepalived %q, tandem %q", name, kVIPs, tVIPs)
			}
		})
	}
}
