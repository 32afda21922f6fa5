package vrrp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The runner's core driven over a simulated link with a fake clock: each
// node's sends are delivered to the others 1 ms later, unless the sender
// is dead or the link between the two is cut.

var rtStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type rtSent struct {
	from *rtNode
	at   time.Time
	p    *Packet
	src  netip.Addr
	dst  netip.Addr
	key  tkey
}

type rtNet struct {
	t       *testing.T
	now     time.Time
	nodes   []*rtNode
	pending []rtSent
	cut     map[[2]string]bool // node names, sorted
}

type rtNode struct {
	name    string
	net     *rtNet
	c       *core
	given   Options // the configuration as given, for reconfigure
	dead    bool
	failing int // the next sends that fail (a local filter)
	vips    map[string]map[netip.Prefix]bool
	garps   int
	garpsOn map[string]int // announcements by interface
	dels    map[string]int // VIP removals by interface
	adverts []rtAdvert     // every advert sent
	hooks   [][]string
	trans   []string
	logs    *syncBuf // the core's log, at debug, without times
}

// rtAdvert is an advert a node sent.
type rtAdvert struct {
	at   time.Time
	key  tkey
	vrid uint8
	prio uint8
	ivl  time.Duration
}

func (n *rtNode) AddVIP(ifname string, p netip.Prefix) error {
	if n.vips[ifname] == nil {
		n.vips[ifname] = map[netip.Prefix]bool{}
	}
	n.vips[ifname][p] = true
	return nil
}

func (n *rtNode) DelVIP(ifname string, p netip.Prefix) error {
	n.dels[ifname]++
	delete(n.vips[ifname], p)
	return nil
}

func (n *rtNode) Announce(ifname string, addrs []netip.Addr) error {
	n.garps++
	n.garpsOn[ifname]++
	return nil
}

// rtTransport is one node's transport on one interface.
type rtTransport struct {
	n      *rtNode
	key    tkey
	closed bool
}

func (s *rtTransport) WriteTo(p *Packet, src, dst netip.Addr) error {
	if s.closed {
		s.n.net.t.Errorf("%s: advert for VRID %d on a closed transport", s.n.name, p.VRID)
	}
	if s.n.failing > 0 {
		s.n.failing--
		return errors.New("sendmsg: operation not permitted")
	}
	s.n.adverts = append(s.n.adverts, rtAdvert{at: s.n.net.now, key: s.key, vrid: p.VRID, prio: p.Priority, ivl: p.Interval})
	// Round-trip through the codec, as the wire would.
	b, err := p.Marshal(src, dst)
	if err != nil {
		return err
	}
	q, err := Parse(b, src, dst)
	if err != nil {
		return err
	}
	s.n.net.pending = append(s.n.net.pending, rtSent{from: s.n, at: s.n.net.now.Add(time.Millisecond), p: q, src: src, dst: dst, key: s.key})
	return nil
}

func (s *rtTransport) ReadFrom() (*Packet, netip.Addr, netip.Addr, error) {
	panic("not used by the core")
}

func (s *rtTransport) Close() error { s.closed = true; return nil }

func newRTNet(t *testing.T) *rtNet {
	return &rtNet{t: t, now: rtStart, cut: map[[2]string]bool{}}
}

// add starts a node running opts (edges are the node's fakes).
func (s *rtNet) add(name string, opts Options) *rtNode {
	s.t.Helper()
	return s.addWith(name, opts, map[string]map[netip.Prefix]bool{})
}

// addWith starts a node whose interfaces already hold vips.
func (s *rtNet) addWith(name string, opts Options, vips map[string]map[netip.Prefix]bool) *rtNode {
	s.t.Helper()
	n := &rtNode{name: name, net: s, vips: vips, given: configOf(opts), garpsOn: map[string]int{}, dels: map[string]int{}}
	opts.VIPs, opts.Announcer = n, n
	var log *slog.Logger
	log, n.logs = rtCapture()
	if opts.Log != nil {
		log = opts.Log
	}
	c, err := newCore(opts, log, &counters{})
	if err != nil {
		s.t.Fatal(err)
	}
	c.hook = func(argv []string) { n.hooks = append(n.hooks, argv) }
	c.onTransition = func(inst string, from, to State, prio uint8, why Reason) {
		n.trans = append(n.trans, fmt.Sprintf("%s %v>%v %d (%v)", inst, from, to, prio, why))
		if opts.OnTransition != nil {
			opts.OnTransition(inst, from, to, prio, why)
		}
	}
	for _, k := range c.keys {
		c.tr[k] = &rtTransport{n: n, key: k}
	}
	n.c = c
	s.nodes = append(s.nodes, n)
	links := map[string]bool{}
	for _, l := range c.linkNames() {
		links[l] = true
	}
	c.start(s.now, links)
	return n
}

