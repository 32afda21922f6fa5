package ipvs

import (
	"bytes"
	stdcmp "cmp"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vishvananda/netlink/nl"
)

// fakeSync is an nlConn that plays the kernel's sync-daemon and config
// commands: at most one daemon per role, EEXIST/ESRCH like
// start_sync_thread/stop_sync_thread, and the three timeouts.
type fakeSync struct {
	fakeKernel
	daemons  map[DaemonState]Daemon
	timeouts Timeouts
	requests []uint8 // the commands received, in order
	// noDelAck, if set, stops a daemon without acking it, as Linux does
	// when the master thread it stops had not run yet (-EINTR).
	noDelAck bool
}

func newFakeSync() *fakeSync {
	return &fakeSync{
		daemons:  map[DaemonState]Daemon{},
		timeouts: Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second},
	}
}

func (f *fakeSync) Send(b []byte) error {
	msgs, err := splitMessages(b)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if m.typ == genlIDCtrl {
			p := []byte{1, 1, 0, 0}
			p = appendU16(p, ctrlAttrFamilyID, fakeFamily)
			f.reply(genlIDCtrl, 0, m.seq, p)
			continue
		}
		cmd := m.data[0]
		f.requests = append(f.requests, cmd)
		switch cmd {
		case ipvsCmdGetDaemon:
			for _, s := range []DaemonState{DaemonMaster, DaemonBackup} {
				if d, ok := f.daemons[s]; ok {
					f.reply(fakeFamily, nlmFMulti, m.seq, appendDaemon([]byte{cmd, 1, 0, 0}, d, true))
				}
			}
			f.reply(nlmsgDone, nlmFMulti, m.seq, []byte{0, 0, 0, 0})
		case ipvsCmdNewDaemon:
			d, err := parseDaemon(m.data)
			switch _, running := f.daemons[d.State]; {
			case err != nil:
			case running:
				err = syscall.EEXIST
			case d.Interface != "eth1":
				err = syscall.ENODEV
			default:
				if d.Port == 0 {
					d.Port = 8848
				}
				f.daemons[d.State] = d
			}
			f.ack(m, err)
		case ipvsCmdDelDaemon:
			d, err := parseDaemon(m.data)
			if _, running := f.daemons[d.State]; err == nil && !running {
				err = syscall.ESRCH
			}
			delete(f.daemons, d.State)
			if f.noDelAck && err == nil {
				continue
			}
			f.ack(m, err)
		case ipvsCmdGetConfig:
			f.reply(fakeFamily, 0, m.seq, appendTimeouts([]byte{ipvsCmdSetConfig, 1, 0, 0}, f.timeouts))
		case ipvsCmdSetConfig:
			t, err := parseTimeouts(m.data)
			if err == nil {
				f.timeouts = Timeouts{
					TCP:    stdcmp.Or(t.TCP, f.timeouts.TCP),
					TCPFin: stdcmp.Or(t.TCPFin, f.timeouts.TCPFin),
					UDP:    stdcmp.Or(t.UDP, f.timeouts.UDP),
				}
			}
			f.ack(m, err)
		default:
			f.ack(m, syscall.EOPNOTSUPP)
		}
	}
	return nil
}

func newFakeControl(t *testing.T) (*fakeSync, *Control) {
	t.Helper()
	f := newFakeSync()
	c := newGenlClient(f, 0, 0)
	if err := c.resolveFamily(); err != nil {
		t.Fatal(err)
	}
	return f, newControl(c)
}

