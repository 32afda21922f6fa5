//go:build !linux

package control

import (
	"errors"
	"net"
)

// peerOf needs SO_PEERCRED, which this system does not have: every
// connection is refused (tandem run is for Linux).
func peerOf(net.Conn) (Peer, error) { return Peer{}, errors.New("peer credentials: not on Linux") }
