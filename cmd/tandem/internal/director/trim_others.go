//go:build !linux

package director

// dropExecutablePages does nothing off Linux.
func dropExecutablePages() (int64, error) { return 0, nil }
