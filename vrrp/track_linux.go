package vrrp

import (
	"context"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetlinkLinks watches interfaces through route netlink link updates.
type NetlinkLinks struct{}

// linkUp is what VRRP calls up: administratively up and with carrier
// (IFF_UP and IFF_RUNNING, as keepalived).
func linkUp(l netlink.Link) bool {
	f := l.Attrs().Flags
	return f&net.FlagUp != 0 && f&net.FlagRunning != 0
}

// Watch subscribes to link updates, then returns the current state of each
// named interface (a missing one is down) and calls fn from its own
// goroutine on every later change of one of them, until ctx is done.
func (NetlinkLinks) Watch(ctx context.Context, names []string, fn func(name string, up bool)) (map[string]bool, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	ch := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	if err := netlink.LinkSubscribe(ch, done); err != nil {
		return nil, opError("watch links", "", netip.Addr{}, err)
	}
	state := map[string]bool{}
	for n := range want {
		l, err := netlink.LinkByName(n)
		state[n] = err == nil && linkUp(l)
	}
	last := make(map[string]bool, len(state))
	for n, up := range state {
		last[n] = up
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case u, ok := <-ch:
				if !ok {
					return
				}
				n := u.Attrs().Name
				if !want[n] {
					continue
				}
				up := linkUp(u) && u.Header.Type != unix.RTM_DELLINK
				if up != last[n] {
					last[n] = up
					fn(n, up)
				}
			}
		}
	}()
	return state, nil
}
