package healthcheck

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestProbeReuse checks that a probe used again once it has ended is out
// of reach of its earlier use: neither that use's handle (an abort that
// comes late, as the Manager's stop may) nor its deadline, still in the
// poller's heap, ends the next use.
func TestProbeReuse(t *testing.T) {
	p, err := startPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	answers := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	quiet := listen(t)
	silent(quiet)
	newChecker := func(s Spec) *httpRawChecker {
		c, err := newHTTPChecker(s.Normalize(), func() bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		return c.(*httpRawChecker)
	}
	a := newChecker(Spec{Kind: KindHTTP, Target: answers.Target, Timeout: time.Minute})
	b := newChecker(Spec{Kind: KindHTTP, Target: addrOf(quiet), Timeout: time.Minute})

	resA := make(chan error, 1)
	first := a.start(p, time.Now().Add(300*time.Millisecond), func(err error) { resA <- err })
	if err := <-resA; err != nil {
		t.Fatalf("first use: %v", err)
	}
	resB := make(chan error, 1)
	next := b.start(p, time.Now().Add(time.Minute), func(err error) { resB <- err })
	if next.pr != first.pr || next.gen == first.gen {
		t.Fatalf("the next probe is %p use %d, want %p (the ended one) in a new use, not %d", next.pr, next.gen, first.pr, first.gen)
	}
	first.abort()
	select {
	case err := <-resB:
		t.Fatalf("the first use's abort ended the next: %v", err)
	case <-time.After(600 * time.Millisecond): // past the first use's deadline
	}
	next.abort()
	select {
	case err := <-resB:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("next use aborted: %v, want %v", err, context.Canceled)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the next use's own abort did not end it")
	}
	next.abort() // ended: nothing to do
}
