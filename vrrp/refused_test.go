package vrrp

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// v2Pair is a VRRPv2 pair on one multicast link, each node with its own
// password.
func v2Pair(passA, passB string) (Options, Options) {
	oa, ob := rtPair(150, 100, func(i *Instance) {
		i.Config.Version = 2
		i.Config.AdvertInterval = time.Second
	})
	oa.Instances[0].AuthPass = passA
	ob.Instances[0].AuthPass = passB
	return oa, ob
}

const (
	splitBrain = `level=WARN msg="vrrp: another router sends adverts for this VRID that we reject: possible split brain"`
	misconfig  = `level=WARN msg="vrrp: adverts for this VRID refused: the sender is configured differently"`
)

// TestCoreSplitBrainWarn: two nodes whose passwords differ do not hear
// each other and both become master. Each says so at Warn, with the
// instance, VRID, peer and reason, at most once per 30 s, with the count
// of the adverts refused in between; the counters count every one.
func TestCoreSplitBrainWarn(t *testing.T) {
	s := newRTNet(t)
	oa, ob := v2Pair("secret", "other")
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(10 * time.Second)
	if s.masters("public") != 2 {
		t.Fatalf("%d masters, want 2 (the passwords differ)", s.masters("public"))
	}
	// a became master at 3.41s; b heard its adverts as a backup, then
	// (master itself from 3.61s) from 4.41s on.
	want := `instance=public vrid=51 from=192.0.2.1 reason="auth mismatch" err="vrrp: authentication failed: wrong password" suppressed=0`
	if got := b.logs.lines(misconfig); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("b's warnings as a backup: %q, want one with %s", got, want)
	}
	if got := b.logs.lines(splitBrain); len(got) != 1 || !strings.Contains(got[0], want) {
		t.Errorf("b's split brain warnings: %q, want one with %s", got, want)
	}
	if got := a.logs.lines(splitBrain); len(got) != 1 || !strings.Contains(got[0], "from=192.0.2.2") {
		t.Errorf("a's split brain warnings: %q", got)
	}

	// Rate limit: the next line 30s after the first (at 34.41s), with the
	// 29 adverts refused in between.
	s.run(24 * time.Second) // 34s
	if got := b.logs.lines(splitBrain); len(got) != 1 {
		t.Errorf("b within 30s of the first warning: %d lines, want 1", len(got))
	}
	s.run(6 * time.Second) // 40s
	got := b.logs.lines(splitBrain)
	if len(got) != 2 || !strings.Contains(got[1], `reason="auth mismatch"`) || !strings.HasSuffix(got[1], "suppressed=29") {
		t.Errorf("b after 30s: %q, want a second line with suppressed=29", got)
	}
	// a's adverts from 3.41s to 39.41s: 37, each counted once.
	if st := b.c.cnt.stats(); st.AuthFailed != 37 || st.Received != 0 || st.VersionMismatch+st.IntervalMismatch+st.BadTTL+st.Refused != 0 {
		t.Errorf("b's stats %+v, want AuthFailed 37 and nothing else refused or received", st)
	}
	if len(b.logs.lines(`level=DEBUG msg="vrrp advert refused"`)) != 37 {
		t.Error("each refused advert is not logged at debug")
	}
}

