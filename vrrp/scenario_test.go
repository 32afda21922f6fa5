package vrrp

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of testdata/scenarios")

// TestScenarios runs the golden scripts of testdata/scenarios, in the
// manner of etcd raft's datadriven interaction tests: each case is a
// command, a "----" line and the expected output, ended by a blank line.
// Machines talk over a simulated link (sim) with a fake clock; adverts go
// through Marshal and Parse. Regenerate with: go test ./vrrp -run
// TestScenarios -rewrite.
//
// Commands:
//
//	add NAME prio=P addr=IP [vrid=N] [version=2] [interval=D] [preempt=false] [delay=D] [handover]
//	start NAME...        Startup
//	stop NAME            Shutdown
//	fail NAME            Fail (interface down, tracker failing)
//	recover NAME         Recover
//	priority NAME P      SetPriority
//	force NAME master|backup
//	group NAME...        a sync group; its orders are stepped at once
//	run D                advance the clock by D, delivering adverts and timers
//	cut A B | cut A->B   drop adverts between A and B (both ways) or from A to B
//	heal                 restore every link
//	latency D            one-way delay of the link (default 0)
//	state                each machine's state, priority and timer
//
// Output lines are "TIME NAME: WHAT" with TIME since the start. Adverts
// a master sends on its own Adver_Timer are not printed; run ends with a
// count of them per machine.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/scenarios/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			runScript(t, file)
		})
	}
}

type scriptCase struct {
	pre    []string // comment and blank lines before the command
	cmd    string
	line   int
	output string
}

func parseScript(t *testing.T, file string) []scriptCase {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		cases []scriptCase
		cur   scriptCase
		out   []string
		state int // 0 before a command, 1 after it, 2 in the output
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch state {
		case 0:
			if l == "" || strings.HasPrefix(l, "#") {
				cur.pre = append(cur.pre, l)
				continue
			}
			cur.cmd, cur.line, state = l, n, 1
		case 1:
			if l != "----" {
				t.Fatalf("%s:%d: want ----, got %q", file, n, l)
			}
			state = 2
		case 2:
			if l == "" {
				cur.output = strings.Join(out, "\n")
				cases = append(cases, cur)
				cur, out, state = scriptCase{}, nil, 0
				continue
			}
			out = append(out, l)
		}
	}
	if state == 1 {
		t.Fatalf("%s: last command has no ----", file)
	}
	if state == 2 {
		cur.output = strings.Join(out, "\n")
		cases = append(cases, cur)
	}
	return cases
}

