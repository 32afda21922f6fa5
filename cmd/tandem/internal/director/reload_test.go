package director

import "testing"

// TestReloadPercent: a reload raises the GC's goal by at most
// reloadHeadroom over the live heap, never above reloadGCPercent, never
// below the steady setting, and leaves GOGC=off alone.
func TestReloadPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live         uint64
		steady, want int
	}{
		{100 * mb, 20, 64},   // 50 000 checks: +64 MB, not +400 MB
		{10 * mb, 20, 400},   // small: the cap
		{0, 20, 400},         // unknown
		{100 * mb, 100, 100}, // never below the steady goal
		{1 << 40, 20, 20},
		{100 * mb, -1, -1}, // GOGC=off
	} {
		if got := reloadPercent(c.live, c.steady); got != c.want {
			t.Errorf("reloadPercent(%d MB, %d) = %d, want %d", c.live/mb, c.steady, got, c.want)
		}
	}
}
