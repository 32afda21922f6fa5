package healthcheck

import (
	"context"
	"fmt"
	"net"
	"time"
)

// A Checker runs one probe. Check returns nil when the target is healthy and
// an error saying what failed otherwise; it returns once ctx is done at the
// latest (the Manager gives each probe a context with the Spec's Timeout).
// String names the probe in logs.
//
// A Checker holds no result state: counting results is Hysteresis's job.
// The Manager calls Check from one goroutine at a time, but Checkers built
// by NewChecker are safe for concurrent use.
type Checker interface {
	Check(ctx context.Context) error
	String() string
}

// asyncChecker is a Checker whose probes need no goroutine of their own
// (tcp and http on Linux, see poller_linux.go). start begins one probe on
// the poller p (its Manager's; nil: none runs, the checker does without
// if it can) that ends by deadline and calls done exactly once with its
// result: before start returns when the probe ended at once (start then
// returns nil), later otherwise, from another goroutine. The handle aborts
// the probe: done is then called with an error, at once, unless the probe
// has ended.
//
// timers returns where the check's probe times are kept: p's own timers,
// so that its probes start on the poller's goroutine, many per wake-up,
// with no goroutine or runtime timer per probe; nil for the runtime's
// timers (a goroutine per probe start).
type asyncChecker interface {
	Checker
	start(p *connectPoller, deadline time.Time, done func(error)) probeHandle
	timers(p *connectPoller) probeTimers
}

// probeTimers runs functions at given times on one goroutine of its own
// (the probe poller's, see poller_linux.go).
type probeTimers interface {
	// arm (re)schedules t to run its f once, at or soon after at.
	arm(t *probeTimer, at time.Time)
	// disarm unschedules t. An f already due may still run once: f
	// checks whether it is still wanted.
	disarm(t *probeTimer)
}

// probeTimer is one function run by a probeTimers.
type probeTimer struct {
	when int64 // its time, in the timers' own clock (see connectPoller.arm)
	idx  int   // in the timers' heap; -1 when not armed
	f    func()
}

// idleCloser is a Checker that keeps a connection between probes (see
// Spec.Reuse): the Manager calls closeIdle when it stops the check, and
// the checker keeps none after.
type idleCloser interface{ closeIdle() }

// probeHandle names one use of a probe in flight, and aborts it (see
// asyncChecker); the zero handle, none. Probes are used again once they
// end (see connectPoller.get), gen telling their uses apart: a handle
// kept past its probe's end reaches nothing.
type probeHandle struct {
	pr  *pollProbe
	gen uint32
}

// NewChecker builds the Checker for s (normalised). It fails on an invalid
// Spec (see Spec.Validate) or an unreadable CA file.
//
// Its Check runs tcp and http probes on the package's shared poller (see
// poller_linux.go); a Manager builds its checks' checkers for its own.
func NewChecker(s Spec) (Checker, error) { return newChecker(s, sharedPollerOK) }

// newChecker is NewChecker for checkers whose probes run on a poller if
// polled (called only for those that can) says there is one.
func newChecker(s Spec, polled func() bool) (Checker, error) {
	s = s.Normalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	switch s.Kind {
	case KindTCP:
		return newTCPChecker(s), nil
	case KindHTTP, KindHTTPS:
		return newHTTPChecker(s, polled)
	case KindCommand:
		return newCommandChecker(s), nil
	}
	return nil, fmt.Errorf("unknown check kind %q", s.Kind)
}

// brokenChecker stands for a Spec that NewChecker refused: every probe
// fails with the reason, so the check shows Down with it in its status.
type brokenChecker struct {
	name string
	err  error
}

func (c brokenChecker) Check(context.Context) error { return c.err }
func (c brokenChecker) String() string              { return c.name }

// dialer returns the dialer of a network probe: bound to s.Source when set.
// The timeout comes from the probe's context.
func dialer(s Spec) *net.Dialer {
	d := &net.Dialer{KeepAlive: -1}
	if s.Source.IsValid() {
		d.LocalAddr = &net.TCPAddr{IP: s.Source.AsSlice(), Zone: s.Source.Zone()}
	}
	return d
}

// deadline is a fallback for a context without one.
func deadline(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, timeout)
}
