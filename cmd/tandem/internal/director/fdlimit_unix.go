//go:build unix

package director

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// fdHeadroom is the descriptors kept for all but the checks: netlink and
// VRRP sockets, the status socket, files.
const fdHeadroom = 1024

// raiseFileLimit makes room for checks checks in the process's open files
// limit: a probe holds a socket while it runs, and an http check that
// reuses its connection holds one between probes. Go raises the soft limit
// to the hard one at start; the default hard limit (4096 outside systemd)
// is below what 10 000 checks need, so tandem raises both as root can, as
// keepalived does for its checkers. Failing that, it warns.
func raiseFileLimit(checks int, log *slog.Logger) {
	want := uint64(checks) + fdHeadroom
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur >= want {
		return
	}
	raised := unix.Rlimit{Cur: want, Max: max(lim.Max, want)}
	err := unix.Setrlimit(unix.RLIMIT_NOFILE, &raised)
	if err != nil && lim.Cur < lim.Max {
		// No CAP_SYS_RESOURCE: the soft limit up to the hard one.
		raised = unix.Rlimit{Cur: lim.Max, Max: lim.Max}
		if unix.Setrlimit(unix.RLIMIT_NOFILE, &raised) != nil {
			raised = lim
		}
	}
	if err != nil {
		log.Warn("open files limit too low for the checks; probes may fail with \"too many open files\"",
			"checks", checks, "limit", raised.Cur, "want", want, "err", err)
		return
	}
	log.Info("raised the open files limit for the checks", "checks", checks, "from", lim.Cur, "to", want)
}
