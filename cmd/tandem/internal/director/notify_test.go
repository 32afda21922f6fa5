package director

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/tandem-lb/tandem/conf"
)

// notifyListener is systemd's side of sd_notify: a datagram socket at
// NOTIFY_SOCKET, each datagram one message.
type notifyListener struct {
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	l := &notifyListener{conn: conn, msgs: make(chan string, 1024)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(l.msgs)
				return
			}
			l.msgs <- string(buf[:n])
		}
	}()
	return l
}

// next returns the next message containing want, failing after timeout;
// it returns what it skipped too.
func (l *notifyListener) next(t *testing.T, want string, timeout time.Duration) (string, []string) {
	t.Helper()
	var skipped []string
	deadline := time.After(timeout)
	for {
		select {
		case m := <-l.msgs:
			if strings.Contains(m, want) {
				return m, skipped
			}
			skipped = append(skipped, m)
		case <-deadline:
			t.Fatalf("no %q within %v (got %q)", want, timeout, skipped)
		}
	}
}

// TestNotify: READY=1 with STATUS= after the start, WATCHDOG=1 from the
// loop every half period, RELOADING=1 with MONOTONIC_USEC= then READY=1
// around a reload, no WATCHDOG=1 once the loop is frozen (the test
// hook), STOPPING=1 at the end; each through go-systemd's sd_notify to a
// real datagram socket.
func TestNotify(t *testing.T) {
	l := listenNotify(t)
	c := parseHealthConf(t, planHCL)
	d := New(Config{
		Log: slog.New(slog.DiscardHandler), NoIPVS: true, Resync: time.Hour,
		Load:       func(string) (*conf.Cluster, *conf.Node, error) { return c, &c.Nodes[0], nil },
		Notify:     func(s string) { daemon.SdNotify(false, s) },
		Watchdog:   200 * time.Millisecond,
		TestFreeze: "loop",
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, c, &c.Nodes[0]) }()

	// checked's two real servers have no verdict yet (unknown): 6 of 8.
	ready, skipped := l.next(t, "READY=1", 5*time.Second)
	if len(skipped) > 0 || ready != "READY=1\nSTATUS=6/8 real servers up, 1 virtual server(s) below quorum" {
		t.Errorf("READY: %q (before it: %q)", ready, skipped)
	}
	l.next(t, "WATCHDOG=1", time.Second)
	l.next(t, "WATCHDOG=1", time.Second)

	if _, err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	m, _ := l.next(t, "RELOADING=1", time.Second)
	if !strings.Contains(m, "\nMONOTONIC_USEC=") {
		t.Errorf("RELOADING without MONOTONIC_USEC: %q", m)
	}
	if m, skipped := l.next(t, "READY=1", time.Second); len(skipped) > 1 {
		t.Errorf("between RELOADING and READY: %q (%q)", skipped, m)
	}

	// The hook freezes the loop two seconds after the start: the pings
	// stop.
	time.Sleep(2500 * time.Millisecond)
	for len(l.msgs) > 0 {
		<-l.msgs
	}
	select {
	case m := <-l.msgs:
		t.Errorf("a frozen loop sent %q", m)
	case <-time.After(time.Second):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.next(t, "STOPPING=1", time.Second)
}

// summary is the STATUS= line.
func TestSummary(t *testing.T) {
	s := &Snapshot{
		VRRP: []InstanceState{{Name: "public", State: "MASTER"}, {Name: "gateway", State: "MASTER"}, {Name: "extra", State: "BACKUP"}},
		Services: []*ServiceHealth{
			{Up: true, RealServers: []RealServerHealth{{State: "up"}, {State: "unchecked"}, {State: "up", Override: ModeDrain}}},
			{Up: false, RealServers: []RealServerHealth{{State: "down"}}},
		},
	}
	if got, want := summary(s), "MASTER public,gateway; BACKUP extra; 2/4 real servers up, 1 virtual server(s) below quorum"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got := summary(&Snapshot{}); got != "running" {
		t.Errorf("empty: %q", got)
	}
}

// TestPublishCoalesces: a burst of work queued on the loop makes one
// snapshot when the queue empties, not one per turn; the last state is
// published.
func TestPublishCoalesces(t *testing.T) {
	d, ctx := runPlan(t)
	release := holdLoop(t, ctx, d)
	last := make(chan uint64, 1)
	for range 30 {
		d.post(ctx, func() {})
	}
	gen0 := d.Snapshot().Generation
	d.post(ctx, func() { last <- d.gen })
	release()
	genLast := <-last
	var s *Snapshot
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if s = d.Snapshot(); s.Generation > genLast {
			break
		}
	}
	if s.Generation <= genLast {
		t.Fatalf("no snapshot after the burst's last turn (generation %d, %d before it)", s.Generation, genLast)
	}
	// 32 turns: one snapshot at the end, and one per maxSnapshotAge
	// of a slow (race-detector) run at most.
	if n := s.Generation - gen0; n > 3 {
		t.Errorf("%d snapshots for a burst of 32 turns, want 1 (up to 3)", n)
	}
}

