//go:build !linux

package ipvs

import "fmt"

// OpenControl returns an error wrapping [ErrUnavailable]: IPVS exists only
// on Linux.
func OpenControl(netnsPath string) (*Control, error) {
	return nil, fmt.Errorf("%w: not linux", ErrUnavailable)
}
