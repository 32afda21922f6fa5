//go:build !linux

package director

import "errors"

func heldAddrs6() ([]heldAddr, error) { return nil, errors.New("not on Linux") }
