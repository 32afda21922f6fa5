//go:build !linux

package healthcheck

// The probe poller is Linux's (poller_linux.go): elsewhere tcp and http
// probes run through net's dialer and net/http, and a Manager has no
// poller.
type connectPoller struct{}

// pollProbe is a probe on the poller: none here.
type pollProbe struct{}

func (probeHandle) abort() {}

// startPoller returns no poller, and no error: there is none to miss.
func startPoller() (*connectPoller, error) { return nil, nil }

func (*connectPoller) close() {}

func sharedPollerOK() bool { return false }