// replace swaps a dead node for a fresh one of the same name.
func (s *rtNet) replace(old *rtNode, opts Options) *rtNode {
	s.nodes = slices.DeleteFunc(s.nodes, func(n *rtNode) bool { return n == old })
	return s.addWith(old.name, opts, old.vips) // the kernel's addresses survive the process
}

func (s *rtNet) setCut(a, b string, on bool) {
	k := [2]string{min(a, b), max(a, b)}
	s.cut[k] = on
}

// run advances the clock by d in 1 ms steps, delivering packets and timers.
func (s *rtNet) run(d time.Duration) {
	end := s.now.Add(d)
	for s.now.Before(end) {
		s.now = s.now.Add(time.Millisecond)
		var later []rtSent
		due := s.pending
		s.pending = nil
		for _, p := range due {
			if p.at.After(s.now) {
				later = append(later, p)
				continue
			}
			if p.from.dead {
				continue
			}
			for _, n := range s.nodes {
				if n == p.from || n.dead || s.cut[[2]string{min(n.name, p.from.name), max(n.name, p.from.name)}] {
					continue
				}
				n.c.packet(s.now, p.key, p.p, p.src, p.dst)
			}
		}
		s.pending = append(later, s.pending...)
		for _, n := range s.nodes {
			if n.dead {
				continue
			}
			if next := n.c.next(); !next.IsZero() && !s.now.Before(next) {
				n.c.fire(s.now)
			}
		}
	}
}

// until runs until cond holds, at most max; it returns the time taken.
func (s *rtNet) until(max time.Duration, cond func() bool) time.Duration {
	s.t.Helper()
	start := s.now
	for s.now.Sub(start) < max {
		if cond() {
			return s.now.Sub(start)
		}
		s.run(time.Millisecond)
	}
	s.t.Fatalf("condition not reached within %v", max)
	return 0
}

func (n *rtNode) state(inst string) State { return n.c.byName[inst].m.State() }

func (n *rtNode) holds(ifname string, p netip.Prefix) bool { return n.vips[ifname][p] }

func rtLog(*testing.T) *slog.Logger { return slog.New(slog.DiscardHandler) }

// syncBuf is a log destination safe for concurrent use.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// lines returns the logged lines that match re.
func (b *syncBuf) lines(re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if rx.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

// rtCapture returns a text logger at debug level, without times (the
// core's clock is the test's), and what it writes.
func rtCapture() (*slog.Logger, *syncBuf) {
	b := &syncBuf{}
	h := slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}})
	return slog.New(h), b
}

var (
	rtVIP1 = netip.MustParsePrefix("192.0.2.10/24")
	rtVIP2 = netip.MustParsePrefix("198.51.100.1/24")
)

func rtInstance(name string, vrid uint8, ifname string, prio uint8, primary string, vip netip.Prefix) Instance {
	return Instance{
		Name:      name,
		Interface: ifname,
		Config: Config{
			VRID: vrid, Version: 3, Priority: prio, AdvertInterval: 100 * time.Millisecond,
			Preempt: true, Primary: netip.MustParseAddr(primary),
		},
		Addresses: []netip.Prefix{vip},
		GARP:      DefaultGARP,
	}
}

func rtPair(prioA, prioB uint8, mod func(*Instance)) (Options, Options) {
	a := rtInstance("public", 51, "eth0", prioA, "192.0.2.1", rtVIP1)
	b := rtInstance("public", 51, "eth0", prioB, "192.0.2.2", rtVIP1)
	if mod != nil {
		mod(&a)
		mod(&b)
	}
	return Options{Instances: []Instance{a}}, Options{Instances: []Instance{b}}
}

// masters counts the nodes holding inst as master.
func (s *rtNet) masters(inst string) int {
	n := 0
	for _, x := range s.nodes {
		if !x.dead && x.state(inst) == Master {
			n++
		}
	}
	return n
}

func TestCoreElection(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(time.Second)
	if a.state("public") != Master || b.state("public") != Backup {
		t.Fatalf("a %v, b %v; want master, backup", a.state("public"), b.state("public"))
	}
	if !a.holds("eth0", rtVIP1) || b.holds("eth0", rtVIP1) {
		t.Fatalf("vips: a %v, b %v", a.vips, b.vips)
	}
	if a.garps != DefaultGARP.Count {
		t.Errorf("a sent %d announcements, want %d (the repeat comes after 5s)", a.garps, DefaultGARP.Count)
	}
	s.run(5 * time.Second)
	if a.garps != DefaultGARP.Count+DefaultGARP.RepeatCount {
		t.Errorf("a sent %d announcements, want %d", a.garps, DefaultGARP.Count+DefaultGARP.RepeatCount)
	}
	if b.garps != 0 {
		t.Errorf("b announced %d times", b.garps)
	}
	if got := a.trans; !slices.Equal(got, []string{"public INIT>BACKUP 150 (startup)", "public BACKUP>MASTER 150 (advert timeout (master down timer expired))"}) {
		t.Errorf("a's transitions: %q", got)
	}
}

func TestCoreFailover(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(time.Second)

	// Hard failure: a vanishes (its addresses with it).
	a.dead = true
	a.vips = map[string]map[netip.Prefix]bool{}
	took := s.until(2*time.Second, func() bool { return b.state("public") == Master })
	// Master_Down_Interval = 3 × 100ms + (256−100)/256 × 100ms ≈ 361ms
	// after a's last advert, which went out up to 100ms before it died.
	if took < 260*time.Millisecond || took > 370*time.Millisecond {
		t.Errorf("takeover after %v, want 261..361ms", took)
	}
	if !b.holds("eth0", rtVIP1) {
		t.Error("b does not hold the VIP")
	}

	// Preempt back: a restarts with the higher priority.
	a = s.replace(a, oa)
	took = s.until(2*time.Second, func() bool { return a.state("public") == Master && b.state("public") == Backup })
	if took > 500*time.Millisecond {
		t.Errorf("preempt took %v", took)
	}
	if b.holds("eth0", rtVIP1) || !a.holds("eth0", rtVIP1) {
		t.Errorf("vips after preempt: a %v, b %v", a.vips, b.vips)
	}

	// Graceful stop: priority 0, b takes over after Skew_Time (≈61ms).
	a.c.shutdown(s.now)
	if a.holds("eth0", rtVIP1) {
		t.Error("a kept the VIP after shutdown")
	}
	a.dead = false // its last advert (priority 0) must go out
	took = s.until(time.Second, func() bool { return b.state("public") == Master })
	a.dead = true
	if took > 80*time.Millisecond {
		t.Errorf("graceful handover took %v, want Skew_Time", took)
	}
}

func TestCoreStaleVIPs(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a := s.add("a", oa)
	s.run(time.Second)
	// b crashed as master earlier and left the VIP behind.
	b := &rtNode{name: "b", net: s, vips: map[string]map[netip.Prefix]bool{"eth0": {rtVIP1: true}}}
	nb := s.replace(b, ob)
	s.run(10 * time.Millisecond)
	if nb.holds("eth0", rtVIP1) {
		t.Error("stale VIP kept by a node that starts as backup")
	}
	if !a.holds("eth0", rtVIP1) || s.masters("public") != 1 {
		t.Error("a lost mastership")
	}
}

func TestCoreNoPreempt(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, func(i *Instance) { i.Config.Preempt = false })
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(time.Second)
	a.dead = true
	s.until(time.Second, func() bool { return b.state("public") == Master })
	a = s.replace(a, oa)
	s.run(2 * time.Second)
	if a.state("public") != Backup || b.state("public") != Master {
		t.Errorf("without preempt: a %v, b %v", a.state("public"), b.state("public"))
	}
}

func TestCorePartition(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(time.Second)
	s.setCut("a", "b", true)
	s.run(time.Second)
	if s.masters("public") != 2 {
		t.Fatalf("partitioned: %d masters, want 2", s.masters("public"))
	}
	garps := a.garps
	s.setCut("a", "b", false)
	s.run(500 * time.Millisecond)
	if a.state("public") != Master || b.state("public") != Backup || b.holds("eth0", rtVIP1) {
		t.Fatalf("healed: a %v, b %v, b's vips %v", a.state("public"), b.state("public"), b.vips)
	}
	if a.garps == garps {
		t.Error("the winner did not announce again after the heal")
	}
}

// TestCoreBurstDeferred: a burst asked for within an advert interval of
// the last one is deferred to the end of that interval, not dropped. In a
// partition that heals, the loser may announce (its repeat burst, or a
// burst spread by a GARP interval) after the winner's burst and before it
// hears the winner and steps down; its step-down advert then reaches the
// winner less than an interval after the winner's burst, and only a burst
// after it brings the ARP caches back. Repeated asks still make at most
// one burst per interval.
func TestCoreBurstDeferred(t *testing.T) {
	s := newRTNet(t)
	oa, _ := rtPair(150, 100, func(in *Instance) { in.GARP = GARP{Count: 5} })
	a := s.add("a", oa)
	s.run(time.Second) // alone: master, its start's burst done
	k := tkey{"eth0", false}
	lower := &Packet{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addresses: []netip.Addr{rtVIP1.Addr()}}
	loser := netip.MustParseAddr("192.0.2.2")
	bursts := func() uint64 { return a.status("public").AnnounceBursts }

	// The loser's advert as the partition heals: re-assert and announce.
	b0, g0 := bursts(), a.garps
	a.c.packet(s.now, k, lower, loser, GroupV4)
	if bursts() != b0+1 || a.garps != g0+5 {
		t.Fatalf("a lower master: %d bursts, %d announcements; want 1 and 5", bursts()-b0, a.garps-g0)
	}
	// 60 ms later its step-down advert (it announced in between): no
	// burst yet, but one when the interval is over.
	s.run(60 * time.Millisecond)
	a.c.packet(s.now, k, lower, loser, GroupV4)
	if bursts() != b0+1 {
		t.Fatalf("a second burst %v after the first, want it deferred", 60*time.Millisecond)
	}
	s.run(35 * time.Millisecond)
	if bursts() != b0+1 {
		t.Fatal("the deferred burst came before the interval was over")
	}
	s.run(10 * time.Millisecond)
	if bursts() != b0+2 || a.garps != g0+10 {
		t.Fatalf("after the interval: %d bursts, %d announcements; want 2 and 10 (the second ask was dropped)", bursts()-b0, a.garps-g0)
	}
	if a.state("public") != Master {
		t.Fatalf("a is %v", a.state("public"))
	}

	// A lower master asserting every 10 ms for a second: one burst per
	// interval at most.
	b1 := bursts()
	for range 100 {
		a.c.packet(s.now, k, lower, loser, GroupV4)
		s.run(10 * time.Millisecond)
	}
	if n := bursts() - b1; n > 11 {
		t.Errorf("%d bursts in a second of a lower master's adverts, want at most 11", n)
	}
	// Leaving master drops a deferred burst.
	a.c.packet(s.now, k, lower, loser, GroupV4)
	higher := *lower
	higher.Priority = 200
	a.c.packet(s.now, k, &higher, loser, GroupV4)
	if a.state("public") != Backup {
		t.Fatalf("a is %v after a higher advert", a.state("public"))
	}
	b2 := bursts()
	s.run(200 * time.Millisecond)
	if bursts() != b2 {
		t.Error("a deferred burst went out after the step down")
	}
}

// TestCoreStepDownRetried: the loser of a healed partition steps down on
// the winner's advert, but its own adverts cannot be sent yet (the local
// filter that made the partition is on its way out: input passes, output
// still fails). Its step-down advert is retried until it goes, the
// winner hears it and announces again; without the retry the winner never
// hears a lower master and the ARP caches stay on the loser.
func TestCoreStepDownRetried(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, func(in *Instance) { in.GARP = GARP{Count: 1} })
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(time.Second)
	s.setCut("a", "b", true)
	s.until(2*time.Second, func() bool { return b.state("public") == Master })
	s.run(200 * time.Millisecond)
	garps, sent := a.garps, len(b.adverts)
	b.failing = 3 // its next advert and the step-down one, tried twice
	s.setCut("a", "b", false)
	s.until(time.Second, func() bool { return b.state("public") == Backup })
	s.run(300 * time.Millisecond)
	if a.state("public") != Master || b.holds("eth0", rtVIP1) {
		t.Fatalf("healed: a %v, b's vips %v", a.state("public"), b.vips)
	}
	if b.failing != 0 || len(b.adverts) == sent {
		t.Fatalf("b: %d sends still to fail, %d adverts sent after the heal", b.failing, len(b.adverts)-sent)
	}
	if a.garps == garps {
		t.Error("the winner did not announce again after the heal: the loser's step-down advert was lost")
	}
	if got := b.logs.lines(`msg="vrrp step-down advert not sent, retrying"`); len(got) == 0 {
		t.Error("no retry logged")
	}

	// A loser that cannot send at all gives up after stepDownTries and
	// says so.
	s.setCut("a", "b", true)
	s.until(2*time.Second, func() bool { return b.state("public") == Master })
	b.failing = 1000
	s.setCut("a", "b", false)
	s.until(time.Second, func() bool { return b.state("public") == Backup })
	s.run(time.Second)
	if got := b.logs.lines(`level=WARN msg="vrrp step-down advert not sent: the winner may not announce again"`); len(got) != 1 {
		t.Errorf("%d warnings of a step-down advert given up, want 1", len(got))
	}
	b.failing = 0
}

