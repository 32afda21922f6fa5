package director

import (
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
	"github.com/tandem-lb/tandem/vrrp"
)

// fakeSync is a syncControl over a pretend kernel: the running daemons by
// role, and the timeouts.
type fakeSync struct {
	running  map[ipvs.DaemonState]ipvs.Daemon
	timeouts ipvs.Timeouts
	fail     error // returned by SetDaemons when set
	writes   int
	closed   bool
}

func (f *fakeSync) SetDaemons(want []ipvs.Daemon, owned ...ipvs.DaemonState) ([]string, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var have []ipvs.Daemon
	for _, s := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
		if d, ok := f.running[s]; ok {
			have = append(have, d)
		}
	}
	stop, start := ipvs.DiffDaemons(have, want, owned...)
	var ch []string
	for _, s := range stop {
		delete(f.running, s)
		ch = append(ch, "stopped "+s.String())
	}
	for _, d := range start {
		f.running[d.State] = d
		ch = append(ch, "started "+d.String())
	}
	f.writes += len(ch)
	return ch, nil
}

func (f *fakeSync) SetTimeouts(t ipvs.Timeouts) (ipvs.Timeouts, bool, error) {
	old := f.timeouts
	if t.Covers(old) {
		return old, false, nil
	}
	f.timeouts = t
	f.writes++
	return old, true, nil
}

func (f *fakeSync) Close() error { f.closed = true; return nil }

func (f *fakeSync) roles() []string {
	var out []string
	for _, s := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
		if d, ok := f.running[s]; ok {
			out = append(out, d.String())
		}
	}
	return out
}

func syncCluster(cs *conf.ConnSync, t conf.Timeouts) *conf.Cluster {
	return &conf.Cluster{Director: conf.Director{ConnSync: cs, Timeouts: t}}
}

func TestConnSyncRoles(t *testing.T) {
	var logb strings.Builder
	f := &fakeSync{running: map[ipvs.DaemonState]ipvs.Daemon{}}
	d := New(Config{Log: slog.New(slog.NewTextHandler(&logb, nil))})
	d.sync.ctl = f
	cs := &conf.ConnSync{Interface: "eth1", SyncID: 7, VRRP: "public"}
	backup := []string{"backup on eth1 syncid 7"}
	both := []string{"master on eth1 syncid 7", "backup on eth1 syncid 7"}
	step := func(name string, want []string) {
		t.Helper()
		if got := f.roles(); !slices.Equal(got, want) {
			t.Errorf("%s: daemons %q, want %q", name, got, want)
		}
	}

	d.adoptSync(syncCluster(cs, conf.Timeouts{TCP: time.Hour}))
	step("start", backup)
	if f.timeouts.TCP != time.Hour {
		t.Errorf("timeouts %v, want tcp 1h", f.timeouts)
	}
	d.onTransition("public", vrrp.Backup, vrrp.Master)
	step("master", both)
	d.onTransition("other", vrrp.Backup, vrrp.Fault)
	step("another instance's transition", both)
	w := f.writes
	d.resyncSync()
	if f.writes != w {
		t.Errorf("a resync with nothing changed wrote %d", f.writes-w)
	}
	d.onTransition("public", vrrp.Master, vrrp.Backup)
	step("back to backup", backup)
	d.onTransition("public", vrrp.Backup, vrrp.Master)
	step("master again", both)

	// A sync id changed by a reload: both restarted with it.
	cs2 := *cs
	cs2.SyncID = 8
	d.adoptSync(syncCluster(&cs2, conf.Timeouts{}))
	step("new sync id", []string{"master on eth1 syncid 8", "backup on eth1 syncid 8"})

	// A failure is logged and retried at the next resync.
	d.onTransition("public", vrrp.Master, vrrp.Backup)
	f.fail = errors.New("no such device")
	d.onTransition("public", vrrp.Backup, vrrp.Master)
	if !strings.Contains(logb.String(), "no such device") {
		t.Errorf("failure not logged:\n%s", logb.String())
	}
	f.fail = nil
	d.resyncSync()
	step("retried", []string{"master on eth1 syncid 8", "backup on eth1 syncid 8"})

	// Exit: the master stops, the backup stays, nothing more is written.
	d.closeSync()
	step("exit", []string{"backup on eth1 syncid 8"})
	if !f.closed {
		t.Error("handle not closed")
	}
	d.onTransition("public", vrrp.Master, vrrp.Initialize)
	step("a transition after exit", []string{"backup on eth1 syncid 8"})
}

func TestConnSyncOff(t *testing.T) {
	d := New(Config{Log: slog.New(slog.DiscardHandler)})
	foreign := ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "eth9", SyncID: 1}
	f := &fakeSync{running: map[ipvs.DaemonState]ipvs.Daemon{ipvs.DaemonBackup: foreign}}
	d.sync.ctl = f
	d.adoptSync(syncCluster(nil, conf.Timeouts{}))
	d.onTransition("public", vrrp.Backup, vrrp.Master)
	d.closeSync()
	if f.writes != 0 {
		t.Errorf("without conn_sync tandem wrote %d times", f.writes)
	}

	// A reload that removes conn_sync stops the daemons tandem ran.
	d = New(Config{Log: slog.New(slog.DiscardHandler)})
	f = &fakeSync{running: map[ipvs.DaemonState]ipvs.Daemon{}}
	d.sync.ctl = f
	d.adoptSync(syncCluster(&conf.ConnSync{Interface: "eth1", VRRP: "public"}, conf.Timeouts{}))
	d.onTransition("public", vrrp.Backup, vrrp.Master)
	d.adoptSync(syncCluster(nil, conf.Timeouts{}))
	if len(f.running) != 0 {
		t.Errorf("after removing conn_sync: %v", f.roles())
	}
}

func TestWantDaemons(t *testing.T) {
	g := netip.MustParseAddr("239.0.0.81")
	cs := &conf.ConnSync{Interface: "eth1", SyncID: 3, VRRP: "v", Group: g, Port: 8849, TTL: 2}
	got := wantDaemons(cs, true)
	want := []ipvs.Daemon{
		{State: ipvs.DaemonBackup, Interface: "eth1", SyncID: 3, Group: g, Port: 8849, TTL: 2},
		{State: ipvs.DaemonMaster, Interface: "eth1", SyncID: 3, Group: g, Port: 8849, TTL: 2},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b ipvs.Daemon) bool { return a == b })); diff != "" {
		t.Error(diff)
	}
	if got := wantDaemons(cs, false); len(got) != 1 || got[0].State != ipvs.DaemonBackup {
		t.Errorf("backup director: %v", got)
	}
	if wantDaemons(nil, true) != nil {
		t.Error("no conn_sync wants daemons")
	}
}
