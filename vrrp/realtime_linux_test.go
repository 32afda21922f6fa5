package vrrp

import "testing"

func TestSetRealtimeRange(t *testing.T) {
	for _, prio := range []int{-1, 0, 100} {
		if err := SetRealtime(prio); err == nil {
			t.Errorf("SetRealtime(%d): no error", prio)
		}
	}
}