// TestRunnerTimerAfterInbox: when the timer and an advert are ready
// together (the runner was stalled past Master_Down_Interval while the
// master's adverts kept coming), the advert is handled first and the
// backup stays backup; with nothing pending, the same late timer makes it
// master.
func TestRunnerTimerAfterInbox(t *testing.T) {
	for _, pending := range []string{"posted", ""} {
		in := rtInstance("public", 51, "eth0", 100, "192.0.2.2", rtVIP1)
		in.Config.AdvertInterval = 10 * time.Millisecond
		r, err := NewRunner(Options{Instances: []Instance{in}, VIPs: &rtRecEdge{vips: map[netip.Prefix]bool{}},
			Announcer: &rtRecEdge{vips: map[netip.Prefix]bool{}}, Links: rtUpLinks{}})
		if err != nil {
			t.Fatal(err)
		}
		c := r.core
		c.start(time.Now(), map[string]bool{"eth0": true})
		if got := c.byName["public"].m.State(); got != Backup {
			t.Fatalf("after start: %v", got)
		}
		due := c.next()
		time.Sleep(60 * time.Millisecond) // past Master_Down_Interval (about 36 ms): stalled
		master := &Packet{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 150, Interval: in.Config.AdvertInterval,
			Addresses: []netip.Addr{rtVIP1.Addr()}}
		post := func() {
			r.inbox <- func(now time.Time) {
				c.packet(now, tkey{"eth0", false}, master, netip.MustParseAddr("192.0.2.1"), GroupV4)
			}
		}
		if pending != "" {
			post()
		}
		r.timerFired(due)
		want := Master
		if pending != "" {
			want = Backup
		}
		if got := c.byName["public"].m.State(); got != want {
			t.Errorf("advert %q: %v after the late timer, want %v", pending, got, want)
		}
	}
}

