package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
)

// ErrUnavailable is wrapped by the errors of [Open] when the kernel offers no
// IPVS (module not loaded, not Linux) or refuses this process (not root).
var ErrUnavailable = errors.New("ipvs: kernel IPVS unavailable (is the ip_vs module loaded? are you root?)")

// ErrClosed is returned by the methods of a closed [Reconciler].
var ErrClosed = errors.New("ipvs: reconciler closed")

// OpError is the error of one kernel operation, naming the operation and the
// service and destination it was about. Err is usually a syscall.Errno from
// the kernel; use errors.Is to test it.
type OpError struct {
	Op      string          // "add service", "delete destination", "dump", ...
	Service ServiceKey      // zero for operations on the whole table
	Dest    *netip.AddrPort // nil unless the operation is on a destination
	Err     error
}

var _ error = &OpError{}

// newOpError wraps err as the error of op, adding a hint for errors whose
// bare errno misleads. It returns nil for a nil err.
func newOpError(op Op, err error) error {
	if err == nil {
		return nil
	}
	if (op.Kind == AddService || op.Kind == UpdateService) && errors.Is(err, syscall.ENOENT) {
		s := op.Service
		hint := fmt.Sprintf("scheduler %q not available (modprobe %s)", s.Scheduler, SchedulerModule(s.Scheduler))
		if s.PEName != "" {
			hint = fmt.Sprintf("scheduler %q or persistence engine %q not available (modprobe %s ip_vs_pe_%s)",
				s.Scheduler, s.PEName, SchedulerModule(s.Scheduler), s.PEName)
		}
		err = fmt.Errorf("%s: %w", hint, err)
	}
	e := &OpError{Op: op.Kind.String(), Service: op.Service.Key, Err: err}
	if op.IsDest() {
		ap := op.Dest.AddrPort()
		e.Dest = &ap
	}
	return e
}

// Error returns e.g. "ipvs: add destination 192.168.100.11:80 to TCP
// 203.0.113.10:80: file exists".
func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("ipvs: ")
	b.WriteString(e.Op)
	if e.Dest != nil {
		prep := "in"
		switch {
		case strings.HasPrefix(e.Op, "add"):
			prep = "to"
		case strings.HasPrefix(e.Op, "del"):
			prep = "from"
		}
		fmt.Fprintf(&b, " %s %s", e.Dest, prep)
	}
	if e.Service != (ServiceKey{}) {
		b.WriteString(" ")
		b.WriteString(e.Service.String())
	}
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString("<nil>")
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }
