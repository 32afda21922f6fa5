//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"syscall"
)

// OpenControl opens a [Control] on the IPVS of the network namespace at
// netnsPath ("" for the caller's), on a netlink socket of its own. On
// failure the error wraps [ErrUnavailable].
func OpenControl(netnsPath string) (*Control, error) {
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
	if _, err := c.timeouts(); err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: read timeouts: %w", ErrUnavailable, err)
	}
	return newControl(c), nil
}
