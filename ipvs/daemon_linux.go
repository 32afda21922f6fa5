//go:build linux

package ipvs

import (
	"fmt"
)

// OpenControl opens a [Control] on the IPVS of the network namespace at
// netnsPath ("" for the caller's), on a netlink socket of its own. On
// failure the error wraps [ErrUnavailable].
func OpenControl(netnsPath string) (*Control, error) {
	c, err := dialIPVS(netnsPath)
	if err != nil {
		return nil, err
	}
	if _, err := c.timeouts(); err != nil {
		c.conn.Close()
		return nil, fmt.Errorf("%w: read timeouts: %w", ErrUnavailable, err)
	}
	return newControl(c), nil
}
