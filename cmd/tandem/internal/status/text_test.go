package status

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	now := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	st := &Status{
		Node: "d1", Version: "v1", File: "/etc/tandem/cluster.hcl", ConfigHash: strings.Repeat("4b", 32),
		Loaded: now.Add(-90 * time.Second), Started: now.Add(-3 * time.Hour), Reloads: Reloads{OK: 1, Failed: 1, LastError: "cluster.hcl:3:1: error:\n  bad"},
		IPVS: IPVS{Managed: true},
		VRRP: []Instance{
			{Name: "public", State: "MASTER", Priority: 150, ConfiguredPriority: 150, Master: "self", Since: ago(time.Minute), Transitions: 2, AdvertsSent: 600, Interface: "eth0", VRID: 51},
			{Name: "gateway", State: "BACKUP", Priority: 80, ConfiguredPriority: 100, Master: "10.0.0.2", MasterPriority: 120, Since: ago(time.Minute),
				Dropped: map[string]uint64{"auth_failed": 3}, Interface: "eth1", VRID: 52,
				Track: []Track{{Kind: "script", Name: "chk", OK: false, Weight: -20}, {Kind: "interface", Name: "eth1", OK: true}}},
		},
		VirtualServers: []VirtualServer{{
			Name: "web", Protocol: "tcp", Address: "203.0.113.10:80", Scheduler: "wlc", PersistenceSeconds: 300, Up: true, InKernel: true, HealthyWeight: 1, Quorum: 1,
			Stats: &Stats{Conns: 12, InBytes: 20 << 20, CPS: 3},
			RealServers: []RealServer{
				{Name: "rs1", Address: "192.168.100.11:80", Forward: "nat", ConfiguredWeight: 1, Weight: 1, ActiveConns: 3, InactiveConns: 7, Health: Up, Check: "http", Since: ago(time.Hour), LastProbe: ago(time.Second), LastProbeSeconds: 0.0021},
				{Name: "rs2", Address: "192.168.100.12:80", Forward: "nat", ConfiguredWeight: 2, Weight: 0, Health: Draining, Override: &Override{Mode: "drain", Since: now.Add(-5 * time.Minute)}},
				{Name: "rs3", Address: "192.168.100.13:80", Forward: "nat", ConfiguredWeight: 1, Weight: -1, Health: Down, Check: "tcp", LastError: "dial tcp 192.168.100.13:80: connect: connection refused", LastProbe: ago(time.Second)},
			},
		}, {Name: "mark", FWMark: 7, Family: "ipv6", Scheduler: "rr", Quorum: 1, RealServers: []RealServer{}}},
		Foreign: []Foreign{{Service: "UDP 10.0.0.1:53", Scheduler: "rr", RealServers: []ForeignDest{{Address: "10.0.0.9:53", Forward: "dr", Weight: 7}}}},
	}
	var b strings.Builder
	if err := Write(&b, st, Conns, now); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, re := range []string{
		`^node d1 · tandem v1 · /etc/tandem/cluster.hcl · config 4b4b4b4b4b4b · loaded 1m30s ago · up 3h0m · reloads 1 ok, 1 failed\n`,
		`\nlast reload failed: cluster.hcl:3:1: error: bad\n`,
		`\npublic\s+MASTER\s+150\s+self\s+1m0s\s+2\s+600\s+0\s+0\s+eth0\s+51\s+-\n`,
		`\ngateway\s+BACKUP\s+80/100\s+10\.0\.0\.2 \(120\)\s+1m0s\s+0\s+0\s+0\s+3\s+eth1\s+52\s+chk failed \(-20\)\n`,
		`\n  gateway dropped 3 adverts: auth_failed\n`,
		`\nTCP  203\.0\.113\.10:80 wlc persistent 300\s+\[web\] up 1/1\n`,
		`\n  -> 192\.168\.100\.11:80\s+Masq\s+1\s+3\s+7\s+up\s+\[rs1\] for 1h0m http 2\.1ms\n`,
		`\n  -> 192\.168\.100\.12:80\s+Masq\s+0\(2\)\s+0\s+0\s+draining\s+\[rs2\] drain by operator 5m0s ago\n`,
		`\n  -> 192\.168\.100\.13:80\s+Masq\s+-\(1\)\s+0\s+0\s+down\s+\[rs3\] tcp 0s error: dial tcp .*refused\n`,
		`\nFWM  7 IPv6 rr\s+\[mark\] DOWN 0/1 NOT IN KERNEL\n`,
		`\nUDP 10\.0\.0\.1:53 rr\n  -> 10\.0\.0\.9:53\s+Route\s+7\s+0\s+0\n`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no %s", re)
		}
	}
	// ipvsadm's columns: the "->" rows line up under the header.
	lines := strings.Split(out, "\n")
	var hdr, row string
	for _, l := range lines {
		if strings.HasPrefix(l, "  -> RemoteAddress") {
			hdr = l
		}
		if strings.HasPrefix(l, "  -> 192.168.100.11") {
			row = l
		}
	}
	if strings.Index(hdr, "Forward") != strings.Index(row, "Masq") || strings.Index(hdr, "Health") != strings.Index(row, "up ") {
		t.Errorf("columns not aligned:\n%s\n%s", hdr, row)
	}
	b.Reset()
	Write(&b, st, Totals, now)
	if !regexp.MustCompile(`\nTCP  203\.0\.113\.10:80 wlc persistent 300\s+\[web\]\s+12\s+0\s+0\s+20M\s+0`).MatchString(b.String()) {
		t.Errorf("--stats:\n%s", b.String())
	}
	b.Reset()
	Write(&b, st, Rates, now)
	if !regexp.MustCompile(`CPS\s+InPPS\s+OutPPS\s+InBPS\s+OutBPS`).MatchString(b.String()) ||
		!regexp.MustCompile(`\[web\]\s+3\s+0\s+0\s+0\s+0`).MatchString(b.String()) {
		t.Errorf("--rate:\n%s", b.String())
	}
}

// TestWriteHeldAndPanic: the checker's hold and a virtual server's panic
// and hold are on the header and the service line.
func TestWriteHeldAndPanic(t *testing.T) {
	now := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	since := now.Add(-42 * time.Second)
	st := &Status{
		Node: "d1", Version: "v1", IPVS: IPVS{Managed: true},
		HealthChecks: &HealthChecks{Overloaded: true, OverloadedSince: &since, MassTimeout: true, MassTimeoutSince: &since},
		VirtualServers: []VirtualServer{{
			Name: "web", Protocol: "tcp", Address: "203.0.113.10:80", Scheduler: "rr", Up: true, InKernel: true, HealthyWeight: 1, Quorum: 1,
			Panic: true, PanicThreshold: "50%", Held: &Held{Reason: "mass timeout", Since: since, TimingOut: 8, Checked: 10},
			RealServers: []RealServer{},
		}},
	}
	var b strings.Builder
	if err := Write(&b, st, Conns, now); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`\nhealth checks: HELD, probe timeouts do not take real servers out: checker overloaded \(probes late\) for 42s, mass timeout of all checks for 42s\n`,
		`\[web\] up 1/1 PANIC \(<50% healthy: all in\) HELD \(mass timeout, 8/10 timing out, for 42s\)\n`,
	} {
		if !regexp.MustCompile(re).MatchString(b.String()) {
			t.Errorf("no %s in:\n%s", re, b.String())
		}
	}
}
