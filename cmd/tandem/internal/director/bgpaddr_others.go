//go:build !linux

package director

import (
	"errors"
	"net/netip"
)

var errNoBGPAddrs = errors.New("bgp addresses are managed on Linux only")

type bgpAddrs struct{}

func newBGPAddrs() bgpAddrs                             { return bgpAddrs{} }
func (bgpAddrs) add(string, netip.Addr) error           { return errNoBGPAddrs }
func (bgpAddrs) del(string, netip.Addr) error           { return errNoBGPAddrs }
func (bgpAddrs) on(string) (map[netip.Addr]bool, error) { return nil, errNoBGPAddrs }
func routeSource(netip.Addr) (netip.Addr, error)        { return netip.Addr{}, errNoBGPAddrs }