// TestEncodeDaemon checks the daemon nest byte for byte against the same
// attributes built with vishvananda/netlink/nl, in ip_vs.h's types.
func TestEncodeDaemon(t *testing.T) {
	d := Daemon{State: DaemonBackup, Interface: "eth1", SyncID: 7, MaxLen: 1400,
		Group: netip.MustParseAddr("239.1.2.3"), Port: 8849, TTL: 2}
	want := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	want.AddRtAttr(ipvsDaemonAttrState, nl.Uint32Attr(2))
	want.AddRtAttr(ipvsDaemonAttrMcastIfn, nl.ZeroTerminated("eth1"))
	want.AddRtAttr(ipvsDaemonAttrSyncID, nl.Uint32Attr(7))
	want.AddRtAttr(ipvsDaemonAttrSyncMaxLen, nl.Uint16Attr(1400))
	want.AddRtAttr(ipvsDaemonAttrMcastGroup, []byte{239, 1, 2, 3})
	want.AddRtAttr(ipvsDaemonAttrMcastPort, nl.Uint16Attr(8849))
	want.AddRtAttr(ipvsDaemonAttrMcastTTL, []byte{2})
	if got := appendDaemon(nil, d, true); !bytes.Equal(got, want.Serialize()) {
		t.Errorf("daemon:\n got % x\nwant % x", got, want.Serialize())
	}
	del := nl.NewRtAttr(ipvsCmdAttrDaemon, nil)
	del.AddRtAttr(ipvsDaemonAttrState, nl.Uint32Attr(1))
	if got := appendDaemon(nil, Daemon{State: DaemonMaster, Interface: "x"}, false); !bytes.Equal(got, del.Serialize()) {
		t.Errorf("delete:\n got % x\nwant % x", got, del.Serialize())
	}
	// Round trip, also without the optional attributes and with IPv6.
	for _, d := range []Daemon{d, {State: DaemonMaster, Interface: "bond0.12", SyncID: 255},
		{State: DaemonMaster, Interface: "eth0", Group: netip.MustParseAddr("ff02::81")}} {
		got, err := parseDaemon(appendDaemon([]byte{ipvsCmdNewDaemon, 1, 0, 0}, d, true))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(d, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestEncodeTimeouts(t *testing.T) {
	b := appendTimeouts([]byte{ipvsCmdSetConfig, 1, 0, 0}, Timeouts{TCP: 3600 * time.Second, UDP: 30 * time.Second})
	want := append([]byte{ipvsCmdSetConfig, 1, 0, 0}, nl.NewRtAttr(ipvsCmdAttrTimeoutTCP, nl.Uint32Attr(3600)).Serialize()...)
	want = append(want, nl.NewRtAttr(ipvsCmdAttrTimeoutUDP, nl.Uint32Attr(30)).Serialize()...)
	if !bytes.Equal(b, want) {
		t.Errorf("got % x\nwant % x", b, want)
	}
	got, err := parseTimeouts(b)
	if err != nil || got != (Timeouts{TCP: time.Hour, UDP: 30 * time.Second}) {
		t.Errorf("parse: %v, %v", got, err)
	}
	for _, bad := range []Timeouts{{TCP: -time.Second}, {UDP: 1500 * time.Millisecond}, {TCPFin: maxTimeout + time.Second}} {
		if bad.Validate() == nil {
			t.Errorf("%v validates", bad)
		}
	}
}

func TestDiffDaemons(t *testing.T) {
	master := Daemon{State: DaemonMaster, Interface: "eth1", SyncID: 3}
	backup := Daemon{State: DaemonBackup, Interface: "eth1", SyncID: 3}
	readBack := func(d Daemon) Daemon { d.Port, d.MaxLen, d.TTL = 8848, 1472, 1; return d }
	other := backup
	other.SyncID = 4
	for _, tc := range []struct {
		name      string
		have      []Daemon
		want      []Daemon
		owned     []DaemonState
		wantStop  []DaemonState
		wantStart []Daemon
	}{
		{name: "fresh backup", want: []Daemon{backup}, wantStart: []Daemon{backup}},
		{name: "both", want: []Daemon{backup, master}, wantStart: []Daemon{master, backup}},
		{name: "read back with defaults matches", have: []Daemon{readBack(master), readBack(backup)}, want: []Daemon{backup, master}},
		{name: "become backup: master owned", have: []Daemon{readBack(master), readBack(backup)}, want: []Daemon{backup},
			owned: []DaemonState{DaemonMaster}, wantStop: []DaemonState{DaemonMaster}},
		{name: "foreign master left", have: []Daemon{master}, want: []Daemon{backup}, wantStart: []Daemon{backup}},
		{name: "changed sync id", have: []Daemon{backup}, want: []Daemon{other},
			wantStop: []DaemonState{DaemonBackup}, wantStart: []Daemon{other}},
		{name: "nothing wanted, all owned", have: []Daemon{master, backup}, owned: []DaemonState{DaemonMaster, DaemonBackup},
			wantStop: []DaemonState{DaemonMaster, DaemonBackup}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop, start := DiffDaemons(tc.have, tc.want, tc.owned...)
			if diff := cmp.Diff(tc.wantStop, stop, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stop (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantStart, start, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("start (-want +got):\n%s", diff)
			}
		})
	}
}

func TestControlDaemons(t *testing.T) {
	f, ctl := newFakeControl(t)
	defer ctl.Close()
	backup := Daemon{State: DaemonBackup, Interface: "eth1", SyncID: 9}
	master := Daemon{State: DaemonMaster, Interface: "eth1", SyncID: 9}
	ch, err := ctl.SetDaemons([]Daemon{backup, master})
	if err != nil || len(ch) != 2 {
		t.Fatalf("SetDaemons: %v, %v", ch, err)
	}
	ds, err := ctl.Daemons()
	if err != nil || len(ds) != 2 || ds[0].State != DaemonMaster || ds[1].Port != 8848 {
		t.Fatalf("Daemons: %v, %v", ds, err)
	}
	// Idempotent: one dump, no write.
	f.requests = nil
	if ch, err := ctl.SetDaemons([]Daemon{backup, master}); err != nil || len(ch) != 0 {
		t.Errorf("second SetDaemons: %v, %v", ch, err)
	}
	if !slices.Equal(f.requests, []uint8{ipvsCmdGetDaemon}) {
		t.Errorf("second SetDaemons sent %v, want one GET_DAEMON", f.requests)
	}
	if ch, err := ctl.SetDaemons([]Daemon{backup}, DaemonMaster); err != nil || !slices.Equal(ch, []string{"stopped master"}) {
		t.Errorf("to backup: %v, %v", ch, err)
	}
	if err := ctl.StartDaemon(backup); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second backup: %v, want EEXIST", err)
	}
	if err := ctl.StopDaemon(DaemonMaster); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stop a stopped master: %v, want ESRCH", err)
	}
	var op *OpError
	if err := ctl.StartDaemon(Daemon{State: DaemonMaster, Interface: "nosuch0"}); !errors.Is(err, syscall.ENODEV) || !errors.As(err, &op) {
		t.Errorf("missing interface: %v, want an OpError with ENODEV", err)
	}
	if err := ctl.StartDaemon(Daemon{State: DaemonMaster, Interface: "a-very-long-ifname"}); err == nil {
		t.Error("an interface name of 18 characters was accepted")
	}
	ctl.Close()
	if _, err := ctl.Daemons(); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestControlTimeouts(t *testing.T) {
	f, ctl := newFakeControl(t)
	defer ctl.Close()
	old, changed, err := ctl.SetTimeouts(Timeouts{TCP: time.Hour})
	if err != nil || !changed || old.TCP != 900*time.Second {
		t.Fatalf("SetTimeouts: %v %v %v", old, changed, err)
	}
	got, err := ctl.Timeouts()
	if want := (Timeouts{TCP: time.Hour, TCPFin: 120 * time.Second, UDP: 300 * time.Second}); err != nil || got != want {
		t.Errorf("Timeouts = %v, %v; want %v", got, err, want)
	}
	f.requests = nil
	if _, changed, err := ctl.SetTimeouts(Timeouts{TCP: time.Hour}); err != nil || changed {
		t.Errorf("second SetTimeouts: changed %v, %v", changed, err)
	}
	if !slices.Equal(f.requests, []uint8{ipvsCmdGetConfig}) {
		t.Errorf("second SetTimeouts sent %v, want one GET_CONFIG", f.requests)
	}
}

// A stop the kernel does not ack (a master thread stopped before it ran:
// stop_sync_thread's -EINTR, which netlink never acks) is a stop all the
// same when the daemon is gone: no error, and no 30 s wait.
func TestControlStopUnacked(t *testing.T) {
	f, ctl := newFakeControl(t)
	defer ctl.Close()
	backup := Daemon{State: DaemonBackup, Interface: "eth1", SyncID: 9}
	master := Daemon{State: DaemonMaster, Interface: "eth1", SyncID: 9}
	if _, err := ctl.SetDaemons([]Daemon{backup, master}); err != nil {
		t.Fatal(err)
	}
	f.noDelAck = true
	ch, err := ctl.SetDaemons([]Daemon{backup}, DaemonMaster)
	if err != nil || !slices.Equal(ch, []string{"stopped master"}) {
		t.Fatalf("stop the master without an ack: %v, %v", ch, err)
	}
	if !slices.Equal(f.requests[len(f.requests)-2:], []uint8{ipvsCmdDelDaemon, ipvsCmdGetDaemon}) {
		t.Errorf("requests %v: want the stop, then a list", f.requests)
	}
	if ds, err := ctl.Daemons(); err != nil || len(ds) != 1 || ds[0].State != DaemonBackup {
		t.Errorf("after the stop: %v, %v", ds, err)
	}
}