// TestRunnerStallGrace: after a stall the backup's timer is handled late
// and the master's advert is still with the reader (posted only a few ms
// after the timer is handled): the backup waits for it and stays backup.
// Without any advert it becomes master once the grace runs out; a timer
// handled on time gets no grace.
func TestRunnerStallGrace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stall  time.Duration
		advert bool
		want   State
	}{
		{"advert after a stall", 60 * time.Millisecond, true, Backup},
		{"no advert after a stall", 60 * time.Millisecond, false, Master},
		{"no stall", 0, true, Master},
	} {
		in := rtInstance("public", 51, "eth0", 100, "192.0.2.2", rtVIP1)
		in.Config.AdvertInterval = 10 * time.Millisecond
		r, err := NewRunner(Options{Instances: []Instance{in}, VIPs: &rtRecEdge{vips: map[netip.Prefix]bool{}},
			Announcer: &rtRecEdge{vips: map[netip.Prefix]bool{}}, Links: rtUpLinks{}})
		if err != nil {
			t.Fatal(err)
		}
		c := r.core
		c.start(time.Now(), map[string]bool{"eth0": true})
		due := c.next()
		time.Sleep(time.Until(due) + tc.stall)
		if tc.stall == 0 {
			due = time.Now() // handled on time
		}
		master := &Packet{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 150, Interval: in.Config.AdvertInterval,
			Addresses: []netip.Addr{rtVIP1.Addr()}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if !tc.advert {
				return
			}
			time.Sleep(3 * time.Millisecond) // the reader, late out of the same stall
			r.inbox <- func(now time.Time) {
				c.packet(now, tkey{"eth0", false}, master, netip.MustParseAddr("192.0.2.1"), GroupV4)
			}
		}()
		r.timerFired(due)
		if tc.advert && tc.stall == 0 {
			<-r.inbox // posted after the timer: not this test's concern
		}
		<-done
		if got := c.byName["public"].m.State(); got != tc.want {
			t.Errorf("%s: %v after the timer, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCoreSyncGroupFault(t *testing.T) {
	s := newRTNet(t)
	mk := func(prio uint8, primary, gwPrimary string) Options {
		pub := rtInstance("public", 51, "eth0", prio, primary, rtVIP1)
		gw := rtInstance("gateway", 52, "eth1", prio, gwPrimary, rtVIP2)
		return Options{Instances: []Instance{pub, gw}, SyncGroups: []SyncGroup{{Name: "lb", Instances: []string{"public", "gateway"}, Notify: []string{"/bin/group"}}}}
	}
	a := s.add("a", mk(150, "192.0.2.1", "198.51.100.2"))
	b := s.add("b", mk(100, "192.0.2.2", "198.51.100.3"))
	s.run(time.Second)
	if a.state("public") != Master || a.state("gateway") != Master {
		t.Fatalf("a: %v %v", a.state("public"), a.state("gateway"))
	}
	// a's gateway link goes down: gateway in Fault, public follows to
	// Backup, b takes both.
	a.c.link(s.now, "eth1", false)
	if a.state("gateway") != Fault || a.state("public") != Backup {
		t.Fatalf("a after eth1 down: public %v, gateway %v", a.state("public"), a.state("gateway"))
	}
	s.until(time.Second, func() bool { return b.state("public") == Master && b.state("gateway") == Master })
	if a.holds("eth0", rtVIP1) || a.holds("eth1", rtVIP2) || !b.holds("eth0", rtVIP1) || !b.holds("eth1", rtVIP2) {
		t.Errorf("vips: a %v, b %v", a.vips, b.vips)
	}
	// The link comes back: a preempts both back.
	a.c.link(s.now, "eth1", true)
	s.until(2*time.Second, func() bool { return a.state("public") == Master && a.state("gateway") == Master })
	s.run(300 * time.Millisecond)
	if b.state("public") != Backup || b.state("gateway") != Backup {
		t.Errorf("b: %v %v", b.state("public"), b.state("gateway"))
	}
	want := [][]string{{"/bin/group", "GROUP", "lb", "BACKUP"}, {"/bin/group", "GROUP", "lb", "MASTER"}, {"/bin/group", "GROUP", "lb", "FAULT"}}
	for _, w := range want {
		if !slices.ContainsFunc(a.hooks, func(h []string) bool { return slices.Equal(h, w) }) {
			t.Errorf("hook %q not run; ran %q", w, a.hooks)
		}
	}
}

func TestCoreTracking(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, func(i *Instance) {
		i.TrackScripts = []string{"db"}
		i.Notify = []string{"/bin/notify", "x"}
	})
	script := TrackScript{Name: "db", Command: []string{"/bin/true"}, Interval: time.Second, Timeout: time.Second, Weight: -60, Rise: 2, Fall: 2}
	oa.TrackScripts = []TrackScript{script}
	ob.TrackScripts = []TrackScript{script}
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(time.Second)
	a.c.scriptResult(s.now, "db", true)
	a.c.scriptResult(s.now, "db", false) // one failure: fall is 2
	s.run(300 * time.Millisecond)
	if a.c.byName["public"].m.Priority() != 150 {
		t.Fatalf("priority %d after one failure", a.c.byName["public"].m.Priority())
	}
	a.c.scriptResult(s.now, "db", false)
	if p := a.c.byName["public"].m.Priority(); p != 90 {
		t.Fatalf("priority %d after two failures, want 90", p)
	}
	s.until(time.Second, func() bool { return b.state("public") == Master && a.state("public") == Backup })
	// The daemon's own adjustment on top.
	a.c.scriptResult(s.now, "db", true)
	a.c.scriptResult(s.now, "db", true)
	a.c.setTrack(s.now, "public", "api:health", -100)
	if p := a.c.byName["public"].m.Priority(); p != 50 {
		t.Fatalf("priority %d, want 50", p)
	}
	a.c.setTrack(s.now, "public", "api:health", 0)
	s.until(time.Second, func() bool { return a.state("public") == Master })
	want := []string{"/bin/notify", "x", "INSTANCE", "public", "BACKUP", "90"}
	if !slices.ContainsFunc(a.hooks, func(h []string) bool { return slices.Equal(h, want) }) {
		t.Errorf("notify %q not run; ran %q", want, a.hooks)
	}
	// A weight-0 script puts the instance in Fault.
	script.Weight = 0
	a.c.scripts["db"].Weight = 0
	a.c.scriptResult(s.now, "db", false)
	a.c.scriptResult(s.now, "db", false)
	if a.state("public") != Fault {
		t.Errorf("weight 0 failing: %v, want FAULT", a.state("public"))
	}
}

func TestCoreDrops(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, func(i *Instance) {
		i.Config.Version = 2
		i.Config.AdvertInterval = time.Second
		i.AuthPass = "secret"
		i.UnicastPeers = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")}
	})
	a, b := s.add("a", oa), s.add("b", ob)
	s.run(5 * time.Second)
	if a.state("public") != Master || b.state("public") != Backup {
		t.Fatalf("v2 unicast: a %v, b %v", a.state("public"), b.state("public"))
	}
	k := tkey{"eth0", false}
	adv := func(vrid uint8, pass string) *Packet {
		p := &Packet{Version: 2, VRID: vrid, Priority: 200, Interval: time.Second, Addresses: []netip.Addr{rtVIP1.Addr()}}
		p.SetPassword(pass)
		return p
	}
	stranger, group := netip.MustParseAddr("192.0.2.99"), GroupV4
	peer := netip.MustParseAddr("192.0.2.1") // a
	b.c.packet(s.now, k, adv(51, "secret"), stranger, group)
	b.c.packet(s.now, k, adv(51, "wrong"), peer, group)
	b.c.packet(s.now, k, adv(9, "secret"), peer, group)
	b.c.packet(s.now, k, adv(51, "secret"), netip.MustParseAddr("192.0.2.2"), group) // its own
	st := b.c.cnt.stats()
	got := [4]uint64{st.NotPeer, st.AuthFailed, st.UnknownVRID, st.OwnAddress}
	if got != [4]uint64{1, 1, 1, 1} {
		t.Errorf("NotPeer, AuthFailed, UnknownVRID, OwnAddress = %v, want 1 each", got)
	}
	if b.state("public") != Backup {
		t.Error("a dropped advert changed b's state")
	}
}

