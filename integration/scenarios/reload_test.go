package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// reloadConfig is the NAT pair of the reload scenario at one step of its
// edits: two directors (d1 150, d2 100, or 120 from step d), a VIP and a
// gateway in a sync group, an echo service with tcp checks that drains on
// failure.
type reloadStep struct {
	rs1Weight int  // (a)
	rs3       bool // (b)
	noRS2     bool // (c)
	d2Prio    int  // (d)
	extra     bool // (e)
	broken    bool // a typo
}

func reloadConfig(s reloadStep) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
node "d1" {
  priority = 150
}

node "d2" {
  priority = %d
}

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.0.0.100/24"]
  advert_interval = "300ms"
}

vrrp "gateway" {
  vrid            = 52
  interface       = "eth1"
  addresses       = ["192.168.100.1/24"]
  advert_interval = "300ms"
}

sync_group "lb" {
  instances = ["public", "gateway"]
}
`, s.d2Prio)
	if s.extra {
		b.WriteString(`
vrrp "extra" {
  vrid            = 53
  interface       = "eth0"
  addresses       = ["10.0.0.101/24"]
  advert_interval = "300ms"
}
`)
	}
	fmt.Fprintf(&b, `
virtual_server "echo" {
  address    = "10.0.0.100:9000"
  scheduler  = "wrr"
  on_failure = "drain"

  check "tcp" {
    interval = "500ms"
    timeout  = "500ms"
  }

  real_server "rs1" {
    address = "192.168.100.11"
    weight  = %d
  }
`, s.rs1Weight)
	if !s.noRS2 {
		b.WriteString("  real_server \"rs2\" { address = \"192.168.100.12\" }\n")
	}
	if s.rs3 {
		b.WriteString("  real_server \"rs3\" { address = \"192.168.100.13\" }\n")
	}
	if s.broken {
		b.WriteString("  real_server \"rs4\" { adress = \"192.168.100.14\" }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// clientLoop opens a new connection through the VIP every interval, sends
// a line and reads the answer: each is one request.
type clientLoop struct {
	mu      sync.Mutex
	ok      int
	byRS    map[string]int
	fails   []string
	stop    chan struct{}
	stopped chan struct{}
}

func startClientLoop(ns *netlab.NS, addr string, interval time.Duration, max int) *clientLoop {
	l := &clientLoop{byRS: map[string]int{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(l.stopped)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for i := 0; i < max; i++ {
			select {
			case <-l.stop:
				return
			case <-tk.C:
			}
			rs, err := l.request(ns, addr, i)
			l.mu.Lock()
			if err != nil {
				l.fails = append(l.fails, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
			} else {
				l.ok++
				l.byRS[rs]++
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *clientLoop) request(ns *netlab.NS, addr string, i int) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := fmt.Fprintf(c, "req%d\n", i); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	rs, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	if rest != fmt.Sprintf("req%d", i) {
		return "", fmt.Errorf("answer %q", line)
	}
	return rs, nil
}

func (l *clientLoop) finish() (ok int, byRS map[string]int, fails []string) {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.stopped
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ok, l.byRS, l.fails
}

// tandemCmd runs the tandem binary with args in ns and returns its
// output and exit status.
func tandemCmd(t *testing.T, ns *netlab.NS, args ...string) (string, int) {
	t.Helper()
	return tandemCmdWithin(t, ns, 30*time.Second, args...)
}

// tandemCmdWithin is tandemCmd with a timeout of its own.
func tandemCmdWithin(t *testing.T, ns *netlab.NS, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := ns.Command(ctx, append([]string{"/tandem"}, args...)...).CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(interface{ ExitCode() int }); ok {
			code = ee.ExitCode()
		}
	}
	return string(out), code
}

// checkHash is the hash that ends a check's ID.
var checkHash = regexp.MustCompile(`#[0-9a-f]+$`)

// changeLines are the change lines of a printed plan, in order, without
// the header and the timing.
func changeLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  ") { // "  AREA KIND WHAT"
			lines = append(lines, checkHash.ReplaceAllString(strings.Join(strings.Fields(l), " "), "#"))
		}
	}
	return lines
}

// transitions counts the log lines of VRRP transitions of instance.
func transitions(p *tandemProc, instance string) int {
	rx := regexp.MustCompile(`vrrp transition.*instance=` + instance + ` `)
	n := 0
	for _, l := range p.tail.Lines() {
		if rx.MatchString(l) {
			n++
		}
	}
	return n
}

