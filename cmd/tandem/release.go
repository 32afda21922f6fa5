package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// cmdRelease is what the systemd unit's ExecStopPost= runs: after a
// tandem run that did not exit cleanly (SIGKILL, a crash, the watchdog),
// the node still holds its VIPs and would answer ARP for addresses the
// peer has taken over. It removes the addresses tandem added (IPv4 ones
// by their label, IPFACE:tandem; the file's IPv6 VIPs by address) and
// stops the IPVS sync master daemon when the file runs conn_sync. It
// leaves the IPVS table and the sync backup, as a clean exit does.
//
// After a clean exit (systemd's SERVICE_RESULT=success) there is nothing
// to release: tandem handed its VIPs over itself; --force releases
// anyway. While a tandem run holds the node's lock it does nothing.
func cmdRelease(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	path := fs.String("c", "/etc/tandem/cluster.hcl", "the cluster file (its IPv6 VIPs and conn_sync; IPv4 VIPs are found by their label)")
	socket := fs.String("socket", defaultSocket(), "the control socket of tandem run (its directory holds the node's lock)")
	force := fs.Bool("force", false, "release even after a clean exit (SERVICE_RESULT=success)")
	if code := cli.ParseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if r := os.Getenv("SERVICE_RESULT"); r == "success" && !*force {
		fmt.Fprintln(stdout, "tandem release: tandem run exited cleanly and handed its VIPs over: nothing to release")
		return 0
	}
	unlock, err := lockNode(filepath.Dir(*socket))
	if err != nil {
		fmt.Fprintf(stderr, "tandem release: not releasing: %v\n", err)
		return 1
	}
	defer unlock()
	c, _, diags := conf.Load(*path)
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "tandem release: %s does not load (%s): releasing the labelled IPv4 VIPs only\n", *path, diags[0].Summary)
		c = nil
	}
	removed, err := releaseVIPs(c)
	for _, r := range removed {
		fmt.Fprintf(stdout, "tandem release: removed %s\n", r)
	}
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "tandem release: %v\n", err)
		code = 1
	}
	if c != nil && c.Director.ConnSync != nil {
		switch stopped, err := stopSyncMaster(); {
		case err != nil:
			fmt.Fprintf(stderr, "tandem release: ipvs sync master: %v\n", err)
			code = 1
		case stopped:
			fmt.Fprintln(stdout, "tandem release: stopped the ipvs sync master daemon")
		}
	}
	if len(removed) == 0 && code == 0 {
		fmt.Fprintln(stdout, "tandem release: no VIP of tandem's on this node")
	}
	return code
}

// releaseVIPs removes tandem's addresses: IPv4 ones labelled with
// vrrp.Label of their interface, and the IPv6 VIPs of c (nil: none) on
// their instance's interface.
func releaseVIPs(c *conf.Cluster) ([]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	v6 := map[string][]netip.Prefix{}
	if c != nil {
		for _, v := range c.VRRP {
			for _, a := range v.Addresses {
				if a.Addr().Is6() {
					v6[v.Interface] = append(v6[v.Interface], a)
				}
			}
		}
	}
	var removed []string
	var errs []error
	for _, l := range links {
		name := l.Attrs().Name
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ip = ip.Unmap()
			ones, _ := a.Mask.Size()
			p := netip.PrefixFrom(ip, ones)
			mine := ip.Is4() && a.Label == vrrp.Label(name)
			if ip.Is6() {
				for _, v := range v6[name] {
					mine = mine || v.Addr() == ip
				}
			}
			if !mine {
				continue
			}
			if err := netlink.AddrDel(l, &a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
				errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, name, err))
				continue
			}
			removed = append(removed, p.String()+" from "+name)
		}
	}
	return removed, errors.Join(errs...)
}

// stopSyncMaster stops the IPVS sync master daemon, if one runs.
func stopSyncMaster() (bool, error) {
	ctl, err := ipvs.OpenControl("")
	if err != nil {
		return false, err
	}
	defer ctl.Close()
	ds, err := ctl.Daemons()
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.State == ipvs.DaemonMaster {
			return true, ctl.StopDaemon(ipvs.DaemonMaster)
		}
	}
	return false, nil
}
