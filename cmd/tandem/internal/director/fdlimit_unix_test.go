//go:build unix

package director

import (
	"io"
	"log/slog"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRaiseFileLimit checks that the open files limit is raised to make
// room for the checks, the hard limit too where the process may, and
// never lowered.
func TestRaiseFileLimit(t *testing.T) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &orig) })
	if orig.Max < 2*fdHeadroom+100 {
		t.Skipf("hard limit %d too low to test", orig.Max)
	}
	get := func() unix.Rlimit {
		var l unix.Rlimit
		unix.Getrlimit(unix.RLIMIT_NOFILE, &l)
		return l
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// Under the hard limit: the soft one rises.
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: fdHeadroom, Max: orig.Max}); err != nil {
		t.Fatal(err)
	}
	checks := int(orig.Max) - fdHeadroom - 50
	raiseFileLimit(checks, log)
	if got := get(); got.Cur != uint64(checks+fdHeadroom) || got.Max != orig.Max {
		t.Errorf("limit %d/%d after %d checks, want %d/%d", got.Cur, got.Max, checks, checks+fdHeadroom, orig.Max)
	}
	raiseFileLimit(10, log)
	if got := get(); got.Cur != uint64(checks+fdHeadroom) {
		t.Errorf("limit lowered to %d for 10 checks", got.Cur)
	}

	// Over it: both rise, with CAP_SYS_RESOURCE; without, the soft limit
	// goes up to the hard one.
	over := int(orig.Max) // needs orig.Max+fdHeadroom
	raiseFileLimit(over, log)
	got := get()
	probe := unix.Rlimit{Cur: got.Cur, Max: got.Max + 1}
	mayRaise := unix.Setrlimit(unix.RLIMIT_NOFILE, &probe) == nil
	switch want := uint64(over + fdHeadroom); {
	case got.Cur == want && got.Max == want:
	case !mayRaise && got.Cur == orig.Max && got.Max == orig.Max:
		t.Logf("no CAP_SYS_RESOURCE: soft limit raised to the hard one, %d", got.Cur)
	default:
		t.Errorf("limit %d/%d after %d checks over the hard limit %d (may raise it: %t)", got.Cur, got.Max, over, orig.Max, mayRaise)
	}
}
