package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestCoreVIPAndAnnounceLog: a VIP added or removed is one Info line
// (instance, address, interface); an announcement burst is one Info line,
// not one per packet; the periodic refresh is at Debug. The clean-up of a
// fresh start that does not become master is not reported as a removal.
func TestCoreVIPAndAnnounceLog(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, func(i *Instance) { i.GARP.Refresh = 10 * time.Second })
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(30 * time.Second)
	if a.state("public") != Master {
		t.Fatal("a is not master")
	}
	if a.garps != 10+2 {
		t.Errorf("a announced %d times, want 10 and 2 refreshes (master at 0.36s)", a.garps)
	}
	want := []string{
		`level=INFO msg="vrrp vip added" instance=public address=192.0.2.10/24 interface=eth0`,
		`level=INFO msg="vrrp announce burst" instance=public interface=eth0 kind="gratuitous ARP" addresses=1 count=5 interval=0s repeat=5 repeat_after=5s packets=10`,
	}
	if diff := cmp.Diff(want, a.logs.lines(`level=INFO msg="vrrp (vip|announce)`)); diff != "" {
		t.Errorf("a's info lines (-want +got):\n%s", diff)
	}
	if got := len(a.logs.lines(`level=DEBUG msg="vrrp announce refresh" instance=public interface=eth0 kind="gratuitous ARP" addresses=1`)); got != 2 {
		t.Errorf("%d refresh lines at debug, want 2", got)
	}
	if got := b.logs.lines(`level=INFO msg="vrrp (vip|announce)`); len(got) != 0 {
		t.Errorf("the backup logged %q", got)
	}

	a.c.shutdown(s.now)
	if got := a.logs.lines(`level=INFO msg="vrrp vip removed"`); len(got) != 1 || !strings.HasSuffix(got[0], "instance=public address=192.0.2.10/24 interface=eth0") {
		t.Errorf("removal: %q", got)
	}
}

// TestCoreTransitionLoggedOnce: at debug level a transition is one log
// line with instance, from, to, priority and reason: the core's own
// (at Info) when no OnTransition is set, else only the callback's.
func TestCoreTransitionLoggedOnce(t *testing.T) {
	const re = `msg="vrrp transition"`
	t.Run("core logs", func(t *testing.T) {
		log, buf := rtCapture()
		edge := &rtRecEdge{vips: map[netip.Prefix]bool{}}
		c, err := newCore(Options{Instances: []Instance{rtInstance("public", 51, "eth0", 150, "192.0.2.1", rtVIP1)}, VIPs: edge, Announcer: edge}, log, &counters{})
		if err != nil {
			t.Fatal(err)
		}
		c.tr[tkey{"eth0", false}] = &rtRecTransport{}
		c.start(rtStart, map[string]bool{"eth0": true})
		c.fire(rtStart.Add(time.Second))
		c.shutdown(rtStart.Add(2 * time.Second))
		want := []string{
			`level=INFO msg="vrrp transition" instance=public from=INIT to=BACKUP priority=150 reason=startup`,
			`level=INFO msg="vrrp transition" instance=public from=BACKUP to=MASTER priority=150 reason="advert timeout (master down timer expired)"`,
			`level=INFO msg="vrrp transition" instance=public from=MASTER to=INIT priority=150 reason=shutdown`,
		}
		if diff := cmp.Diff(want, buf.lines(re)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("callback logs", func(t *testing.T) {
		// The callback logs as cmd/tandem's does, to the same log.
		log, buf := rtCapture()
		oa, ob := rtPair(150, 100, nil)
		oa.Log = log
		oa.OnTransition = func(inst string, from, to State, prio uint8, why Reason) {
			log.Info("vrrp transition", "instance", inst, "from", from.String(), "to", to.String(), "priority", prio, "reason", why.String())
		}
		s := newRTNet(t)
		a := s.add("a", oa)
		s.add("b", ob)
		s.run(time.Second)
		a.c.link(s.now, "eth0", false)
		a.c.link(s.now, "eth0", true)
		s.run(time.Second)
		got := buf.lines(re)
		if len(got) != len(a.trans) || len(got) != 5 {
			t.Fatalf("%d transitions, %d lines:\n%s", len(a.trans), len(got), strings.Join(got, "\n"))
		}
		for k, tr := range []string{"INIT to=BACKUP", "BACKUP to=MASTER", "MASTER to=FAULT", "FAULT to=BACKUP", "BACKUP to=MASTER"} {
			reason := []string{"startup", `"advert timeout (master down timer expired)"`, "fault", `"fault cleared"`, `"preempt: the master has a lower priority"`}[k]
			if w := fmt.Sprintf("from=%s priority=150 reason=%s", tr, reason); !strings.HasSuffix(got[k], w) {
				t.Errorf("line %d: %s, want ... %s", k, got[k], w)
			}
		}
	})
}
