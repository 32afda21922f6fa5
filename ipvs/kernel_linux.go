//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"syscall"
)

// Open opens the kernel's IPVS table in the network namespace at netnsPath
// ("" for the caller's) and returns a [Reconciler] that owns it.
//
// Open speaks IPVS generic netlink itself, over sockets it keeps until the
// Reconciler is closed: one that writes and reads, on which it resolves the
// IPVS family and then probes it with a dump of the services (which needs
// CAP_NET_ADMIN), and [DefaultReadSockets]-1 more that only read the table
// back ([Options]).
// On failure the error wraps [ErrUnavailable]. tandem runs no modprobe:
// ip_vs must be loaded; the kernel loads scheduler modules (ip_vs_<name>)
// itself when a service names them, if it can.
//
// With netnsPath "", the sockets are opened on the calling thread: a
// caller that has moved its thread into another namespace must keep it
// locked (runtime.LockOSThread) until Open returns.
func Open(netnsPath string) (*Reconciler, error) {
	return OpenWith(netnsPath, Options{})
}

// OpenWith is [Open] with options.
func OpenWith(netnsPath string, o Options) (*Reconciler, error) {
	k, err := openKernel(netnsPath, o)
	if err != nil {
		return nil, err
	}
	return NewReconciler(k), nil
}

// dialIPVS opens a generic-netlink socket in the namespace at netnsPath
// and resolves the IPVS family on it.
func dialIPVS(netnsPath string) (*genlClient, error) {
	s, batch, err := dialGeneric(netnsPath)
	if err != nil {
		return nil, err
	}
	c := newGenlClient(s, 0, batch)
	if err := c.resolveFamily(); err != nil {
		s.Close()
		if errors.Is(err, syscall.ENOENT) {
			return nil, fmt.Errorf("%w: no netlink family IPVS: %w", ErrUnavailable, err)
		}
		return nil, fmt.Errorf("ipvs: resolve netlink family IPVS: %w", err)
	}
	return c, nil
}

func openKernel(netnsPath string, o Options) (*netlinkKernel, error) {
	c, err := dialIPVS(netnsPath)
	if err != nil {
		return nil, err
	}
	if _, err := c.services(); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("%w: list services: %w", ErrUnavailable, err)
	}
	k := &netlinkKernel{c: c}
	if n := o.readSockets() - 1; n > 0 {
		// The IPVS family's id is the same in every namespace.
		socks, err := dialReaders(netnsPath, n)
		if err != nil {
			c.conn.Close()
			return nil, err
		}
		for _, s := range socks {
			k.readers = append(k.readers, newGenlClient(s, c.family, 1))
		}
	}
	return k, nil
}
