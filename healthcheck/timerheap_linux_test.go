//go:build linux

package healthcheck

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTimerHeap drives the poller's timer heap with random pushes,
// re-arms, removals and pops, checking its order and each timer's index
// against a plain list.
func TestTimerHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h timerHeap
	var armed []*probeTimer
	check := func(step int) {
		t.Helper()
		if len(h) != len(armed) {
			t.Fatalf("step %d: %d timers in the heap, want %d", step, len(h), len(armed))
		}
		for i, tm := range h {
			if tm.idx != i {
				t.Fatalf("step %d: timer at %d says idx %d", step, i, tm.idx)
			}
			if i > 0 && h[(i-1)/2].when > tm.when {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
	}
	for step := range 5000 {
		switch op := r.IntN(4); {
		case op == 0 || len(armed) == 0:
			tm := &probeTimer{when: r.Int64N(1000), idx: -1}
			h.push(tm)
			armed = append(armed, tm)
		case op == 1:
			tm := armed[r.IntN(len(armed))]
			tm.when = r.Int64N(1000)
			h.fix(tm.idx)
		case op == 2:
			i := r.IntN(len(armed))
			h.remove(armed[i].idx)
			if armed[i].idx != -1 {
				t.Fatalf("step %d: a removed timer keeps idx %d", step, armed[i].idx)
			}
			armed = slices.Delete(armed, i, i+1)
		default:
			min := slices.MinFunc(armed, func(a, b *probeTimer) int { return int(a.when - b.when) })
			got := h.pop()
			if got.when != min.when || got.idx != -1 {
				t.Fatalf("step %d: pop gave when %d idx %d, want when %d idx -1", step, got.when, got.idx, min.when)
			}
			armed = slices.DeleteFunc(armed, func(x *probeTimer) bool { return x == got })
		}
		check(step)
	}
}