func runScript(t *testing.T, file string) {
	cases := parseScript(t, file)
	s := newSim()
	var b strings.Builder
	for _, c := range cases {
		got := s.do(c.cmd)
		if got == "" {
			got = "ok"
		}
		if *rewrite {
			for _, l := range c.pre {
				b.WriteString(l + "\n")
			}
			fmt.Fprintf(&b, "%s\n----\n%s\n\n", c.cmd, got)
			continue
		}
		if diff := cmp.Diff(c.output, got); diff != "" {
			t.Errorf("%s:%d: %s (-want +got):\n%s", file, c.line, c.cmd, diff)
		}
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.TrimSuffix(b.String(), "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sim is a link between machines with a fake clock, deterministic like
// raft's network but without randomness: events are ordered by time, then
// by the order they were scheduled.
type sim struct {
	now     time.Duration // since t0
	nodes   []*simNode
	byName  map[string]*simNode
	inbox   []delivery
	seq     int
	cut     map[[2]string]bool
	latency time.Duration
	groups  []*simGroup
	out     *strings.Builder
}

type simNode struct {
	name     string
	m        *Machine
	timer    time.Duration // since t0; valid if armed
	armed    bool
	timerSeq int
	periodic int // adverts sent on the Adver_Timer during this run
	group    *simGroup
}

type simGroup struct {
	g *Group
}

type delivery struct {
	at   time.Duration
	seq  int
	from *simNode
	to   *simNode
	b    []byte
}

// dstFor returns the multicast group of src's family.
func dstFor(src netip.Addr) netip.Addr {
	if src.Is4() {
		return mc4
	}
	return mc6
}

func newSim() *sim {
	return &sim{byName: map[string]*simNode{}, cut: map[[2]string]bool{}}
}

func (s *sim) do(cmd string) string {
	var out strings.Builder
	s.out = &out
	f := strings.Fields(cmd)
	args := f[1:]
	switch f[0] {
	case "add":
		if err := s.add(args); err != nil {
			return "error: " + err.Error()
		}
	case "start", "stop", "fail", "recover":
		k := map[string]EventKind{"start": Startup, "stop": Shutdown, "fail": Fail, "recover": Recover}[f[0]]
		for _, n := range args {
			s.step(s.byName[n], Event{Kind: k})
		}
	case "priority":
		p, _ := strconv.Atoi(args[1])
		s.step(s.byName[args[0]], Event{Kind: SetPriority, Priority: uint8(p)})
	case "force":
		k := ForceMaster
		if args[1] == "backup" {
			k = ForceBackup
		}
		s.step(s.byName[args[0]], Event{Kind: k})
	case "group":
		g := &simGroup{g: NewGroup(args)}
		s.groups = append(s.groups, g)
		for _, n := range args {
			s.byName[n].group = g
		}
	case "run":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return "error: " + err.Error()
		}
		s.run(s.now + d)
	case "cut":
		if a, b, ok := strings.Cut(args[0], "->"); ok {
			s.cut[[2]string{a, b}] = true
		} else {
			s.cut[[2]string{args[0], args[1]}] = true
			s.cut[[2]string{args[1], args[0]}] = true
		}
	case "heal":
		clear(s.cut)
	case "latency":
		d, err := time.ParseDuration(args[0])
		if err != nil {
			return "error: " + err.Error()
		}
		s.latency = d
	case "state":
		for _, n := range s.nodes {
			fmt.Fprintf(&out, "%s: %v prio=%d", n.name, n.m.State(), n.m.Priority())
			if n.armed {
				fmt.Fprintf(&out, " timer=%v", n.timer)
			}
			if ma := n.m.Master(); ma.IsValid() {
				fmt.Fprintf(&out, " master=%v", ma)
			}
			out.WriteString("\n")
		}
	default:
		return "error: unknown command " + f[0]
	}
	return strings.TrimSuffix(out.String(), "\n")
}

func (s *sim) add(args []string) error {
	c := Config{VRID: 1, Version: 3, AdvertInterval: time.Second, Preempt: true}
	name := args[0]
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		var err error
		switch k {
		case "prio":
			var p int
			p, err = strconv.Atoi(v)
			c.Priority = uint8(p)
		case "addr":
			c.Primary, err = netip.ParseAddr(v)
		case "vrid":
			var p int
			p, err = strconv.Atoi(v)
			c.VRID = uint8(p)
		case "version":
			c.Version, err = strconv.Atoi(v)
		case "interval":
			c.AdvertInterval, err = time.ParseDuration(v)
		case "preempt":
			c.Preempt, err = strconv.ParseBool(v)
		case "delay":
			c.PreemptDelay, err = time.ParseDuration(v)
		case "handover":
			c.PairHandover = true
		default:
			err = fmt.Errorf("unknown option %s", k)
		}
		if err != nil {
			return err
		}
	}
	m, err := NewMachine(c)
	if err != nil {
		return err
	}
	n := &simNode{name: name, m: m}
	s.nodes = append(s.nodes, n)
	s.byName[name] = n
	return nil
}

// run delivers every timer and advert due until the deadline, in order,
// then moves the clock there.
func (s *sim) run(until time.Duration) {
	for _, n := range s.nodes {
		n.periodic = 0
	}
	for {
		var (
			next  *simNode // a timer
			nextD = -1     // or a delivery
			at    time.Duration
			seq   int
		)
		for _, n := range s.nodes {
			if n.armed && (next == nil || n.timer < at || n.timer == at && n.timerSeq < seq) {
				next, at, seq = n, n.timer, n.timerSeq
			}
		}
		for i, d := range s.inbox {
			if (next == nil && nextD < 0) || d.at < at || d.at == at && d.seq < seq {
				next, nextD, at, seq = nil, i, d.at, d.seq
			}
		}
		if next == nil && nextD < 0 || at > until {
			break
		}
		s.now = at
		if next != nil {
			next.armed = false
			s.step(next, Event{Kind: Timer})
			continue
		}
		d := s.inbox[nextD]
		s.inbox = slices.Delete(s.inbox, nextD, nextD+1)
		src := d.from.m.Config().Primary
		p, err := Parse(d.b, src, dstFor(src))
		if err != nil {
			fmt.Fprintf(s.out, "%v %s: parse error from %s: %v\n", s.now, d.to.name, d.from.name, err)
			continue
		}
		s.step(d.to, Event{Kind: Advert, Packet: p, From: src})
	}
	s.now = until
	var counts []string
	for _, n := range s.nodes {
		if n.periodic > 0 {
			counts = append(counts, fmt.Sprintf("%s=%d", n.name, n.periodic))
		}
	}
	if len(counts) > 0 {
		fmt.Fprintf(s.out, "periodic adverts: %s\n", strings.Join(counts, " "))
	}
}

// step steps one machine and performs its actions, and its group's
// orders.
func (s *sim) step(n *simNode, ev Event) {
	before := n.m.State()
	acts := n.m.Step(t0.Add(s.now), ev)
	periodic := ev.Kind == Timer && before == Master && n.m.State() == Master
	for _, a := range acts {
		switch a.Kind {
		case SetTimer:
			n.armed = !a.At.IsZero()
			n.timer = a.At.Sub(t0)
			s.seq++
			n.timerSeq = s.seq
			continue
		case SendAdvert:
			s.send(n, a.Priority)
			if periodic {
				n.periodic++
				continue
			}
			fmt.Fprintf(s.out, "%v %s: advert prio=%d\n", s.now, n.name, a.Priority)
		case TakeVIPs:
			fmt.Fprintf(s.out, "%v %s: take VIPs\n", s.now, n.name)
		case ReleaseVIPs:
			fmt.Fprintf(s.out, "%v %s: release VIPs\n", s.now, n.name)
		case Announce:
			fmt.Fprintf(s.out, "%v %s: announce\n", s.now, n.name)
		case Transition:
			fmt.Fprintf(s.out, "%v %s: %v -> %v (%v)\n", s.now, n.name, a.From, a.To, a.Reason)
			if n.group != nil {
				for _, o := range n.group.g.Transition(n.name, a.From, a.To) {
					fmt.Fprintf(s.out, "%v %s: group orders %s %v\n", s.now, n.name, o.Member, o.Event.Kind)
					s.step(s.byName[o.Member], o.Event)
				}
			}
		}
	}
}

// send puts an advert on the link to every other machine.
func (s *sim) send(from *simNode, prio uint8) {
	c := from.m.Config()
	vip := netip.AddrFrom4([4]byte{192, 0, 2, c.VRID})
	if c.Primary.Is6() {
		vip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: c.VRID})
	}
	p := Packet{Version: uint8(c.Version), Type: TypeAdvertisement, VRID: c.VRID, Priority: prio, Interval: c.AdvertInterval, Addresses: []netip.Addr{vip}}
	b, err := p.Marshal(c.Primary, dstFor(c.Primary))
	if err != nil {
		panic(err)
	}
	for _, to := range s.nodes {
		if to == from || s.cut[[2]string{from.name, to.name}] {
			continue
		}
		s.seq++
		s.inbox = append(s.inbox, delivery{at: s.now + s.latency, seq: s.seq, from: from, to: to, b: b})
	}
}