// TestCallPublishes: an API call's effect is in the snapshot when the
// call returns, even while the loop has more work queued.
func TestCallPublishes(t *testing.T) {
	d, ctx := runPlan(t)
	release := holdLoop(t, ctx, d)
	reloaded := make(chan error, 1)
	go func() { _, err := d.Reload(ctx); reloaded <- err }()
	for deadline := time.Now().Add(5 * time.Second); len(d.events) == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reload was never queued")
		}
	}
	behind := make(chan struct{})
	defer close(behind)
	d.post(ctx, func() { <-behind }) // queued behind the reload
	release()
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if got := d.Snapshot().Reloads.OK; got != 1 {
		t.Errorf("snapshot after the reload returned: %d reloads, want 1", got)
	}
}

// runPlan runs a director (no IPVS) on planHCL until the test ends,
// when it must stop cleanly.
func runPlan(t *testing.T) (*Director, context.Context) {
	t.Helper()
	c := parseHealthConf(t, planHCL)
	d := New(Config{
		Log: slog.New(slog.DiscardHandler), NoIPVS: true, Resync: time.Hour,
		Load: func(string) (*conf.Cluster, *conf.Node, error) { return c, &c.Nodes[0], nil },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, c, &c.Nodes[0]) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	<-d.running
	return d, ctx
}

// holdLoop makes the loop wait in a turn of its own, after the start's
// snapshot, until the returned func is called (at the latest when the
// test ends, before runPlan's stop).
func holdLoop(t *testing.T, ctx context.Context, d *Director) (release func()) {
	held, hold := make(chan struct{}), make(chan struct{})
	d.post(ctx, func() { close(held); <-hold })
	<-held
	release = sync.OnceFunc(func() { close(hold) })
	t.Cleanup(release)
	return release
}

// TestSnapshotSharesRecords: a snapshot shares the loop's service records
// (a turn copies pointers, not every record: at start, 10 000 checks'
// first verdicts made the snapshots' copies the most allocated memory),
// and a record noted later replaces, never changes, one that an earlier
// snapshot holds.
func TestSnapshotSharesRecords(t *testing.T) {
	d, ctx := runPlan(t)
	done := make(chan struct{})
	var s1, s2 *Snapshot
	var before ServiceHealth
	d.post(ctx, func() {
		defer close(done)
		d.publish()
		s1 = d.Snapshot()
		if len(s1.Services) < 2 {
			return
		}
		before = *s1.Services[0]
		sh := before
		sh.Up, sh.HealthyWeight = !sh.Up, sh.HealthyWeight+1
		d.noteService(sh)
		d.publish()
		s2 = d.Snapshot()
	})
	<-done
	if len(s1.Services) < 2 {
		t.Fatalf("%d services, want at least 2", len(s1.Services))
	}
	if s1.Services[0].Up != before.Up || s1.Services[0].HealthyWeight != before.HealthyWeight {
		t.Error("a record an earlier snapshot holds was changed")
	}
	if s2.Services[0] == s1.Services[0] || s2.Services[0].HealthyWeight != before.HealthyWeight+1 {
		t.Error("the noted record is not in the next snapshot")
	}
	for i := 1; i < len(s1.Services); i++ {
		if s2.Services[i] != s1.Services[i] {
			t.Errorf("service %d: unchanged record copied", i)
		}
	}
}
