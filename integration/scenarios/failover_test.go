package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// pairLab is the crash and soak scenarios' network: two DR directors
// running VRRP (and conn_sync) on one LAN with a client and two real
// servers, each director with its metrics listener on its own loopback.
//
//	client 10.0.0.2 ─┐
//	d1 eth0 10.0.0.1 ─┼─ br0 ─ rsN 10.0.0.1N (VIP on lo, echo on :9000)
//	d2 eth0 10.0.0.3 ─┘        VIP 10.0.0.100 (vrrp "public")
type pairLab struct {
	t      *testing.T
	lan    *lan
	client *netlab.NS
	d      [2]*netlab.NS
	rs     []*netlab.NS
	cfg    string
	p      [2]*tandemProc
	args   []string // extra arguments of tandem run
}

// pairOpts are the pair's VRRP settings.
type pairOpts struct {
	advert       string // advert_interval
	preempt      bool
	preemptDelay string // "" = none
	prio         [2]int
	check        string // the real servers' check interval ("" = no check)
}

func pairConfig(o pairOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, `director {
  conn_sync {
    interface = "eth0"
    sync_id   = 7
    vrrp      = "public"
  }
  timeouts {
    tcp = "1h"
  }
}

metrics {
  listen = "127.0.0.1:9115"
}

node "d1" {
  priority = %d
}

node "d2" {
  priority = %d
}

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.0.0.100/24"]
  advert_interval = %q
  preempt         = %v
`, o.prio[0], o.prio[1], o.advert, o.preempt)
	if o.preemptDelay != "" {
		fmt.Fprintf(&b, "  preempt_delay   = %q\n", o.preemptDelay)
	}
	b.WriteString("}\n\nvirtual_server \"echo\" {\n  address   = \"10.0.0.100:9000\"\n  scheduler = \"rr\"\n  forward   = \"dr\"\n")
	if o.check != "" {
		fmt.Fprintf(&b, "  check \"tcp\" {\n    interval = %q\n    timeout  = %q\n  }\n", o.check, o.check)
	}
	b.WriteString("  real_server \"rs1\" { address = \"10.0.0.11\" }\n  real_server \"rs2\" { address = \"10.0.0.12\" }\n}\n")
	return b.String()
}

func newPairLab(t *testing.T, prefix string, o pairOpts) *pairLab {
	t.Helper()
	l := &pairLab{t: t, lan: newLAN(t, prefix, "br0")}
	l.client = l.lan.host("client")
	l.lan.plug(l.client, "eth0", "br0", "10.0.0.2/24")
	for i := range l.d {
		d := l.lan.host(fmt.Sprintf("d%d", i+1))
		l.lan.plug(d, "eth0", "br0", fmt.Sprintf("10.0.0.%d/24", 1+2*i))
		l.d[i] = d
	}
	l.cfg = writeConfig(t, pairConfig(o))
	for i := 1; i <= 2; i++ {
		rs := l.lan.host(fmt.Sprintf("rs%d", i))
		l.lan.plug(rs, "eth0", "br0", fmt.Sprintf("10.0.0.%d/24", 10+i))
		state := filepath.Join(t.TempDir(), fmt.Sprintf("rs%d.json", i))
		runIn(t, rs, "/tandem", "realserver", "-c", l.cfg, "--state", state)
		serveEcho(t, rs, ":9000", fmt.Sprintf("rs%d", i))
		l.rs = append(l.rs, rs)
	}
	return l
}

// start starts director i's tandem (again).
func (l *pairLab) start(i int) *tandemProc {
	l.t.Helper()
	args := append([]string{"run", "-c", l.cfg, "--node", fmt.Sprintf("d%d", i+1)}, l.args...)
	l.p[i] = startTandem(l.t, l.d[i], args...)
	return l.p[i]
}

// kill sends sig to director i's tandem and waits for it to exit. A
// tandem that has not exited 10 s after the signal is a finding: its
// threads' kernel stacks and the IPVS kernel threads' are taken, it gets
// until 40 s (past the IPVS socket's 30 s receive timeout) to exit on its
// own, and is then sent SIGQUIT (the Go runtime prints every goroutine)
// and killed; the error carries all of it.
func (l *pairLab) kill(i int, sig syscall.Signal) error {
	p := l.p[i]
	sent := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
	}
	diag := kernelStacks(p.cmd.Process.Pid)
	select {
	case <-p.done:
		return fmt.Errorf("d%d: tandem exited only %v after %v; 10 s after it:\n%s\nits log:\n%s",
			i+1, time.Since(sent).Round(time.Millisecond), sig, diag, p.tail.String())
	case <-time.After(30 * time.Second):
	}
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
	return fmt.Errorf("d%d: tandem did not exit within 40 s of %v; 10 s after it:\n%s\nits log and stacks after SIGQUIT:\n%s", i+1, sig, diag, p.tail.String())
}

