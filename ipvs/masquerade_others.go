//go:build !linux

package ipvs

import (
	"errors"
	"net/netip"
)

// ApplyMasquerade needs Linux nftables; elsewhere it succeeds only for an
// empty list.
func ApplyMasquerade(prefixes []netip.Prefix) ([]string, error) {
	if len(prefixes) == 0 {
		return nil, nil
	}
	return nil, errors.New("ipvs: masquerade needs linux nftables")
}

// RemoveMasquerade does nothing outside Linux.
func RemoveMasquerade() error { return nil }