// TestCoreRefusedReasons: each reason to refuse an advert is counted
// under its own Stats field; those that say a router on the VRID is
// configured differently are logged at Warn, the others (another
// cluster's VRID, a packet of our own, a malformed packet) at Debug only.
func TestCoreRefusedReasons(t *testing.T) {
	k := tkey{"eth0", false}
	peer := netip.MustParseAddr("192.0.2.2")
	v2 := func(vrid uint8, iv time.Duration, pass string) *Packet {
		p := &Packet{Version: 2, Type: TypeAdvertisement, VRID: vrid, Priority: 200, Interval: iv, Addresses: []netip.Addr{rtVIP1.Addr()}}
		p.SetPassword(pass)
		return p
	}
	v3 := &Packet{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 200, Interval: time.Second, Addresses: []netip.Addr{rtVIP1.Addr()}}
	tests := []struct {
		name   string
		feed   func(c *core, now time.Time)
		count  func(Stats) uint64
		reason string // of the Warn line; "" for none
		debug  string // the line logged at Debug for each; "" for none
	}{
		{
			name:   "auth",
			feed:   func(c *core, now time.Time) { c.packet(now, k, v2(51, time.Second, "wrong"), peer, GroupV4) },
			count:  func(s Stats) uint64 { return s.AuthFailed },
			reason: "auth mismatch",
			debug:  `msg="vrrp advert refused" instance=public from=192.0.2.2 reason="auth mismatch"`,
		},
		{
			name:   "version",
			feed:   func(c *core, now time.Time) { c.packet(now, k, v3, peer, GroupV4) },
			count:  func(s Stats) uint64 { return s.VersionMismatch },
			reason: "version mismatch",
			debug:  `msg="vrrp advert refused" instance=public from=192.0.2.2 reason="version mismatch"`,
		},
		{
			name:   "interval",
			feed:   func(c *core, now time.Time) { c.packet(now, k, v2(51, 2*time.Second, "secret"), peer, GroupV4) },
			count:  func(s Stats) uint64 { return s.IntervalMismatch },
			reason: "advert interval mismatch",
			debug:  `msg="vrrp advert refused" instance=public from=192.0.2.2 reason="advert interval mismatch"`,
		},
		{
			name: "ttl",
			feed: func(c *core, now time.Time) {
				c.dropped(now, k, &DropError{Src: peer, Err: ErrTTL, Packet: v2(51, time.Second, "secret")})
			},
			count:  func(s Stats) uint64 { return s.BadTTL },
			reason: "ttl or hop limit not 255",
			debug:  `msg="vrrp advert refused" instance=public from=192.0.2.2 reason="ttl or hop limit not 255"`,
		},
		{
			name: "ttl of another vrid",
			feed: func(c *core, now time.Time) {
				c.dropped(now, k, &DropError{Src: peer, Err: ErrTTL, Packet: v2(9, time.Second, "")})
			},
			// No instance to blame: counted as another VRID, where status
			// and the metrics show it (a runner-wide bad TTL showed nowhere).
			count: func(s Stats) uint64 { return s.UnknownVRID },
			debug: `msg="vrrp advert for another VRID" interface=eth0 vrid=9 from=192.0.2.2`,
		},
		{
			name:  "ttl of a packet that does not parse",
			feed:  func(c *core, now time.Time) { c.dropped(now, k, &DropError{Src: peer, Err: ErrTTL}) },
			count: func(s Stats) uint64 { return s.Malformed },
			debug: `msg="vrrp packet dropped" interface=eth0 from=192.0.2.2 reason=malformed err="vrrp: ttl or hop limit is not 255"`,
		},
		{
			name:  "another vrid",
			feed:  func(c *core, now time.Time) { c.packet(now, k, v2(9, time.Second, "x"), peer, GroupV4) },
			count: func(s Stats) uint64 { return s.UnknownVRID },
			debug: `msg="vrrp advert for another VRID" interface=eth0 vrid=9 from=192.0.2.2`,
		},
		{
			name: "own address",
			feed: func(c *core, now time.Time) {
				c.packet(now, k, v2(51, time.Second, "secret"), netip.MustParseAddr("192.0.2.1"), GroupV4)
			},
			count: func(s Stats) uint64 { return s.OwnAddress },
		},
		{
			name:  "malformed",
			feed:  func(c *core, now time.Time) { c.dropped(now, k, &DropError{Src: peer, Err: ErrChecksum}) },
			count: func(s Stats) uint64 { return s.Malformed },
			debug: `msg="vrrp packet dropped" interface=eth0 from=192.0.2.2 reason=malformed err="vrrp: bad checksum"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newRTNet(t)
			oa, _ := v2Pair("secret", "secret")
			a := s.add("a", oa)
			s.run(5 * time.Second) // alone: master
			before := a.c.cnt.stats()
			for range 3 {
				tt.feed(a.c, s.now)
				s.run(time.Second)
			}
			after := a.c.cnt.stats()
			if got := tt.count(after) - tt.count(before); got != 3 {
				t.Errorf("counted %d, want 3 (stats %+v)", got, after)
			}
			if after.Received != before.Received {
				t.Error("a refused advert was handed to the machine")
			}
			warns := a.logs.lines(`level=WARN`)
			switch {
			case tt.reason == "" && len(warns) > 0:
				t.Errorf("warned: %q", warns)
			case tt.reason != "" && (len(warns) != 1 || !strings.Contains(warns[0], splitBrain[len("level=WARN "):]) ||
				!strings.Contains(warns[0], `instance=public vrid=51 from=192.0.2.2 reason="`+tt.reason+`"`)):
				t.Errorf("warnings %q, want one split brain line for %q", warns, tt.reason)
			}
			refusals := a.logs.lines(`msg="vrrp (advert refused|packet dropped|advert for another VRID)"`)
			if tt.debug == "" && len(refusals) > 0 {
				t.Errorf("logged %q", refusals)
			}
			if got := a.logs.lines(`level=DEBUG ` + regexp.QuoteMeta(tt.debug)); tt.debug != "" && len(got) != 3 {
				t.Errorf("%d lines at debug with %s, want one per packet; log:\n%s", len(got), tt.debug, a.logs)
			}
		})
	}
}

// TestCoreRefusedBounded: a flood of forged sources does not grow the
// rate limiter without bound.
func TestCoreRefusedBounded(t *testing.T) {
	s := newRTNet(t)
	oa, _ := v2Pair("secret", "secret")
	a := s.add("a", oa)
	p := &Packet{Version: 2, Type: TypeAdvertisement, VRID: 51, Priority: 200, Interval: time.Second}
	for n := range 1000 {
		src := netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)})
		a.c.packet(s.now, tkey{"eth0", false}, p, src, GroupV4)
	}
	if len(a.c.refusals) > refusedMax {
		t.Errorf("%d entries, want at most %d", len(a.c.refusals), refusedMax)
	}
	if got := a.c.cnt.stats().AuthFailed; got != 1000 {
		t.Errorf("AuthFailed %d, want 1000", got)
	}
	s.run(refusedEvery)
	a.c.packet(s.now, tkey{"eth0", false}, p, netip.MustParseAddr("10.9.9.9"), GroupV4)
	if len(a.logs.lines(`10\.9\.9\.9.*suppressed=0`)) != 1 {
		t.Error("a new source is not logged once the old entries expired")
	}
}