// kernelStacks reads the kernel stacks (and wchan) of pid's threads and
// of the IPVS kernel threads (ipvs-m:*, ipvs-b:*).
func kernelStacks(pid int) string {
	var b strings.Builder
	show := func(dir, what string) {
		st, _ := os.ReadFile(dir + "/stack")
		wc, _ := os.ReadFile(dir + "/wchan")
		stat, _ := os.ReadFile(dir + "/stat")
		fmt.Fprintf(&b, "%s: wchan %s; stat %s\n%s", what, wc, strings.TrimSpace(string(stat)), st)
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, e := range tasks {
		show(fmt.Sprintf("/proc/%d/task/%s", pid, e.Name()), "tandem thread "+e.Name())
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
		if strings.HasPrefix(string(comm), "ipvs") {
			show("/proc/"+e.Name(), "kernel thread "+strings.TrimSpace(string(comm)))
		}
	}
	return b.String()
}

var pairVIP = netip.MustParseAddr(syncVIP)

// hasVIP reports whether director i holds the VIP on eth0.
func (l *pairLab) hasVIP(i int) bool {
	return slices.Contains(addrsOf(l.d[i], "eth0"), pairVIP.String()+"/24")
}

// addrsOf lists the addresses (cidr) on link in ns, sorted.
func addrsOf(ns *netlab.NS, link string) []string {
	ln, err := ns.Netlink().LinkByName(link)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	as, err := ns.Netlink().AddrList(ln, netlink.FAMILY_ALL)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	slices.Sort(out)
	return out
}

// scrape reads director ns's /metrics (127.0.0.1:9115 in it).
func scrape(ns *netlab.NS) (string, error) {
	c := httpClient(ns)
	c.Timeout = 3 * time.Second
	resp, err := c.Get("http://127.0.0.1:9115/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("scrape: %s", resp.Status)
	}
	return string(b), nil
}

var vrrpStateRe = regexp.MustCompile(`(?m)^tandem_vrrp_state\{[^}]*state="([A-Z]+)"[^}]*\} 1$`)

// vrrpStateOf is the state of the instance in a scrape ("" if none).
func vrrpStateOf(body string) string {
	if m := vrrpStateRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// metricValue returns the value of the first series named name (without
// labels, or any labels), or -1.
func metricValue(body, name string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, name) {
			continue
		}
		rest := l[len(name):]
		if strings.HasPrefix(rest, "{") {
			if i := strings.IndexByte(rest, '}'); i >= 0 {
				rest = rest[i+1:]
			}
		}
		if !strings.HasPrefix(rest, " ") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			return f
		}
	}
	return -1
}

// state returns director i's VRRP state from its metrics ("" when its
// listener does not answer).
func (l *pairLab) state(i int) string {
	body, err := scrape(l.d[i])
	if err != nil {
		return ""
	}
	return vrrpStateOf(body)
}

