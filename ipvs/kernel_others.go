//go:build !linux

package ipvs

import "fmt"

// Open returns an error wrapping [ErrUnavailable]: IPVS exists only on
// Linux. Use [NewReconciler] with a [MemKernel] elsewhere.
func Open(netnsPath string) (*Reconciler, error) {
	return nil, fmt.Errorf("%w: not linux", ErrUnavailable)
}

// OpenWith is [Open] with options; it fails the same way.
func OpenWith(netnsPath string, o Options) (*Reconciler, error) {
	return Open(netnsPath)
}
