package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// preflight checks, before tandem run writes anything, that this host
// gives it the privileges node n of c needs and, unless noIPVS, has IPVS
// (the loader has checked the interfaces the file names). Each failure
// says what to do.
func preflight(c *conf.Cluster, noIPVS bool) error {
	if err := checkPrivileges(c, noIPVS, effectiveCaps); err != nil {
		return err
	}
	return checkIPVS(c, noIPVS, openIPVS)
}

// openIPVS opens IPVS's netlink family and closes it again.
func openIPVS() error {
	r, err := ipvs.Open("")
	if err != nil {
		return err
	}
	r.Close()
	return nil
}

// checkIPVS reports a kernel without IPVS (open fails with
// ipvs.ErrUnavailable) when tandem run would manage it.
func checkIPVS(c *conf.Cluster, noIPVS bool, open func() error) error {
	if noIPVS {
		return nil
	}
	err := open()
	if err == nil || !errors.Is(err, ipvs.ErrUnavailable) {
		return nil // available, or another error the start itself reports
	}
	why := "tandem run programs the IPVS table and the director settings"
	if len(c.VirtualServers) > 0 {
		vs := c.VirtualServers[0].Name
		why = fmt.Sprintf("the file has %d virtual server(s), the first virtual_server %q", len(c.VirtualServers), vs)
		if p := c.Pos(fmt.Sprintf("virtual_server %q", vs)); p != "" {
			why += " at " + p
		}
	}
	return fmt.Errorf("IPVS is not available in this kernel (no generic netlink family IPVS: the ip_vs module is not loaded, and could not be loaded); %s. Hint: modprobe ip_vs (and list it in /etc/modules-load.d/), or run with --no-ipvs for VRRP only", why)
}

// localInterfaces checks that the interfaces node n uses exist here.
func localInterfaces(c *conf.Cluster, n *conf.Node) error {
	have, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, len(have))
	for i, ifc := range have {
		names[i] = ifc.Name
	}
	return checkInterfaces(c, n, names)
}

// Capabilities tandem run needs (linux/capability.h).
const (
	capNetAdmin = 12 // addresses, IPVS, sysctls, nftables
	capNetRaw   = 13 // VRRP's raw socket, ARP
	capSetgid   = 6  // scripts run as the scripts block's user
	capSetuid   = 7
)

// checkPrivileges reports missing capabilities: CAP_NET_ADMIN for VIPs
// and IPVS, CAP_NET_RAW for VRRP's raw sockets. caps returns the
// effective set.
func checkPrivileges(c *conf.Cluster, noIPVS bool, caps func() (uint64, error)) error {
	var need []string
	set, err := caps()
	if err != nil {
		return nil // unknown: let the operations themselves say
	}
	if (len(c.VRRP) > 0 || !noIPVS) && set&(1<<capNetAdmin) == 0 {
		need = append(need, "CAP_NET_ADMIN")
	}
	if len(c.VRRP) > 0 && set&(1<<capNetRaw) == 0 {
		need = append(need, "CAP_NET_RAW")
	}
	if c.Scripts.User != "" && set&(1<<capSetuid) == 0 {
		need = append(need, "CAP_SETUID")
	}
	if c.Scripts.User != "" && set&(1<<capSetgid) == 0 {
		need = append(need, "CAP_SETGID")
	}
	if len(need) == 0 {
		return nil
	}
	why := "it adds VIPs, sends VRRP on raw sockets and programs IPVS"
	if c.Scripts.User != "" {
		why += ", and runs the scripts as the scripts block's user"
	}
	list := strings.Join(need, " and ")
	if len(need) > 2 {
		list = strings.Join(need[:len(need)-1], ", ") + " and " + need[len(need)-1]
	}
	hint := fmt.Sprintf("run it as root or with AmbientCapabilities=%s in its systemd unit", strings.Join(need, " "))
	if c.Scripts.User != "" {
		hint += "; the shipped unit bounds tandem to CAP_NET_ADMIN CAP_NET_RAW: add CAP_SETUID CAP_SETGID to its CapabilityBoundingSet= with systemctl edit tandem"
	}
	return fmt.Errorf("tandem run needs root, or the capabilities %s (%s); %s", list, why, hint)
}

// effectiveCaps reads this process's effective capability set.
func effectiveCaps() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff in /proc/self/status")
}

// checkInterfaces reports the first interface node n uses (its own list,
// its VRRP instances', conn_sync's) that is not among have.
func checkInterfaces(c *conf.Cluster, n *conf.Node, have []string) error {
	for _, u := range c.InterfaceUses(n) {
		if slices.Contains(have, u.Name) {
			continue
		}
		where := u.Use
		if u.Pos != "" {
			where += ", " + u.Pos
		}
		return fmt.Errorf("interface %q (%s) does not exist on this node (%q); its interfaces are: %s. Hint: fix the name in the file, or create the interface first",
			u.Name, where, n.Name, strings.Join(have, ", "))
	}
	return nil
}
