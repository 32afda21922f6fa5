package director

import (
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// heldAddrs6 lists the host's IPv6 addresses.
func heldAddrs6() ([]heldAddr, error) {
	as, err := netlink.AddrList(nil, netlink.FAMILY_V6)
	if err != nil {
		return nil, err
	}
	out := make([]heldAddr, 0, len(as))
	for _, a := range as {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, heldAddr{Addr: ip, Deprecated: a.Flags&unix.IFA_F_DEPRECATED != 0})
		}
	}
	return out, nil
}
