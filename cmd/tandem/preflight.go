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
)

// preflight checks, before tandem run writes anything, that this host
// gives it the privileges node n of c needs (the loader has checked the
// interfaces the file names). Each failure says what to do.
func preflight(c *conf.Cluster, noIPVS bool) error {
	return checkPrivileges(c, noIPVS, effectiveCaps)
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
	if len(need) == 0 {
		return nil
	}
	return fmt.Errorf("tandem run needs root, or the capabilities %s (it adds VIPs, sends VRRP on raw sockets and programs IPVS); run it as root or with AmbientCapabilities=%s in its systemd unit",
		strings.Join(need, " and "), strings.Join(need, " "))
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
