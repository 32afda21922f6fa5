// Package vrrp owns the Virtual Router Redundancy Protocol between the two
// directors: the codec (RFC 5798 VRRPv3 for IPv4 and IPv6, RFC 3768 VRRPv2
// for IPv4), a pure state machine that takes events and the current time and
// returns actions, and the edge that performs those actions (raw IP protocol
// 112 sockets, VIPs through netlink, gratuitous ARP and unsolicited neighbour
// advertisements).
//
// It is a placeholder in this release: cmd/tandem already has the place where
// each node's instances are started and their transitions reach the main
// loop; the protocol itself lands with the VRRP issue. It must not import
// ipvs, healthcheck or conf.
package vrrp