// Run itself, with fake edges and the real clock (10 ms adverts).

type rtRecTransport struct {
	mu     sync.Mutex
	writes []*Packet
	in     chan *Packet
	closed chan struct{}
	once   sync.Once
}

func (r *rtRecTransport) WriteTo(p *Packet, src, dst netip.Addr) error {
	r.mu.Lock()
	r.writes = append(r.writes, p)
	r.mu.Unlock()
	return nil
}

func (r *rtRecTransport) ReadFrom() (*Packet, netip.Addr, netip.Addr, error) {
	select {
	case p := <-r.in:
		if p == nil {
			return nil, netip.Addr{}, netip.Addr{}, &DropError{Err: ErrTTL}
		}
		return p, netip.MustParseAddr("192.0.2.2"), GroupV4, nil
	case <-r.closed:
		return nil, netip.Addr{}, netip.Addr{}, fmt.Errorf("read: %w", net.ErrClosed)
	}
}

func (r *rtRecTransport) Close() error { r.once.Do(func() { close(r.closed) }); return nil }

type rtRecEdge struct {
	mu    sync.Mutex
	vips  map[netip.Prefix]bool
	garps int
}

func (e *rtRecEdge) AddVIP(ifname string, p netip.Prefix) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.vips[p] = true
	return nil
}

func (e *rtRecEdge) DelVIP(ifname string, p netip.Prefix) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.vips, p)
	return nil
}

func (e *rtRecEdge) Announce(ifname string, addrs []netip.Addr) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.garps++
	return nil
}

type rtUpLinks struct{}

func (rtUpLinks) Watch(ctx context.Context, names []string, fn func(string, bool)) (map[string]bool, error) {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m, nil
}

