// Package netlab builds the lab's little networks inside the VM: network
// namespaces for each role (client, directors, real servers), veth links
// and bridges between them, and helpers that open sockets or run commands
// inside a namespace.
//
// A socket belongs to the namespace of the thread that created it, so Do
// runs a function on a locked OS thread switched into the namespace and
// switches back before unlocking; if it cannot switch back, the thread is
// left locked so the runtime retires it.
package netlab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NS is a named network namespace (bind-mounted under /run/netns).
type NS struct {
	Name string
	h    netns.NsHandle
	nl   *netlink.Handle

	closeOnce sync.Once
	closeErr  error
}

// Path is the namespace's bind mount, for nsenter --net= and ipvs.New.
func (n *NS) Path() string { return filepath.Join("/run/netns", n.Name) }

// New creates the namespace name with loopback up.
func New(name string) (*NS, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err != nil {
		netns.Set(orig)
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("netlab: new netns %s: %w", name, err)
	}
	if err := netns.Set(orig); err != nil {
		// Leave the thread locked: it is in the wrong namespace.
		return nil, err
	}
	runtime.UnlockOSThread()
	// NETLINK_ROUTE named explicitly: without the xfrm module the default
	// list of families fails.
	nl, err := netlink.NewHandleAt(h, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, err
	}
	n := &NS{Name: name, h: h, nl: nl}
	lo, err := nl.LinkByName("lo")
	if err == nil {
		err = nl.LinkSetUp(lo)
	}
	return n, err
}

// Close deletes the namespace; its links, addresses and IPVS table go with
// it once no process is left inside.
// Close is idempotent.
func (n *NS) Close() error {
	n.closeOnce.Do(func() {
		n.nl.Close()
		n.h.Close()
		n.closeErr = netns.DeleteNamed(n.Name)
	})
	return n.closeErr
}

// Netlink is a route-netlink handle inside the namespace.
func (n *NS) Netlink() *netlink.Handle { return n.nl }

// Do runs fn on an OS thread switched into the namespace.
func (n *NS) Do(fn func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(n.h); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		return fmt.Errorf("netlab: cannot return from %s (thread retired): %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen opens a listener inside the namespace.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() (err error) { l, err = net.Listen(network, addr); return })
	return l, err
}

// ListenPacket opens a packet listener inside the namespace.
func (n *NS) ListenPacket(network, addr string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.Do(func() (err error) { c, err = net.ListenPacket(network, addr); return })
	return c, err
}

// DialContext dials from inside the namespace.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return
	})
	return c, err
}

// Command runs argv inside the namespace (through nsenter).
func (n *NS) Command(ctx context.Context, argv ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.Path(), "--"}, argv...)...)
}

// Sysctl writes a /proc/sys value (key like net/ipv4/ip_forward) as seen
// from inside the namespace.
func (n *NS) Sysctl(key, value string) error {
	return n.Do(func() error {
		return os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0o644)
	})
}

// ReadSysctl reads a /proc/sys value as seen from inside the namespace.
func (n *NS) ReadSysctl(key string) (string, error) {
	var s string
	err := n.Do(func() error {
		b, err := os.ReadFile(filepath.Join("/proc/sys", key))
		s = string(b)
		return err
	})
	return s, err
}

// Veth links namespace a (interface aName) to b (bName), both up.
func Veth(a *NS, aName string, b *NS, bName string) error {
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: aName, Namespace: netlink.NsFd(int(a.h))},
		PeerName:      bName,
		PeerNamespace: netlink.NsFd(int(b.h)),
	}
	if err := netlink.LinkAdd(v); err != nil {
		return fmt.Errorf("netlab: veth %s/%s-%s/%s: %w", a.Name, aName, b.Name, bName, err)
	}
	if err := a.Up(aName); err != nil {
		return err
	}
	return b.Up(bName)
}

// Bridge creates a bridge in the namespace, up.
func (n *NS) Bridge(name string) error {
	if err := n.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return fmt.Errorf("netlab: bridge %s in %s: %w", name, n.Name, err)
	}
	return n.Up(name)
}

// Enslave puts link into bridge br (both in this namespace).
func (n *NS) Enslave(link, br string) error {
	l, err := n.nl.LinkByName(link)
	if err != nil {
		return err
	}
	b, err := n.nl.LinkByName(br)
	if err != nil {
		return err
	}
	return n.nl.LinkSetMaster(l, b)
}

// Up sets a link up.
func (n *NS) Up(name string) error {
	l, err := n.nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netlab: %s in %s: %w", name, n.Name, err)
	}
	return n.nl.LinkSetUp(l)
}

// Addr adds an address (CIDR) to a link; IPv6 addresses skip DAD.
func (n *NS) Addr(link, cidr string) error { return n.addAddr(link, cidr, false) }

// AddrDeprecated adds an IPv6 cidr to link deprecated (preferred lifetime
// 0, valid forever, no duplicate address detection): it receives, but the
// namespace does not pick it as a source address.
func (n *NS) AddrDeprecated(link, cidr string) error { return n.addAddr(link, cidr, true) }

func (n *NS) addAddr(link, cidr string, deprecated bool) error {
	l, err := n.nl.LinkByName(link)
	if err != nil {
		return fmt.Errorf("netlab: %s in %s: %w", link, n.Name, err)
	}
	a, err := netlink.ParseAddr(cidr)
	if err != nil {
		return err
	}
	if a.IP.To4() == nil {
		a.Flags |= unix.IFA_F_NODAD
	}
	if deprecated {
		a.PreferedLft, a.ValidLft = 0, 0xffffffff
	}
	if err := n.nl.AddrAdd(l, a); err != nil {
		return fmt.Errorf("netlab: add %s to %s in %s: %w", cidr, link, n.Name, err)
	}
	return nil
}

// DefaultRoute sets the default route via gw.
func (n *NS) DefaultRoute(gw string) error {
	ip, err := netip.ParseAddr(gw)
	if err != nil {
		return err
	}
	r := &netlink.Route{Gw: ip.AsSlice()}
	if ip.Is6() {
		r.Family = unix.AF_INET6
	}
	if err := n.nl.RouteAdd(r); err != nil {
		return fmt.Errorf("netlab: default via %s in %s: %w", gw, n.Name, err)
	}
	return nil
}

// WriteSysfs writes value to a /sys path (relative, e.g.
// "class/net/eth0/queues/rx-0/rps_cpus") as the namespace sees it: on a
// thread of its own, switched into the namespace, with a private mount
// namespace holding a sysfs mounted there. The thread is then retired.
func (n *NS) WriteSysfs(path, value string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with its mounts
		errc <- func() error {
			if err := netns.Set(n.h); err != nil {
				return err
			}
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("netlab: unshare: %w", err)
			}
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("netlab: private mounts: %w", err)
			}
			dir, err := os.MkdirTemp("", "sysfs")
			if err != nil {
				return err
			}
			defer os.Remove(dir)
			if err := unix.Mount("sysfs", dir, "sysfs", 0, ""); err != nil {
				return fmt.Errorf("netlab: mount sysfs: %w", err)
			}
			defer unix.Unmount(dir, unix.MNT_DETACH)
			return os.WriteFile(filepath.Join(dir, path), []byte(value), 0o644)
		}()
	}()
	return <-errc
}
