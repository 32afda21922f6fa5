package vrrplab

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Interop with Debian's keepalived 2.2.7: one director runs keepalived,
// the other tandem, with the same instance. Each case runs both ways
// (keepalived master with tandem backup, and the reverse): the master is
// killed with its link down (the backup takes over), restarted (it
// preempts back), then stopped with SIGTERM (priority 0: the backup takes
// over); after each convergence exactly one director holds the VIP.

type interopCase struct {
	name     string
	version  int
	interval time.Duration
	auth     string
	v6       bool
}

var interopCases = []interopCase{
	{name: "v3", version: 3, interval: 100 * time.Millisecond},
	{name: "v2auth", version: 2, interval: time.Second, auth: "s3cret"},
	{name: "v3ipv6", version: 3, interval: 100 * time.Millisecond, v6: true},
}

func TestKeepalivedInterop(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if why := HaveKeepalived(); why != "" {
		t.Skip(why)
	}
	t.Parallel() // after the serial tests, beside TestV2UnicastAuth
	for i, c := range interopCases {
		for _, kaMaster := range []bool{true, false} {
			name := c.name + "/tandem-master"
			if kaMaster {
				name = c.name + "/keepalived-master"
			}
			prefix := fmt.Sprintf("tvl-ka%d", 2*i)
			if !kaMaster {
				prefix = fmt.Sprintf("tvl-ka%d", 2*i+1)
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				interop(t, prefix, c, kaMaster)
			})
		}
	}
}

func interop(t *testing.T, prefix string, c interopCase, kaMaster bool) {
	l := New(t, tandem, prefix, 2, "10.77.0.0")
	inst, vid, addr := "public", 51, netip.MustParseAddr("10.77.0.10")
	cidr := "10.77.0.10/24"
	if c.v6 {
		inst, vid, addr, cidr = "public6", 61, netip.MustParseAddr("fd00:77::10"), "fd00:77::10/64"
		l.WaitLinkLocal(5 * time.Second)
	}
	extra := ""
	if c.auth != "" {
		extra = fmt.Sprintf("  auth_pass = %q\n", c.auth)
	}
	cfg := WriteConfig(t, fmt.Sprintf(`
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp %q {
  vrid            = %d
  interface       = "eth0"
  addresses       = [%q]
  version         = %d
  advert_interval = %q
%s}
`, inst, vid, cidr, c.version, c.interval.String(), extra))
	ka := func(prio int) string {
		return KeepalivedConf("tvl", KAInstance{
			Name: inst, VRID: vid, Interface: "eth0", Priority: prio, Version: c.version,
			Interval: c.interval, Addresses: []string{cidr}, AuthPass: c.auth,
		})
	}
	d1, d2 := l.Director("d1"), l.Director("d2")
	// d1 (priority 150) is the master, d2 (100) the backup.
	start1 := func() *Proc {
		if kaMaster {
			return l.StartKeepalived(d1, ka(150))
		}
		return l.Start(d1, cfg)
	}
	master, backup := "tandem", "keepalived"
	if kaMaster {
		master, backup = backup, master
	}
	state := func(p *Proc, s string) string {
		if p.What == "keepalived" {
			return KAState(inst, s)
		}
		return fmt.Sprintf(transition, inst, s)
	}
	down := 3*c.interval + c.interval + 2*time.Second // Master_Down_Interval, with room

	var procs []*Proc
	p1 := start1()
	procs = append(procs, p1)
	p1.WaitLog(state(p1, "MASTER"), 0, down+time.Second)
	var p2 *Proc
	if kaMaster {
		p2 = l.Start(d2, cfg)
	} else {
		p2 = l.StartKeepalived(d2, ka(100))
	}
	procs = append(procs, p2)
	p2.WaitLog(state(p2, "BACKUP"), 0, 5*time.Second)
	l.WaitHolder(addr, "d1", 2*time.Second)
	steady(t, l, addr, "d1", c.interval+500*time.Millisecond)

	// Hard failure of the master.
	n2 := p2.Lines()
	at := time.Now()
	l.SetLink(d1, "eth0", false)
	p1.Kill()
	p2.WaitLog(state(p2, "MASTER"), n2, down)
	l.WaitHolder(addr, "d2", 2*time.Second)
	hard := time.Since(at)

	// The master comes back and preempts.
	l.SetLink(d1, "eth0", true)
	if c.v6 {
		l.WaitLinkLocal(5 * time.Second)
	}
	n2 = p2.Lines()
	at = time.Now()
	p1 = start1()
	procs = append(procs, p1)
	p1.WaitLog(state(p1, "MASTER"), 0, down+time.Second)
	p2.WaitLog(state(p2, "BACKUP"), n2, 2*time.Second)
	l.WaitHolder(addr, "d1", 2*time.Second)
	back := time.Since(at)
	steady(t, l, addr, "d1", c.interval+500*time.Millisecond)

	// Graceful stop: priority 0.
	n2 = p2.Lines()
	at = time.Now()
	p1.Term()
	p2.WaitLog(state(p2, "MASTER"), n2, down)
	l.WaitHolder(addr, "d2", 2*time.Second)
	graceful := time.Since(at)
	if err := p1.Stop(); err != nil {
		t.Error(err)
	}
	steady(t, l, addr, "d2", c.interval+500*time.Millisecond)
	if regexp.MustCompile(state(p2, "BACKUP")).MatchString(p2.LogSince(n2)) {
		t.Errorf("%s went back to BACKUP after the master left", backup)
	}
	// Neither side refused an advert of the other.
	for _, p := range procs {
		bad := `vrrp packet dropped|vrrp advert refused`
		if p.What == "keepalived" {
			bad = `(?i)invalid|checksum|mismatch|authentication|ignor`
		}
		rx := regexp.MustCompile(bad)
		for _, line := range strings.Split(p.Log(), "\n") {
			// keepalived's own sends fail while its link is down.
			if rx.MatchString(line) && !strings.Contains(line, "send advert error") {
				t.Errorf("%s's %s complained: %s", p.Name, p.What, line)
			}
		}
	}
	report(t, "%s master, %s backup: hard failure %d ms, preempt back %d ms, graceful stop %d ms (VIP moves seen by netlink, %v adverts)",
		master, backup, hard.Milliseconds(), back.Milliseconds(), graceful.Milliseconds(), c.interval)
}
