package ipvs

import "net/netip"

// netlinkKernel is the [Kernel] of [Open]: IPVS generic netlink over one
// socket, kept for the Kernel's lifetime.
type netlinkKernel struct {
	c *genlClient
}

// Dump reads every service, then the destinations of each.
func (k *netlinkKernel) Dump() (Table, error) { return k.c.table() }

// Apply writes ops pipelined ([genlClient.apply]).
func (k *netlinkKernel) Apply(ops []Op) ([]Op, error) { return k.c.apply(ops) }

// Conns reads the connection counters of one service's destinations.
func (k *netlinkKernel) Conns(key ServiceKey) (map[netip.AddrPort]Conns, error) {
	return k.c.conns(key)
}

// Close closes the socket; the table stays.
func (k *netlinkKernel) Close() error { return k.c.conn.Close() }
