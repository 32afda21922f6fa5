package conf

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Node returns the node called name, or an error listing the known nodes.
func (c *Cluster) Node(name string) (*Node, error) {
	for i := range c.Nodes {
		if c.Nodes[i].Name == name {
			return &c.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("no node %q in the cluster file (known nodes: %s)", name, c.nodeNames())
}

// NodeForHost returns the node whose hostname is hostname (compared
// without case), or else the node named hostname. Without a match it returns
// an error listing the known nodes, suggesting --node.
func (c *Cluster) NodeForHost(hostname string) (*Node, error) {
	for i := range c.Nodes {
		if strings.EqualFold(c.Nodes[i].Hostname, hostname) {
			return &c.Nodes[i], nil
		}
	}
	for i := range c.Nodes {
		if c.Nodes[i].Name == hostname {
			return &c.Nodes[i], nil
		}
	}
	return nil, fmt.Errorf("no node has hostname %q (known nodes: %s); set hostname in this director's node block or pass --node NAME", hostname, c.nodeNames())
}

func (c *Cluster) nodeNames() string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		if n.Hostname != n.Name {
			names[i] = fmt.Sprintf("%q (hostname %q)", n.Name, n.Hostname)
		} else {
			names[i] = fmt.Sprintf("%q", n.Name)
		}
	}
	return strings.Join(names, ", ")
}

// Instance returns the VRRP instance called name, or nil.
func (c *Cluster) Instance(name string) *VRRPInstance {
	for i := range c.VRRP {
		if c.VRRP[i].Name == name {
			return &c.VRRP[i]
		}
	}
	return nil
}

// SyncGroupOf returns the sync group that holds the VRRP instance called
// name, or nil when it is in none.
func (c *Cluster) SyncGroupOf(name string) *SyncGroup {
	for i := range c.SyncGroups {
		if slices.Contains(c.SyncGroups[i].Instances, name) {
			return &c.SyncGroups[i]
		}
	}
	return nil
}

// TrackScript returns the track script called name, or nil.
func (c *Cluster) TrackScript(name string) *TrackScript {
	for i := range c.TrackScripts {
		if c.TrackScripts[i].Name == name {
			return &c.TrackScripts[i]
		}
	}
	return nil
}

// VIPs returns the addresses of every VRRP instance, in file order.
func (c *Cluster) VIPs() []netip.Prefix {
	var out []netip.Prefix
	for _, v := range c.VRRP {
		out = append(out, v.Addresses...)
	}
	return out
}

// HasNAT reports whether any real or sorry server is forwarded with NAT.
func (c *Cluster) HasNAT() bool {
	for _, vs := range c.VirtualServers {
		if vs.SorryServer != nil && vs.SorryServer.Forward == NAT {
			return true
		}
		for _, rs := range vs.RealServers {
			if rs.Forward == NAT {
				return true
			}
		}
	}
	return false
}

// NeedsIPForward reports whether the directors must forward IP packets:
// ip_forward = "on", or "auto" with a NAT real server (NAT replies are
// routed back through the director).
func (c *Cluster) NeedsIPForward() bool {
	switch c.Director.IPForward {
	case IPForwardOn:
		return true
	case IPForwardOff:
		return false
	}
	return c.HasNAT()
}

// Families returns the address families used by the virtual servers, for
// the forwarding sysctls: IPv4 first.
func (c *Cluster) Families() []Family {
	var v4, v6 bool
	for _, vs := range c.VirtualServers {
		v4 = v4 || vs.Family == IPv4
		v6 = v6 || vs.Family == IPv6
	}
	var out []Family
	if v4 {
		out = append(out, IPv4)
	}
	if v6 {
		out = append(out, IPv6)
	}
	return out
}

// Interfaces returns the interfaces of node n that the director settings
// (send_redirects) apply to: the node's own list plus every VRRP and
// conn_sync interface, without duplicates, in that order.
func (c *Cluster) Interfaces(n *Node) []string {
	out := slices.Clone(n.Interfaces)
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, v := range c.VRRP {
		add(v.Interface)
	}
	if c.Director.ConnSync != nil {
		add(c.Director.ConnSync.Interface)
	}
	return out
}

// InterfaceUse is one place the file names an interface of a node.
type InterfaceUse struct {
	Name string
	Use  string // what names it: `vrrp "public"`, `node "d1" interfaces`, `director conn_sync`
	Pos  string // file:line:col of the name, when known
}

// InterfaceUses returns every interface node n must have: its own list,
// every VRRP instance's and conn_sync's, in that order, each name once.
func (c *Cluster) InterfaceUses(n *Node) []InterfaceUse {
	var out []InterfaceUse
	add := func(name, use, key string) {
		for _, u := range out {
			if u.Name == name {
				return
			}
		}
		out = append(out, InterfaceUse{Name: name, Use: use, Pos: c.ifacePos[key]})
	}
	for _, ifc := range n.Interfaces {
		use := fmt.Sprintf("node %q interfaces", n.Name)
		add(ifc, use, use+" "+ifc)
	}
	for _, v := range c.VRRP {
		use := fmt.Sprintf("vrrp %q", v.Name)
		add(v.Interface, use, use)
	}
	if c.Director.ConnSync != nil {
		add(c.Director.ConnSync.Interface, "director conn_sync", "director conn_sync")
	}
	return out
}
