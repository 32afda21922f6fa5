package vrrp

import (
	"testing"
	"time"
)

// Ping is answered by a turning loop and left unanswered by a frozen
// one, and never blocks its caller.
func TestRunnerPing(t *testing.T) {
	r, _, _, _, _ := newTestRunner(t, fastInstance("public", 51, "eth0", "192.0.2.1", rtVIP1))
	if !r.LastPing().IsZero() {
		t.Fatal("answered before any ping")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	before := time.Now()
	r.Ping()
	waitFor(t, "ping answered", func() bool { return !r.LastPing().Before(before) })

	release := make(chan struct{})
	r.Freeze(release)
	time.Sleep(20 * time.Millisecond)
	frozen := time.Now()
	for range 1000 { // more than the queue holds: Ping must not block
		r.Ping()
	}
	time.Sleep(50 * time.Millisecond)
	if r.LastPing().After(frozen) {
		t.Fatal("a frozen loop answered a ping")
	}
	close(release)
	r.Ping()
	waitFor(t, "ping answered after the thaw", func() bool { return r.LastPing().After(frozen) })
}