func TestRunnerRun(t *testing.T) {
	tr := &rtRecTransport{in: make(chan *Packet, 4), closed: make(chan struct{})}
	edge := &rtRecEdge{vips: map[netip.Prefix]bool{}}
	in := rtInstance("public", 51, "eth0", 150, "192.0.2.1", rtVIP1)
	in.Config.AdvertInterval = 10 * time.Millisecond
	in.Notify = []string{"/bin/notify"}
	var mu sync.Mutex
	var calls, hooks []string
	r, err := NewRunner(Options{
		Instances: []Instance{in},
		Dial:      func(string, bool) (Transport, error) { return tr, nil },
		VIPs:      edge, Announcer: edge, Links: rtUpLinks{},
		Exec: func(ctx context.Context, argv []string) error {
			mu.Lock()
			hooks = append(hooks, strings.Join(argv, " "))
			mu.Unlock()
			return nil
		},
		OnTransition: func(inst string, from, to State, prio uint8, why Reason) {
			mu.Lock()
			calls = append(calls, fmt.Sprintf("%s %v>%v", inst, from, to))
			if from == Initialize && why != ReasonStartup || to == Initialize && why != ReasonShutdown {
				t.Errorf("%s %v>%v for %q", inst, from, to, why)
			}
			mu.Unlock()
		},
		Log: rtLog(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	tr.in <- nil // a dropped packet
	deadline := time.Now().Add(5 * time.Second)
	for {
		edge.mu.Lock()
		held := edge.vips[rtVIP1]
		edge.mu.Unlock()
		if held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no master within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.SetTrack("public", "health", -10)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	last := tr.writes[len(tr.writes)-1]
	tr.mu.Unlock()
	if last.Priority != 0 {
		t.Errorf("last advert has priority %d, want 0", last.Priority)
	}
	if edge.vips[rtVIP1] {
		t.Error("VIP kept after shutdown")
	}
	// The dropped packet (a TTL other than 255, no advert parsed) is
	// malformed: no instance to blame.
	if st := r.Stats(); st.Malformed != 1 || st.Sent == 0 {
		t.Errorf("stats %+v", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(hooks, "/bin/notify INSTANCE public STOP 150") && !slices.Contains(hooks, "/bin/notify INSTANCE public STOP 140") {
		t.Errorf("hooks %q: no STOP", hooks)
	}
	// The callbacks run off the loop: give the last one a moment.
	for i := 0; i < 100 && !slices.Contains(calls, "public MASTER>INIT"); i++ {
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
	}
	if !slices.Contains(calls, "public BACKUP>MASTER") || !slices.Contains(calls, "public MASTER>INIT") {
		t.Errorf("OnTransition calls %q", calls)
	}
}

// A configured priority changed in place (a reload): the master stays
// master while it still wins, hands over when the backup's is raised
// above it, with tracks still applied on top; a change to the owner's
// restarts the instance.
func TestCoreSetPriority(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.until(2*time.Second, func() bool { return a.state("public") == Master && b.state("public") == Backup })
	prio := func(p uint8) func(*Instance) { return func(in *Instance) { in.Config.Priority = p } }

	a.edit("public", prio(160))
	s.run(time.Second)
	if p := a.c.byName["public"].m.Priority(); p != 160 || a.state("public") != Master || b.state("public") != Backup {
		t.Fatalf("raise the master's: priority %d, states %v / %v", p, a.state("public"), b.state("public"))
	}
	b.edit("public", prio(120)) // still below: nothing moves
	s.run(time.Second)
	if a.state("public") != Master || b.state("public") != Backup {
		t.Fatalf("backup to 120: %v / %v", a.state("public"), b.state("public"))
	}
	a.c.setTrack(s.now, "public", "api:health", -50) // 110 < 120: b preempts
	s.until(2*time.Second, func() bool { return b.state("public") == Master && a.state("public") == Backup })
	a.edit("public", prio(200)) // 150 with the track: a preempts back
	s.until(2*time.Second, func() bool { return a.state("public") == Master && b.state("public") == Backup })
	if p := a.c.byName["public"].m.Priority(); p != 150 {
		t.Errorf("priority %d, want 200-50", p)
	}
	if ch := a.edit("public", prio(Owner)); ch[0].Kind != Restarted {
		t.Errorf("to the owner's priority: %v, want restarted", ch[0])
	}
	if p := a.c.byName["public"].m.Priority(); p != Owner || a.state("public") != Master {
		t.Errorf("owner: priority %d, %v", p, a.state("public"))
	}
}

// Addresses changed in place (a reload): the master adds the new VIP,
// drops the removed one and announces at once, without a transition;
// the backup holds nothing and only remembers them, and holds the new
// set when it takes over. Another family restarts the instance.
func TestCoreSetAddresses(t *testing.T) {
	s := newRTNet(t)
	oa, ob := rtPair(150, 100, nil)
	a, b := s.add("a", oa), s.add("b", ob)
	s.until(2*time.Second, func() bool { return a.state("public") == Master && b.state("public") == Backup })
	vip2 := netip.MustParsePrefix("192.0.2.11/24")
	garps := a.garps
	addrs := func(ps ...netip.Prefix) func(*Instance) { return func(in *Instance) { in.Addresses = ps } }

	a.edit("public", addrs(rtVIP1, vip2))
	b.edit("public", addrs(rtVIP1, vip2))
	if !a.holds("eth0", rtVIP1) || !a.holds("eth0", vip2) || a.garps == garps {
		t.Fatalf("master after adding: vips %v, garps %d -> %d", a.vips, garps, a.garps)
	}
	if b.holds("eth0", vip2) {
		t.Error("the backup added the new VIP")
	}
	s.run(time.Second)
	if a.state("public") != Master || b.state("public") != Backup {
		t.Fatalf("states moved: %v / %v", a.state("public"), b.state("public"))
	}
	a.edit("public", addrs(vip2))
	if a.holds("eth0", rtVIP1) || !a.holds("eth0", vip2) {
		t.Errorf("master after removing: %v", a.vips)
	}
	b.edit("public", addrs(vip2))
	a.dead = true
	s.until(5*time.Second, func() bool { return b.state("public") == Master })
	if !b.holds("eth0", vip2) || b.holds("eth0", rtVIP1) {
		t.Errorf("the new master holds %v, want only %v", b.vips, vip2)
	}
	ch := a.edit("public", func(in *Instance) {
		in.Addresses = []netip.Prefix{netip.MustParsePrefix("2001:db8::1/64")}
		in.Config.Primary = netip.MustParseAddr("fe80::1")
	})
	if ch[0].Kind != Restarted {
		t.Errorf("another family: %v, want restarted", ch[0])
	}
}
