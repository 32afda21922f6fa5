package healthcheck

import (
	"math"
	"strconv"
)

// State is the health of a check as seen through its rise/fall hysteresis.
type State int

// State values. A check starts Unknown and leaves it at its first result.
const (
	Unknown State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Unknown:
		return "unknown"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Hysteresis turns a sequence of probe results into a state. It is the only
// place where results are counted: checkers report each result, nothing more.
//
// From Unknown, the first result decides (Up on a success, Down on a
// failure; but see ObserveTimeout). Then an Up check goes Down after Fall failures in a row, and a
// Down check goes Up after Rise successes in a row. Rise and Fall below 1
// count as 1.
//
// The zero value (with Rise and Fall set) is ready to use. A Hysteresis is a
// plain value with no locking: one goroutine at a time.
type Hysteresis struct {
	Rise, Fall int

	state     State
	successes int32 // in a row, including the current one (at most MaxInt32)
	failures  int32
}

// inc counts one more in n, up to math.MaxInt32.
func inc(n *int32) {
	if *n < math.MaxInt32 {
		*n++
	}
}

// Observe records one result and returns the state after it, and whether
// that state differs from the one before.
func (h *Hysteresis) Observe(ok bool) (state State, changed bool) {
	before := h.state
	if ok {
		inc(&h.successes)
		h.failures = 0
	} else {
		inc(&h.failures)
		h.successes = 0
	}
	switch {
	case h.state == Unknown && ok:
		h.state = Up
	case h.state == Unknown:
		h.state = Down
	case h.state == Up && int(h.failures) >= max(h.Fall, 1):
		h.state = Down
	case h.state == Down && int(h.successes) >= max(h.Rise, 1):
		h.state = Up
	}
	return h.state, h.state != before
}

// ObserveTimeout records a failure that may not be the server's: a probe
// that timed out. From Unknown it decides Down only after Fall of them in
// a row, as from Up, where a failure of any other kind decides at once:
// a check that has just started (tandem's start, or a reload that made it
// anew) has no verdict to keep while the checker's overload is still
// being recognised, and one timeout would take out a real server the
// table already holds. Elsewhere it is Observe(false).
func (h *Hysteresis) ObserveTimeout() (state State, changed bool) {
	if h.state == Unknown && int(h.failures)+1 < max(h.Fall, 1) {
		inc(&h.failures)
		h.successes = 0
		return h.state, false
	}
	return h.Observe(false)
}

// State returns the current state.
func (h *Hysteresis) State() State { return h.state }

// Successes returns the number of successes in a row, 0 after a failure.
func (h *Hysteresis) Successes() int { return int(h.successes) }

// Failures returns the number of failures in a row, 0 after a success.
func (h *Hysteresis) Failures() int { return int(h.failures) }