// TestReloadWithoutABlip: two directors in front of three NAT real
// servers, a client opening a connection through the VIP every 20 ms the
// whole time, and five reloads of both directors (`tandem reload`, after
// `tandem plan` of the same file): (a) a weight, (b) a new real server,
// (c) one removed (drained), (d) the backup's priority, (e) a second VRRP
// instance; then a broken file. Not one request fails, neither director's
// existing instances make a transition, each reload prints exactly the
// changes its plan printed, and the table is the file's (read with
// ipvsadm).
func TestReloadWithoutABlip(t *testing.T) {
	vmOnly(t)
	l := &syncLab{lan: newLAN(t, "rl", "br0", "br1"), mode: "nat"}
	l.client = l.lan.host("client")
	l.lan.plug(l.client, "eth0", "br0", "10.0.0.2/24")
	for i := range l.d {
		d := l.lan.host(fmt.Sprintf("d%d", i+1))
		l.lan.plug(d, "eth0", "br0", fmt.Sprintf("10.0.0.%d/24", 1+2*i))
		l.lan.plug(d, "eth1", "br1", fmt.Sprintf("192.168.100.%d/24", 2+i))
		l.d[i] = d
	}
	for i := 1; i <= 3; i++ {
		rs := l.lan.host(fmt.Sprintf("rs%d", i))
		l.lan.plug(rs, "eth0", "br1", fmt.Sprintf("192.168.100.%d/24", 10+i))
		must(t, rs.DefaultRoute("192.168.100.1"))
		serveEcho(t, rs, ":9000", fmt.Sprintf("rs%d", i))
		l.rs = append(l.rs, rs)
	}
	step := reloadStep{rs1Weight: 1, d2Prio: 100}
	cfg := writeConfig(t, reloadConfig(step))
	p1 := startTandem(t, l.d[0], "run", "-c", cfg, "--node", "d1")
	p1.waitLog(`vrrp transition.*instance=public.*to=MASTER`, 0, 10*time.Second)
	p2 := startTandem(t, l.d[1], "run", "-c", cfg, "--node", "d2")
	p2.waitLog(`vrrp transition.*instance=public.*to=BACKUP`, 0, 10*time.Second)
	for _, d := range l.d {
		waitIPVS(t, d, `192\.168\.100\.11:9000 Masq 1 .*192\.168\.100\.12:9000 Masq 1`, 10*time.Second, "-Ln")
	}
	var before [2]map[string]int
	for i, p := range []*tandemProc{p1, p2} {
		before[i] = map[string]int{"public": transitions(p, "public"), "gateway": transitions(p, "gateway")}
	}

	loop := startClientLoop(l.client, syncVIP+":9000", 20*time.Millisecond, 5000)
	time.Sleep(time.Second)

	// reload writes cfg at step s, runs `tandem plan` then `tandem
	// reload` on both directors, and checks that each printed the same
	// changes, and those of want (d1's and d2's), in any order.
	reload := func(name string, s reloadStep, want [2][]string) {
		t.Helper()
		must(t, os.WriteFile(cfg, []byte(reloadConfig(s)), 0o644))
		for i, d := range l.d {
			plan, code := tandemCmd(t, d, "plan", "-c", cfg)
			if code != 0 {
				t.Fatalf("%s: d%d: tandem plan: exit %d\n%s", name, i+1, code, plan)
			}
			out, code := tandemCmd(t, d, "reload")
			say(t, "%s: d%d$ tandem reload\n%s", name, i+1, strings.TrimRight(out, "\n"))
			if code != 0 {
				t.Fatalf("%s: d%d: tandem reload: exit %d", name, i+1, code)
			}
			got, planned := changeLines(out), changeLines(plan)
			if !slices.Equal(got, planned) {
				t.Errorf("%s: d%d: the reload printed\n%s\nthe plan before it\n%s", name, i+1, strings.Join(got, "\n"), strings.Join(planned, "\n"))
			}
			w := slices.Clone(want[i])
			slices.Sort(w)
			g := slices.Clone(got)
			slices.Sort(g)
			if !slices.Equal(g, w) {
				t.Errorf("%s: d%d: changes\n%s\nwant\n%s", name, i+1, strings.Join(g, "\n"), strings.Join(w, "\n"))
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	kept := []string{"vrrp kept public", "vrrp kept gateway"}
	svc := "TCP 10.0.0.100:9000"

	step.rs1Weight = 3
	a := append([]string{"ipvs update destination 192.168.100.11:9000 in " + svc + " (Masq, weight 3, thresholds 0..0)"}, kept...)
	reload("(a) weight", step, [2][]string{a, a})

	step.rs3 = true
	b := append([]string{"check added tcp 192.168.100.13:9000#"}, kept...)
	reload("(b) add rs3", step, [2][]string{b, b})
	for _, d := range l.d { // enters on its first success
		waitIPVS(t, d, `192\.168\.100\.13:9000 Masq 1 `, 10*time.Second, "-Ln")
	}

	step.noRS2 = true
	c := append([]string{"ipvs drain destination 192.168.100.12:9000 in " + svc + " (Masq, weight 0, thresholds 0..0); removed from the file: deleted once its connections end",
		"check removed tcp 192.168.100.12:9000#"}, kept...)
	reload("(c) remove rs2", step, [2][]string{c, c})

	step.d2Prio = 120
	reload("(d) backup priority", step, [2][]string{kept,
		{"vrrp changed in place public: priority 100 -> 120", "vrrp changed in place gateway: priority 100 -> 120"}})

	step.extra = true
	e := append([]string{"vrrp added extra"}, kept...)
	reload("(e) second vrrp instance", step, [2][]string{e, e})
	p1.waitLog(`vrrp transition.*instance=extra.*to=MASTER`, 0, 10*time.Second)
	p2.waitLog(`vrrp transition.*instance=extra.*to=BACKUP`, 0, 10*time.Second)

	// A broken file: diagnostics, exit 1, nothing changed.
	good := reloadConfig(step)
	broken := step
	broken.broken = true
	must(t, os.WriteFile(cfg, []byte(reloadConfig(broken)), 0o644))
	tableBefore := ipvsadm(t, l.d[0], "-Sn") // the rules, without counters
	out, code := tandemCmd(t, l.d[0], "reload")
	say(t, "broken file: d1$ tandem reload (exit %d)\n%s", code, strings.TrimRight(out, "\n"))
	if code != 1 || !regexp.MustCompile(`cluster\.hcl:\d+:\d+: error: Unsupported argument`).MatchString(out) ||
		!strings.Contains(out, "the running config is kept") {
		t.Errorf("broken file: exit %d, output:\n%s", code, out)
	}
	if after := ipvsadm(t, l.d[0], "-Sn"); after != tableBefore {
		t.Errorf("a rejected reload changed the table:\n%s\nto\n%s", tableBefore, after)
	}
	must(t, os.WriteFile(cfg, []byte(good), 0o644))

	time.Sleep(time.Second)
	ok, byRS, fails := loop.finish()
	say(t, "client: %d requests answered (%v), %d failed", ok, byRS, len(fails))
	if len(fails) > 0 {
		t.Errorf("%d requests failed during the reloads: %v", len(fails), fails)
	}
	if byRS["rs3"] == 0 {
		t.Errorf("rs3 never answered: %v", byRS)
	}
	for i, p := range []*tandemProc{p1, p2} {
		for _, inst := range []string{"public", "gateway"} {
			if n := transitions(p, inst) - before[i][inst]; n != 0 {
				t.Errorf("d%d: %d transition(s) of the unchanged instance %s during the reloads", i+1, n, inst)
			}
		}
	}
	// The table is the file's: rs1 at 3, rs3 at 1, rs2 drained at 0 until
	// its connections' entries expire (TIME_WAIT: minutes).
	for i, d := range l.d {
		out := squash(ipvsadm(t, d, "-Ln"))
		for _, want := range []string{"192.168.100.11:9000 Masq 3 ", "192.168.100.13:9000 Masq 1 "} {
			if !strings.Contains(out, want) {
				t.Errorf("d%d: table lacks %q: %s", i+1, want, out)
			}
		}
		if strings.Contains(out, "192.168.100.12:9000") && !strings.Contains(out, "192.168.100.12:9000 Masq 0 ") {
			t.Errorf("d%d: rs2 is in the table with a weight: %s", i+1, out)
		}
	}

	// With no daemon, `tandem plan --kernel` plans a start on the table
	// tandem left: nothing to write (rs2 stays drained), every instance
	// and check started; with one more weight change, that one write.
	must(t, p1.stop())
	out, code = tandemCmd(t, l.d[0], "plan", "--kernel", "-c", cfg, "--node", "d1")
	say(t, "d1 (stopped)$ tandem plan --kernel\n%s", strings.TrimRight(out, "\n"))
	got := changeLines(out)
	for _, want := range []string{"vrrp added public", "vrrp added gateway", "vrrp added extra",
		"check added tcp 192.168.100.11:9000#", "check added tcp 192.168.100.13:9000#"} {
		if !slices.Contains(got, want) {
			t.Errorf("plan --kernel lacks %q", want)
		}
	}
	if code != 0 || slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, "ipvs ") }) {
		t.Errorf("plan --kernel of the running file: exit %d, ipvs writes planned:\n%s", code, out)
	}
	step.rs1Weight = 4
	must(t, os.WriteFile(cfg, []byte(reloadConfig(step)), 0o644))
	out, _ = tandemCmd(t, l.d[0], "plan", "--kernel", "-c", cfg, "--node", "d1")
	if got := changeLines(out); !slices.Contains(got, "ipvs update destination 192.168.100.11:9000 in "+svc+" (Masq, weight 4, thresholds 0..0)") ||
		!strings.Contains(out, "1 ipvs write(s)") {
		t.Errorf("plan --kernel of a changed weight:\n%s", out)
	}
}
