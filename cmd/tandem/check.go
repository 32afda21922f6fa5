package main

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/conf"
)

func checkCommand() *cobra.Command {
	var path, nodeName string
	var local bool
	cmd := &cobra.Command{
		Use:   "check",
		Short: "validate the cluster file (and with --node, that node's view and this host)",
		Long: `check validates a cluster file: every diagnostic is printed with its
file:line:col, and any error makes the exit status 1. With --node it also
resolves that node and prints its view of the file; on that node (its
hostname, or --local) it checks that the interfaces the node uses exist and
carry the addresses VRRP sends from, and that the scripts the file runs exist
and no user other than root or the scripts' user can replace them.`,
		Example: `  tandem check -c /etc/tandem/cluster.hcl
  tandem check -c /etc/tandem/cluster.hcl --node director1`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Exit(cmdCheck(path, nodeName, local, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&path, "config", "c", defaultConfig, "cluster file")
	fs.StringVar(&nodeName, "node", "", "also resolve this node and print its view of the file")
	fs.BoolVar(&local, "local", false, "with --node: check this host's interfaces and addresses even if its hostname is not the node's")
	cmd.RegisterFlagCompletionFunc("config", hclFiles)
	return cmd
}

// cmdCheck validates a cluster file: every diagnostic is printed with its
// file:line:col, and any error makes the exit status 1. With nodeName it
// also resolves that node and prints its view of the file; on that node
// (its hostname, or local) it checks that the interfaces the node uses
// exist and carry the addresses VRRP sends from.
func cmdCheck(path, nodeName string, local bool, stdout, stderr io.Writer) int {
	if local && nodeName == "" {
		fmt.Fprintln(stderr, "tandem check: --local needs --node NAME")
		return 2
	}
	c, files, diags := conf.Load(path)
	if len(diags) > 0 {
		files.WriteDiagnostics(stderr, diags)
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "%s: %d error(s)\n", path, len(diags.Errs()))
		return 1
	}
	rs := 0
	for _, vs := range c.VirtualServers {
		rs += len(vs.RealServers)
	}
	bgp := ""
	if g := c.BGP; g != nil {
		bgp = fmt.Sprintf(", bgp: %d addresses to %d peers", len(g.Addresses), len(g.Peers))
	}
	fmt.Fprintf(stdout, "%s: ok (%d nodes, %d vrrp instances%s, %d virtual servers, %d real servers)\n",
		path, len(c.Nodes), len(c.VRRP), bgp, len(c.VirtualServers), rs)
	if nodeName == "" {
		return 0
	}
	n, err := c.Node(nodeName)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	printNodeView(stdout, c, n)
	host, _ := os.Hostname()
	if !local {
		if hn, err := c.NodeForHost(host); err != nil || hn.Name != n.Name {
			fmt.Fprintf(stdout, "  this host (%q) is not node %q: its interfaces were not checked (--local checks them anyway)\n", host, n.Name)
			return 0
		}
	}
	if err := checkHost(c, n, hostInterfaces); err != nil {
		fmt.Fprintf(stderr, "%s: node %q on this host: %v\n", path, n.Name, err)
		return 1
	}
	if err := director.CheckScripts(c); err != nil {
		fmt.Fprintf(stderr, "%s: node %q on this host: %v\n", path, n.Name, err)
		return 1
	}
	fmt.Fprintf(stdout, "  this host: every interface exists and has the addresses VRRP needs; every script exists and is safe to run\n")
	return 0
}

// printNodeView prints what node n runs: its VRRP instances with the
// priority it has in each, and the interfaces it uses.
func printNodeView(w io.Writer, c *conf.Cluster, n *conf.Node) {
	fmt.Fprintf(w, "node %q (hostname %q, priority %d):\n", n.Name, n.Hostname, n.Priority)
	for i := range c.VRRP {
		v := &c.VRRP[i]
		vips := make([]string, len(v.Addresses))
		for j, a := range v.Addresses {
			vips[j] = a.String()
		}
		fmt.Fprintf(w, "  vrrp %q: vrid %d v%d on %s, priority %d, addresses %s\n",
			v.Name, v.VRID, v.Version, v.Interface, v.PriorityOf(n), strings.Join(vips, ", "))
	}
	var names []string
	for _, u := range c.InterfaceUses(n) {
		names = append(names, u.Name)
	}
	fmt.Fprintf(w, "  interfaces: %s\n", strings.Join(names, ", "))
}

// hostInterfaces returns this host's interfaces and their addresses.
func hostInterfaces() (map[string][]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := map[string][]netip.Addr{}
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, err
		}
		out[ifc.Name] = nil
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				out[ifc.Name] = append(out[ifc.Name], p.Addr())
			}
		}
	}
	return out, nil
}

// checkHost checks that node n's interfaces exist on this host and that
// each VRRP instance's interface has an address to send adverts from: an
// IPv4 address for IPv4 instances, a link-local one for IPv6 (RFC 5798
// §5.1.2.2).
func checkHost(c *conf.Cluster, n *conf.Node, host func() (map[string][]netip.Addr, error)) error {
	ifs, err := host()
	if err != nil {
		return err
	}
	var names []string
	for name := range ifs {
		names = append(names, name)
	}
	slices.Sort(names)
	if err := checkInterfaces(c, n, names); err != nil {
		return err
	}
	for i := range c.VRRP {
		v := &c.VRRP[i]
		ok := false
		for _, a := range ifs[v.Interface] {
			vip := false
			for _, p := range v.Addresses {
				vip = vip || p.Addr() == a
			}
			switch {
			case vip: // a VIP is not a source of adverts
			case v.Family == conf.IPv6 && a.Is6() && a.IsLinkLocalUnicast(),
				v.Family != conf.IPv6 && a.Is4():
				ok = true
			}
		}
		if !ok {
			want := "an IPv4 address"
			if v.Family == conf.IPv6 {
				want = "an IPv6 link-local address"
			}
			return fmt.Errorf("vrrp %q: interface %s has no address of its own to send adverts from (it needs %s besides the VIPs)", v.Name, v.Interface, want)
		}
	}
	return nil
}
