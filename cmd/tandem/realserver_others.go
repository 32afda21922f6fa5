//go:build !linux

package main

import "errors"

func newRSHost() (rsHost, error) {
	return nil, errors.New("tandem realserver runs on Linux only")
}
