package healthcheck

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestProbeReuse checks, for each kind of probe on the poller, that a
// probe used again once it has ended is out of reach of its earlier use:
// neither that use's handle (an abort that comes late, as the Manager's
// stop may) nor its deadline, still in the poller's heap, ends the next
// use.
func TestProbeReuse(t *testing.T) {
	answers := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").Target
	ln := listen(t)
	acceptAndClose(ln)
	up := addrOf(ln)
	// A full accept queue drops SYNs: a connect, or a half-open probe,
	// waits for its deadline.
	quiet, _ := fullListener(t)
	http := func(target netip.AddrPort) asyncChecker {
		c, err := newHTTPChecker(Spec{Kind: KindHTTP, Target: target, Timeout: time.Minute}.Normalize(), func() bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		return c.(*httpRawChecker)
	}
	tcp := func(half bool) func(netip.AddrPort) asyncChecker {
		return func(target netip.AddrPort) asyncChecker {
			return newTCPChecker(Spec{Kind: KindTCP, HalfOpen: half, Target: target, Timeout: time.Minute}.Normalize())
		}
	}
	for _, k := range []struct {
		name string
		up   netip.AddrPort
		make func(netip.AddrPort) asyncChecker
	}{
		{"tcp", up, tcp(false)},
		{"http", answers, http},
		{"half-open", up, tcp(true)},
	} {
		t.Run(k.name, func(t *testing.T) {
			if k.name == "half-open" {
				needRaw(t)
			}
			p, err := startPoller()
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			a, b := k.make(k.up), k.make(quiet)
			resA := make(chan error, 1)
			var first probeHandle
			for range 20 { // a tcp connect may complete at once: no probe held
				if first = a.start(p, time.Now().Add(300*time.Millisecond), func(err error) { resA <- err }); first.pr != nil {
					break
				}
				<-resA
			}
			if first.pr == nil {
				t.Skip("every connect completed at once")
			}
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
				t.Fatalf("the first use's abort, or its deadline, ended the next: %v", err)
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
		})
	}
}

// TestProbeReuseChurn starts, aborts and times out probes of every kind
// on one poller from many goroutines at once, each abort through a handle
// that may be stale by then: every probe's done runs exactly once, and
// the race detector (go test -race) sees the reuse.
func TestProbeReuseChurn(t *testing.T) {
	answers := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").Target
	ln := listen(t)
	acceptAndClose(ln)
	quiet, _ := fullListener(t)
	p, err := startPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	var checkers []asyncChecker
	for _, target := range []netip.AddrPort{addrOf(ln), quiet} {
		checkers = append(checkers, newTCPChecker(Spec{Kind: KindTCP, Target: target, Timeout: time.Second}.Normalize()))
		if os.Geteuid() == 0 {
			checkers = append(checkers, newTCPChecker(Spec{Kind: KindTCP, HalfOpen: true, Target: target, Timeout: time.Second}.Normalize()))
		}
	}
	for _, target := range []netip.AddrPort{answers, quiet} {
		c, err := newHTTPChecker(Spec{Kind: KindHTTP, Target: target, Timeout: time.Second}.Normalize(), func() bool { return true })
		if err != nil {
			t.Fatal(err)
		}
		checkers = append(checkers, c.(*httpRawChecker))
	}
	const workers, rounds = 16, 60
	var wg sync.WaitGroup
	var stale probeHandle // a handle of some earlier use, shared
	var staleMu sync.Mutex
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				c := checkers[rng.IntN(len(checkers))]
				var calls atomic.Int32
				done := make(chan struct{})
				h := c.start(p, time.Now().Add(time.Duration(rng.IntN(30))*time.Millisecond), func(error) {
					if calls.Add(1) == 1 {
						close(done)
					}
				})
				staleMu.Lock()
				old := stale
				stale = h
				staleMu.Unlock()
				old.abort() // most often a use that has ended
				if rng.IntN(2) == 0 {
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
					h.abort()
				}
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Error("a probe's done never ran")
					return
				}
				time.Sleep(time.Millisecond) // a second done would come by now
				if n := calls.Load(); n != 1 {
					t.Errorf("a probe's done ran %d times", n)
				}
			}
		}()
	}
	wg.Wait()
}
