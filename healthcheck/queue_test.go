package healthcheck

import "testing"

// TestVerdictQueueDedup: a flap that ends where it started while the
// reader lags is dropped, and a check made anew (a new sentState, after
// forget) reports its first result again.
func TestVerdictQueueDedup(t *testing.T) {
	q := newVerdictQueue()
	var s sentState
	next := func() (bool, bool) { v, ok := q.next(); return v.Up, ok }

	q.push(Verdict{ID: "a", Up: true}, &s)
	if up, ok := next(); !ok || !up {
		t.Fatalf("first verdict: up %v, ok %v; want up", up, ok)
	}
	q.push(Verdict{ID: "a", Up: false}, &s)
	q.push(Verdict{ID: "a", Up: true}, &s) // the reader lagged: back where it was
	if up, ok := next(); ok {
		t.Fatalf("a flap back to the verdict sent was delivered (up %v)", up)
	}
	q.push(Verdict{ID: "a", Up: false}, &s)
	if up, ok := next(); !ok || up {
		t.Fatalf("a change: up %v, ok %v; want down", up, ok)
	}

	q.forget([]ID{"a"})
	var s2 sentState // the check made again with the same ID
	q.push(Verdict{ID: "a", Up: false}, &s2)
	if up, ok := next(); !ok || up {
		t.Fatalf("first verdict of the new check: up %v, ok %v; want down", up, ok)
	}
}
