//go:build !linux

package vrrp

// SetRealtime is not implemented on this system.
func SetRealtime(prio int) error { return errUnimplemented }

// LockMemory is not implemented on this system.
func LockMemory() error { return errUnimplemented }