// waitState polls director i until its state is want.
func (l *pairLab) waitState(i int, want string, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if l.state(i) == want {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("d%d not %s within %v (state %q, VIP %v)", i+1, want, timeout, l.state(i), l.hasVIP(i))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// echoConn is one long-lived TCP connection through the VIP that sends a
// numbered line every interval and records when each answer came.
type echoConn struct {
	mu     sync.Mutex
	server string
	times  []time.Time // when each answer arrived
	bytes  int         // bytes echoed
	err    string
	stop   chan struct{}
	done   chan struct{}
}

func dialEcho(t *testing.T, ns *netlab.NS, addr string, interval time.Duration) *echoConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	must(t, err)
	e := &echoConn{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { e.finish(); c.Close() })
	go func() {
		defer close(e.done)
		r := bufio.NewReader(c)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for i := 1; ; i++ {
			select {
			case <-e.stop:
				return
			case <-tk.C:
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprintf(c, "msg %d\n", i); err != nil {
				e.fail(fmt.Sprintf("write %d: %v", i, err))
				return
			}
			line, err := r.ReadString('\n')
			if err != nil {
				e.fail(fmt.Sprintf("read %d: %v", i, err))
				return
			}
			f := strings.Fields(line)
			if len(f) != 3 || f[2] != strconv.Itoa(i) {
				e.fail(fmt.Sprintf("answer %d: %q", i, line))
				return
			}
			e.mu.Lock()
			if e.server == "" {
				e.server = f[0]
			} else if f[0] != e.server && e.err == "" {
				e.err = fmt.Sprintf("answer %d from %s, the connection started on %s", i, f[0], e.server)
			}
			e.times = append(e.times, time.Now())
			e.bytes += len(line)
			e.mu.Unlock()
		}
	}()
	return e
}

func (e *echoConn) fail(s string) {
	e.mu.Lock()
	if e.err == "" {
		e.err = time.Now().Format("15:04:05.000 ") + s
	}
	e.mu.Unlock()
}

func (e *echoConn) finish() {
	select {
	case <-e.stop:
	default:
		close(e.stop)
	}
	<-e.done
}

// status returns the answers so far, the bytes echoed and the error.
func (e *echoConn) status() (int, int, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.times), e.bytes, e.err
}

// waitMore waits for n answers after from; false if it broke or timed out.
func (e *echoConn) waitMore(from, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		got, _, err := e.status()
		if err != "" {
			return false
		}
		if got >= from+n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// gapAround is the longest time between two answers in [from, to] (the
// answers just outside count as its ends).
func (e *echoConn) gapAround(from, to time.Time) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return longestGap(e.times, from, to)
}

// longestGap is the longest interval between consecutive times that
// overlaps [from, to].
func longestGap(ts []time.Time, from, to time.Time) time.Duration {
	var g time.Duration
	for i := 1; i < len(ts); i++ {
		if ts[i].Before(from) || ts[i-1].After(to) {
			continue
		}
		if d := ts[i].Sub(ts[i-1]); d > g {
			g = d
		}
	}
	return g
}

// ipvsSave is `ipvsadm -Sn` in ns, or the error.
func ipvsSave(ns *netlab.NS) string {
	out, err := ns.Command(context.Background(), "/usr/sbin/ipvsadm", "-Sn").CombinedOutput()
	if err != nil {
		return fmt.Sprintf("error: %v: %s", err, out)
	}
	return string(out)
}

// connLoop opens a fresh connection to addr every interval, sends one
// line and reads its echo, and records each attempt.
type connLoop struct {
	mu       sync.Mutex
	attempts []attempt
	stop     chan struct{}
	done     chan struct{}
}

type attempt struct {
	start, end time.Time
	err        string // "" = answered
}

func startConnLoop(ns *netlab.NS, addr string, interval, timeout time.Duration, max int) *connLoop {
	c := &connLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for i := 0; i < max; i++ {
			select {
			case <-c.stop:
				return
			case <-tk.C:
			}
			a := attempt{start: time.Now()}
			if err := echoOnce(ns, addr, timeout); err != nil {
				a.err = err.Error()
			}
			a.end = time.Now()
			c.mu.Lock()
			c.attempts = append(c.attempts, a)
			c.mu.Unlock()
		}
	}()
	return c
}

func echoOnce(ns *netlab.NS, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := ns.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(conn, "p 1\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasSuffix(line, " p 1\n") {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

func (c *connLoop) finish() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
}

// snapshot copies the attempts so far.
func (c *connLoop) snapshot() []attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.attempts)
}

// since copies the attempts that ended at or after t, with the last
// answered one before them (where a silence that spans t begins): a
// failover's share, without copying the whole run's attempts each time
// (the soak's 50 000).
func (c *connLoop) since(t time.Time) []attempt {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The attempts run one after another: their ends are in order.
	i, _ := slices.BinarySearchFunc(c.attempts, t, func(a attempt, t time.Time) int { return a.end.Compare(t) })
	for i > 0 {
		i--
		if c.attempts[i].err == "" {
			break
		}
	}
	return slices.Clone(c.attempts[i:])
}

// okSince reports whether an attempt that started after t was answered.
func (c *connLoop) okSince(t time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.attempts) - 1; i >= 0; i-- {
		a := c.attempts[i]
		if a.start.Before(t) {
			break
		}
		if a.err == "" {
			return a.end, true
		}
	}
	return time.Time{}, false
}

// nftIn runs nft with args inside ns.
func nftIn(ns *netlab.NS, args ...string) error {
	out, err := ns.Command(context.Background(), append([]string{"/usr/sbin/nft"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("nft %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// partitionRules drop VRRP (IP protocol 112) in and out of a director.
const partitionRules = `table inet partition {
  chain in {
    type filter hook input priority 0; policy accept;
    ip protocol 112 drop
  }
  chain out {
    type filter hook output priority 0; policy accept;
    ip protocol 112 drop
  }
}
`

// partition cuts VRRP in and out of ns (rules is partitionRules written
// to a file).
func partition(ns *netlab.NS, rules string) error { return nftIn(ns, "-f", rules) }

// heal removes partition's table.
func heal(ns *netlab.NS) error { return nftIn(ns, "delete", "table", "inet", "partition") }

// median of a float slice (0 when empty).
func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	c := slices.Clone(v)
	slices.Sort(c)
	return c[len(c)/2]
}
