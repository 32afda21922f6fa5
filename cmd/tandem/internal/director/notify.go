package director

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// The systemd side (Config.Notify, Config.Watchdog): the states of
// sd_notify(3), sent from the main loop.
//
//   - READY=1 once the start is complete: the first IPVS apply done, the
//     VRRP instances and the checks running; with STATUS=, a one-line
//     summary, sent again whenever it changes.
//   - RELOADING=1 with MONOTONIC_USEC= when a reload begins (systemd 253's
//     Type=notify-reload; harmless before), READY=1 when it is over,
//     applied or rejected.
//   - STOPPING=1 when the loop ends.
//   - WATCHDOG=1 every half watchdog period, from the loop itself, and
//     only while the VRRP runner answers its pings: a main loop that no
//     longer turns, or a stalled runner, stops the pings and systemd
//     restarts tandem.

// notify sends a state, when the binary asked for them.
func (d *Director) notify(state string) {
	if d.cfg.Notify != nil {
		d.cfg.Notify(state)
	}
}

// summary is the STATUS= line: the VRRP states and the real servers in
// service, e.g. "MASTER public,gateway; 2/2 real servers up".
func summary(s *Snapshot) string {
	byState := map[string][]string{}
	var states []string
	for _, in := range s.VRRP {
		if _, ok := byState[in.State]; !ok {
			states = append(states, in.State)
		}
		byState[in.State] = append(byState[in.State], in.Name)
	}
	var parts []string
	for _, st := range states {
		parts = append(parts, st+" "+strings.Join(byState[st], ","))
	}
	up, all, down := 0, 0, 0
	for _, sh := range s.Services {
		for _, r := range sh.RealServers {
			all++
			if (r.State == status.Up || r.State == status.Unchecked) && r.Override == "" {
				up++
			}
		}
		if !sh.Up {
			down++
		}
	}
	if all > 0 || len(s.Services) > 0 {
		p := fmt.Sprintf("%d/%d real servers up", up, all)
		if down > 0 {
			p += fmt.Sprintf(", %d virtual server(s) below quorum", down)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "running"
	}
	return strings.Join(parts, "; ")
}

// noteStatus sends STATUS= when the summary changed (after READY=1).
func (d *Director) noteStatus(s *Snapshot) {
	if d.cfg.Notify == nil || !d.ready {
		return
	}
	if line := summary(s); line != d.status {
		d.status = line
		d.notify("STATUS=" + line)
	}
}

// watchdog runs on the loop every half watchdog period: it sends
// WATCHDOG=1 unless the VRRP runner left the previous ping unanswered
// for that long, then pings it again.
func (d *Director) watchdog(now time.Time) {
	if d.vrrp != nil {
		r := d.vrrp.runner
		if d.pinged == r && !d.pingAt.IsZero() && r.LastPing().Before(d.pingAt) {
			if !d.stalled {
				d.stalled = true
				d.log.Error("vrrp runner stalled: withholding the watchdog pings, systemd will restart tandem",
					"unanswered_for", now.Sub(d.pingAt).Round(time.Millisecond))
			}
			return
		}
		if d.stalled {
			d.stalled = false
			d.log.Info("vrrp runner answers again")
		}
		d.pinged, d.pingAt = r, now
		r.Ping()
	}
	d.notify("WATCHDOG=1")
}

// watchdogTick is the loop's watchdog timer channel (nil: none).
func (d *Director) watchdogTick() (<-chan time.Time, func()) {
	if d.cfg.Watchdog <= 0 || d.cfg.Notify == nil {
		return nil, func() {}
	}
	t := time.NewTicker(max(d.cfg.Watchdog/2, 10*time.Millisecond))
	return t.C, t.Stop
}

// freeze runs the test hook Config.TestFreeze on the loop: "loop" holds
// the main loop, "vrrp" the VRRP runner's, until ctx is done (the
// watchdog tests).
func (d *Director) freeze(ctx context.Context, what string) {
	switch what {
	case "loop":
		d.log.Warn("test hook: the main loop is frozen")
		<-ctx.Done()
	case "vrrp":
		if d.vrrp != nil {
			d.log.Warn("test hook: the vrrp runner is frozen")
			d.vrrp.runner.Freeze(ctx.Done())
		}
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, as RELOADING=1 wants
// it beside.
func monotonicUsec() string {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return "0"
	}
	return strconv.FormatInt(ts.Nano()/1e3, 10)
}
