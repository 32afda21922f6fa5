package ipvs

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// syncControl opens a Control in a throwaway network namespace with a
// dummy interface sync0 for the daemons, closed at the test's end.
func syncControl(t *testing.T) *Control {
	var ctl *Control
	inNewNetns(t, func() error {
		err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "sync0", MTU: 1500}})
		if err != nil {
			return fmt.Errorf("dummy interface: %w", err)
		}
		l, err := netlink.LinkByName("sync0")
		if err == nil {
			err = netlink.LinkSetUp(l)
		}
		if err != nil {
			return fmt.Errorf("dummy interface: %w", err)
		}
		ctl, err = OpenControl("")
		return err
	})
	t.Cleanup(func() { ctl.Close() })
	return ctl
}

// TestKernelControl starts, reads back and stops sync daemons and sets the
// timeouts on the real kernel, in a throwaway network namespace with a
// dummy interface for the daemons. It needs root, ip_vs and dummy; the
// lab VM has them.
func TestKernelControl(t *testing.T) {
	ctl := syncControl(t)

	backup := Daemon{State: DaemonBackup, Interface: "sync0", SyncID: 42}
	master := Daemon{State: DaemonMaster, Interface: "sync0", SyncID: 42}
	ch, err := ctl.SetDaemons([]Daemon{backup, master})
	if err != nil || len(ch) != 2 {
		t.Fatalf("start both: %v, %v", ch, err)
	}
	ds, err := ctl.Daemons()
	if err != nil || len(ds) != 2 {
		t.Fatalf("Daemons = %v, %v; want master and backup", ds, err)
	}
	for _, d := range ds {
		t.Logf("running: %+v", d)
		if d.Interface != "sync0" || d.SyncID != 42 || d.Port != 8848 {
			t.Errorf("read back %+v", d)
		}
	}
	if ch, err := ctl.SetDaemons([]Daemon{backup, master}); err != nil || len(ch) != 0 {
		t.Errorf("second SetDaemons changed %v, %v", ch, err)
	}
	if err := ctl.StartDaemon(master); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second master: %v, want EEXIST", err)
	}
	if err := ctl.StartDaemon(Daemon{State: DaemonMaster, Interface: "nosuch0"}); err == nil {
		t.Error("a daemon on a missing interface started")
	}
	if ch, err := ctl.SetDaemons([]Daemon{backup}, DaemonMaster); err != nil || len(ch) != 1 {
		t.Errorf("stop master: %v, %v", ch, err)
	}
	if ds, err := ctl.Daemons(); err != nil || len(ds) != 1 || ds[0].State != DaemonBackup {
		t.Errorf("after stopping the master: %v, %v", ds, err)
	}
	if err := ctl.StopDaemon(DaemonMaster); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stop a stopped master: %v, want ESRCH", err)
	}
	if err := ctl.StopDaemon(DaemonBackup); err != nil {
		t.Error(err)
	}

	before, err := ctl.Timeouts()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kernel timeouts: %v", before)
	want := Timeouts{TCP: 2 * time.Hour, UDP: 45 * time.Second}
	if _, changed, err := ctl.SetTimeouts(want); err != nil || !changed {
		t.Fatalf("SetTimeouts: %v, %v", changed, err)
	}
	got, err := ctl.Timeouts()
	if err != nil || got != (Timeouts{TCP: 2 * time.Hour, TCPFin: before.TCPFin, UDP: 45 * time.Second}) {
		t.Errorf("after SetTimeouts: %v, %v (tcp_fin must stay %v)", got, err, before.TCPFin)
	}
	if _, changed, err := ctl.SetTimeouts(want); err != nil || changed {
		t.Errorf("second SetTimeouts: changed %v, %v", changed, err)
	}
}

// TestKernelDaemonStartStop stops the master sync daemon right after
// starting it, over and over: when the kernel stops a master thread that
// has not run yet it sends no ack (stop_sync_thread returns -EINTR, which
// netlink never acks). Each stop must still succeed, without waiting the
// socket's 30 s receive timeout. The lab's soak found the frozen wait.
func TestKernelDaemonStartStop(t *testing.T) {
	ctl := syncControl(t)
	master := Daemon{State: DaemonMaster, Interface: "sync0", SyncID: 42}
	var slow int
	var longest time.Duration
	for i := range 20 {
		if err := ctl.StartDaemon(master); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		start := time.Now()
		if err := ctl.StopDaemon(DaemonMaster); err != nil {
			t.Fatalf("stop %d right after its start: %v", i, err)
		}
		d := time.Since(start)
		longest = max(longest, d)
		if d >= delAckWait {
			slow++ // the unacked stop, confirmed by a list
		}
	}
	t.Logf("20 stops right after a start: %d unacked (each confirmed by a list), longest %v", slow, longest)
	if ds, err := ctl.Daemons(); err != nil || len(ds) != 0 {
		t.Errorf("daemons left: %v, %v", ds, err)
	}
}
