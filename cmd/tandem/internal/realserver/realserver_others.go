//go:build !linux

package realserver

import "errors"

func newRSHost() (rsHost, error) {
	return nil, errors.New("tandem realserver runs on Linux only")
}
