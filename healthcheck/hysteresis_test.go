package healthcheck

import (
	"math"
	"strings"
	"testing"
)

func TestHysteresis(t *testing.T) {
	// Results are written as a string: '+' a success, '-' a failure, 't'
	// a timeout (ObserveTimeout). want
	// is the state after each result (U up, D down), with a '*' after a
	// result that changed it.
	tests := []struct {
		name       string
		rise, fall int
		results    string
		want       string
	}{
		{name: "first success is up at once", rise: 3, fall: 3, results: "+", want: "U*"},
		{name: "first failure is down at once", rise: 3, fall: 3, results: "-", want: "D*"},
		{name: "fall 2", rise: 2, fall: 2, results: "+--", want: "U* U D*"},
		{name: "fall 2 interrupted", rise: 2, fall: 2, results: "+-+-+-", want: "U* U U U U U"},
		{name: "rise 2", rise: 2, fall: 2, results: "-++", want: "D* D U*"},
		{name: "rise 3 interrupted", rise: 3, fall: 1, results: "-++-+++", want: "D* D D D D D U*"},
		{name: "rise 1 fall 1 flaps", rise: 1, fall: 1, results: "+-+-", want: "U* D* U* D*"},
		{name: "zero rise and fall count as 1", rise: 0, fall: 0, results: "+-+", want: "U* D* U*"},
		{name: "long failure run stays down", rise: 2, fall: 3, results: "+---------++", want: "U* U U D* D D D D D D D U*"},
		{name: "down then up then down", rise: 2, fall: 2, results: "-++--", want: "D* D U* U D*"},
		{name: "failures before the first success do not count after it", rise: 1, fall: 2, results: "--+-", want: "D* D U* U"},
		{name: "a first timeout waits for fall", rise: 2, fall: 3, results: "ttt", want: "? ? D*"},
		{name: "timeouts then a success", rise: 2, fall: 3, results: "tt+", want: "? ? U*"},
		{name: "a timeout then another failure", rise: 2, fall: 3, results: "t-", want: "? D*"},
		{name: "fall 1: a first timeout decides", rise: 2, fall: 1, results: "t", want: "D*"},
		{name: "timeouts when up count as failures", rise: 2, fall: 2, results: "+tt", want: "U* U D*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Hysteresis{Rise: tt.rise, Fall: tt.fall}
			if h.State() != Unknown {
				t.Fatalf("initial state %v, want unknown", h.State())
			}
			var got []string
			for _, r := range tt.results {
				var state State
				var changed bool
				if r == 't' {
					state, changed = h.ObserveTimeout()
				} else {
					state, changed = h.Observe(r == '+')
				}
				s := map[State]string{Up: "U", Down: "D", Unknown: "?"}[state]
				if changed {
					s += "*"
				}
				got = append(got, s)
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("results %s: got %q, want %q", tt.results, g, tt.want)
			}
		})
	}
}

func TestHysteresisCounters(t *testing.T) {
	h := Hysteresis{Rise: 2, Fall: 2}
	for _, ok := range []bool{true, true, true, false, false} {
		h.Observe(ok)
	}
	if h.Successes() != 0 || h.Failures() != 2 {
		t.Errorf("after +++--: successes %d, failures %d; want 0, 2", h.Successes(), h.Failures())
	}
	h.Observe(true)
	if h.Successes() != 1 || h.Failures() != 0 {
		t.Errorf("after +++--+: successes %d, failures %d; want 1, 0", h.Successes(), h.Failures())
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{Unknown: "unknown", Up: "up", Down: "down", State(7): "State(7)"} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

// TestHysteresisCountsSaturate: the counts in a row stop at MaxInt32
// rather than wrap to negative (a check that succeeds every 10 ms for
// eight months), and the state stays.
func TestHysteresisCountsSaturate(t *testing.T) {
	h := Hysteresis{Rise: 2, Fall: 2}
	h.Observe(true)
	h.successes = math.MaxInt32 - 1
	for range 3 {
		if s, changed := h.Observe(true); s != Up || changed {
			t.Fatalf("Observe(true) = %v, %v; want up, unchanged", s, changed)
		}
	}
	if h.Successes() != math.MaxInt32 {
		t.Errorf("Successes() = %d, want %d", h.Successes(), math.MaxInt32)
	}
	h.Observe(false)
	h.failures = math.MaxInt32
	if s, _ := h.Observe(false); s != Down || h.Failures() != math.MaxInt32 {
		t.Errorf("after MaxInt32 failures: %v, %d failures", s, h.Failures())
	}
}
