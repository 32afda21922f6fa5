package director

import (
	"sync"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// The connection-sync wiring (director.conn_sync) and the IPVS timeouts
// (director.timeouts).
//
// Roles, as keepalived's lvs_sync_daemon does: every director runs the
// kernel's backup sync daemon all the time, and the master daemon too
// while the conn_sync instance is MASTER on it. So the backup director
// receives the connections of the master from the moment it starts, and
// after a takeover it already holds the entries of the connections it
// now forwards; the old master, back as backup, receives the new master's.
// A master receives nothing from itself (the kernel turns multicast loop
// off on the sending socket). The daemons follow every VRRP transition of
// the instance (onTransition), and are checked again at every load and
// resync, which also retries a failed start (a sync interface not up yet).
//
// On exit tandem stops the master daemon (the VIPs are gone) and leaves
// the backup running, like the IPVS table: a restarted tandem finds the
// connections synced meanwhile. Without conn_sync in the file tandem
// leaves any sync daemon alone (ipvsadm --start-daemon by hand); a reload
// that removes conn_sync stops the daemons tandem ran.

// syncControl is the part of *ipvs.Control the wiring uses.
type syncControl interface {
	SetDaemons(want []ipvs.Daemon, owned ...ipvs.DaemonState) ([]string, error)
	SetTimeouts(t ipvs.Timeouts) (old ipvs.Timeouts, changed bool, err error)
	Close() error
}

// connSync is the daemon's sync state. Its methods lock: transitions may
// still arrive from the VRRP runner while the main loop shuts down.
type connSync struct {
	mu       sync.Mutex
	ctl      syncControl // nil with --no-ipvs
	cfg      *conf.ConnSync
	timeouts ipvs.Timeouts // the file's; zero fields are left alone
	// owned is set once tandem has run daemons under a conn_sync block, so
	// that a reload without one stops them.
	owned bool
	// states holds the last state of each VRRP instance.
	states map[string]vrrp.State
	// closed is set on exit: the master daemon is stopped and nothing
	// more is written.
	closed bool
}

// wantDaemons are the sync daemons of a director whose conn_sync instance
// is master (or not): the backup always, the master too while master. It
// is a pure function; nil cs wants none.
func wantDaemons(cs *conf.ConnSync, master bool) []ipvs.Daemon {
	if cs == nil {
		return nil
	}
	d := ipvs.Daemon{State: ipvs.DaemonBackup, Interface: cs.Interface, SyncID: cs.SyncID, Group: cs.Group, Port: cs.Port, TTL: cs.TTL}
	want := []ipvs.Daemon{d}
	if master {
		d.State = ipvs.DaemonMaster
		want = append(want, d)
	}
	return want
}

// ipvsTimeouts converts the file's timeouts.
func ipvsTimeouts(t conf.Timeouts) ipvs.Timeouts {
	return ipvs.Timeouts{TCP: t.TCP, TCPFin: t.TCPFin, UDP: t.UDP}
}

// newConnSync returns the sync state before any config.
func newConnSync() *connSync {
	return &connSync{states: map[string]vrrp.State{}}
}

// adoptSync makes the timeouts and the conn_sync block of c the running
// ones and applies them (at start and on reload).
func (d *Director) adoptSync(c *conf.Cluster) {
	s := d.sync
	s.mu.Lock()
	s.cfg = c.Director.ConnSync
	s.timeouts = ipvsTimeouts(c.Director.Timeouts)
	s.mu.Unlock()
	d.resyncSync()
}

// resyncSync applies the running timeouts and sync daemons again,
// repairing drift and retrying what failed.
func (d *Director) resyncSync() {
	s := d.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctl == nil || s.closed {
		return
	}
	if t := s.timeouts; t != (ipvs.Timeouts{}) {
		old, changed, err := s.ctl.SetTimeouts(t)
		switch {
		case err != nil:
			d.log.Error("ipvs timeouts not set (retried at the next resync)", "err", err)
		case changed:
			d.log.Info("ipvs timeouts set", "tcp", t.TCP, "tcp_fin", t.TCPFin, "udp", t.UDP, "was", old.String())
		}
	}
	d.setDaemons(s)
}

// setDaemons makes the kernel's sync daemons those s wants; s is locked.
func (d *Director) setDaemons(s *connSync) {
	if s.ctl == nil || (s.cfg == nil && !s.owned) {
		return
	}
	// Without a VRRP instance (a BGP cluster) every director is active:
	// it runs the master daemon all the time.
	master := s.cfg != nil && !s.closed && (s.cfg.VRRP == "" || s.states[s.cfg.VRRP] == vrrp.Master)
	want := wantDaemons(s.cfg, master)
	changed, err := s.ctl.SetDaemons(want, ipvs.DaemonMaster, ipvs.DaemonBackup)
	for _, ch := range changed {
		d.log.Info("ipvs sync daemon", "changed", ch)
	}
	if err != nil {
		d.log.Error("ipvs sync daemons not set (retried at the next resync)", "err", err)
		return
	}
	s.owned = s.cfg != nil
}

// onTransition is where the daemon acts on a VRRP state change beyond
// logging it: the IPVS connection-sync daemons' roles follow the conn_sync
// instance.
func (d *Director) onTransition(inst string, from, to vrrp.State) {
	s := d.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[inst] = to
	if s.cfg == nil || s.cfg.VRRP != inst || s.closed {
		return
	}
	d.setDaemons(s)
}

// closeSync, on exit, stops the master sync daemon, leaves the backup
// running and closes the handle.
func (d *Director) closeSync() {
	s := d.sync
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctl == nil || s.closed {
		return
	}
	s.closed = true
	// A BGP director leaves both daemons running: its table and its VIPs
	// stay, and the kernel forwards (and syncs) on without tandem.
	if s.cfg != nil && s.cfg.VRRP != "" {
		changed, err := s.ctl.SetDaemons(wantDaemons(s.cfg, false), ipvs.DaemonMaster)
		for _, ch := range changed {
			d.log.Info("ipvs sync daemon", "changed", ch)
		}
		if err != nil {
			d.log.Error("ipvs sync master not stopped", "err", err)
		}
	}
	s.ctl.Close()
}
