// Package vrrplab runs tandem's VRRP between real processes on the host
// kernel: directors and a client in network namespaces joined by bridges
// (each bridge in a namespace of its own), no VM and no IPVS (tandem runs
// with --no-ipvs). Its tests need root; they skip otherwise.
//
// The harness is meant for reuse (keepalived interop, benchmarks): New
// builds the link, Lab.Start runs `tandem run` in a director's namespace,
// Lab.Serve answers each TCP connection on :80 with the director's name,
// and a Poller opens a new connection to a VIP every few milliseconds and
// reports who answered when, and the gap at a switch.
//
// Network safety: every address lives inside namespaces the lab creates
// (and deletes in t.Cleanup); only processes the lab started are signalled.
package vrrplab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Skip returns why the lab cannot run here ("" when it can): it needs
// root and network namespaces.
func Skip() string {
	if os.Geteuid() != 0 {
		return "vrrplab needs root (network namespaces, raw sockets): sudo go test ./integration/vrrplab/"
	}
	ns, err := netlab.New(fmt.Sprintf("tvl-probe-%d", os.Getpid()))
	if err != nil {
		return "vrrplab cannot create a network namespace: " + err.Error()
	}
	ns.Close()
	return ""
}

// BuildTandem builds ./cmd/tandem of the module containing dir into a
// fresh temporary directory and returns the binary's path.
func BuildTandem(moduleDir string) (string, error) {
	out, err := os.MkdirTemp("", "tandem-vrrplab-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(out, "tandem")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tandem")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, b)
	}
	return bin, nil
}

// A Lab is one or more links (bridges) with directors and a client on the
// first link.
//
//	client  eth0 <Net>.100 ─┐
//	d1      eth0 <Net>.1   ─┼─ br0 (namespace <prefix>-br)
//	d2      eth0 <Net>.2   ─┘
//	d1/d2   eth1 <Net1>.N  ─── br1 (after AddLink)
type Lab struct {
	T         testing.TB
	Prefix    string
	Tandem    string // binary
	Bridge    *netlab.NS
	Client    *netlab.NS
	Directors []*Director
	// Net is the first link's /24 (its .0 address).
	Net netip.Addr
}

// A Director is one director's namespace.
type Director struct {
	Name string
	NS   *netlab.NS
	Addr netip.Addr // on eth0
}

// New builds a lab of n directors (d1..dn) and a client on the /24 of net
// (an address ending in .0), with namespace names starting with prefix.
func New(t testing.TB, tandem, prefix string, n int, net string) *Lab {
	t.Helper()
	l := &Lab{T: t, Prefix: prefix, Tandem: tandem, Net: netip.MustParseAddr(net)}
	l.Bridge = l.ns("br")
	must(t, l.Bridge.Bridge("br0"))
	l.Client = l.ns("client")
	l.attach(l.Client, "eth0", "br0", "c", l.host(l.Net, 100))
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("d%d", i)
		d := &Director{Name: name, NS: l.ns(name), Addr: l.host(l.Net, byte(i))}
		l.attach(d.NS, "eth0", "br0", name, d.Addr)
		l.Directors = append(l.Directors, d)
	}
	return l
}

func (l *Lab) ns(role string) *netlab.NS {
	l.T.Helper()
	name := l.Prefix + "-" + role
	netns := exec.Command("ip", "netns", "delete", name)
	netns.Run() // a leftover of a killed run; an error means there was none
	n, err := netlab.New(name)
	must(l.T, err)
	l.T.Cleanup(func() { n.Close() })
	return n
}

func (l *Lab) host(net netip.Addr, b byte) netip.Addr {
	a := net.As4()
	a[3] = b
	return netip.AddrFrom4(a)
}

// attach links ns (interface ifname) to bridge br through a veth whose
// bridge end is <port>-<br>, and gives it addr/24.
func (l *Lab) attach(ns *netlab.NS, ifname, br, port string, addr netip.Addr) {
	l.T.Helper()
	bport := port + "-" + br
	must(l.T, netlab.Veth(ns, ifname, l.Bridge, bport))
	must(l.T, l.Bridge.Enslave(bport, br))
	must(l.T, ns.Addr(ifname, addr.String()+"/24"))
}

// AddLink adds bridge br<k> and gives every director an interface
// eth<k> on it with <net>.<director number>.
func (l *Lab) AddLink(k int, net string) {
	l.T.Helper()
	br := fmt.Sprintf("br%d", k)
	must(l.T, l.Bridge.Bridge(br))
	base := netip.MustParseAddr(net)
	for i, d := range l.Directors {
		l.attach(d.NS, fmt.Sprintf("eth%d", k), br, d.Name, l.host(base, byte(i+1)))
	}
}

// Spare adds an interface to track to a director: one end of a veth pair
// whose other end (name+"p") stays in the director's namespace too (the
// host may have no dummy module).
func (l *Lab) Spare(d *Director, name string) {
	l.T.Helper()
	must(l.T, netlab.Veth(d.NS, name, d.NS, name+"p"))
}

// Host adds a namespace <prefix>-<role> on the first link (br0) with
// addr/24 on its eth0 (a third party on the directors' segment).
func (l *Lab) Host(role string, addr netip.Addr) *netlab.NS {
	l.T.Helper()
	n := l.ns(role)
	l.attach(n, "eth0", "br0", role, addr)
	return n
}

// Split puts the named bridge ports (as attach names them: "d2-br0",
// "c-br0") on a second bridge br of the bridge namespace, joined to br0
// by a trunk veth (tk-br0 in br0, tk-<br> in br): two switches, so that
// SetBridgeLink("tk-br0", false) cuts one side from the other without
// the directors' own links losing carrier.
func (l *Lab) Split(br string, ports ...string) {
	l.T.Helper()
	must(l.T, l.Bridge.Bridge(br))
	must(l.T, netlab.Veth(l.Bridge, "tk-br0", l.Bridge, "tk-"+br))
	must(l.T, l.Bridge.Enslave("tk-br0", "br0"))
	must(l.T, l.Bridge.Enslave("tk-"+br, br))
	for _, p := range ports {
		must(l.T, l.Bridge.Enslave(p, br))
	}
}

// SetBridgeLink sets an interface of the bridge namespace (a bridge
// port, a trunk end) up or down.
func (l *Lab) SetBridgeLink(name string, up bool) {
	l.T.Helper()
	l.setLink(l.Bridge, name, up)
}

// SetLink sets a director's interface up or down.
func (l *Lab) SetLink(d *Director, name string, up bool) {
	l.T.Helper()
	l.setLink(d.NS, name, up)
}

func (l *Lab) setLink(ns *netlab.NS, name string, up bool) {
	l.T.Helper()
	h := ns.Netlink()
	link, err := h.LinkByName(name)
	must(l.T, err)
	if up {
		must(l.T, h.LinkSetUp(link))
	} else {
		must(l.T, h.LinkSetDown(link))
	}
}

// WaitLinkLocal waits until every director's eth0 has a link-local IPv6
// address that is no longer tentative (DAD done), so adverts can go out.
func (l *Lab) WaitLinkLocal(timeout time.Duration) {
	l.T.Helper()
	deadline := time.Now().Add(timeout)
	for _, d := range l.Directors {
		for {
			link, err := d.NS.Netlink().LinkByName("eth0")
			must(l.T, err)
			addrs, err := d.NS.Netlink().AddrList(link, netlink.FAMILY_V6)
			must(l.T, err)
			ready := false
			for _, a := range addrs {
				if a.IP.IsLinkLocalUnicast() && a.Flags&unix.IFA_F_TENTATIVE == 0 {
					ready = true
				}
			}
			if ready {
				break
			}
			if time.Now().After(deadline) {
				l.T.Fatalf("%s: no usable IPv6 link-local address within %v", d.Name, timeout)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Director returns the director named name.
func (l *Lab) Director(name string) *Director {
	for _, d := range l.Directors {
		if d.Name == name {
			return d
		}
	}
	l.T.Fatalf("no director %s", name)
	return nil
}

// Serve answers every TCP connection to port 80 in each director's
// namespace with the director's name, until the test ends.
func (l *Lab) Serve() {
	l.T.Helper()
	for _, d := range l.Directors {
		ln, err := d.NS.Listen("tcp", ":80")
		must(l.T, err)
		l.T.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.SetDeadline(time.Now().Add(time.Second))
				io.WriteString(c, d.Name+"\n")
				c.Close()
			}
		}()
	}
}

// Holders returns the directors that have addr on one of their
// interfaces that is up (a VIP left on a downed link serves nobody).
func (l *Lab) Holders(addr netip.Addr) []string {
	l.T.Helper()
	out, err := l.HoldersErr(addr)
	must(l.T, err)
	return out
}

// HoldersErr is Holders returning its error instead of failing the test,
// for a goroutine other than the test's.
func (l *Lab) HoldersErr(addr netip.Addr) ([]string, error) {
	var out []string
	for _, d := range l.Directors {
		h := d.NS.Netlink()
		links, err := h.LinkList()
		if err != nil {
			return nil, err
		}
		up := map[int]bool{}
		for _, k := range links {
			up[k.Attrs().Index] = k.Attrs().Flags&net.FlagUp != 0
		}
		addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == addr && up[a.LinkIndex] {
				out = append(out, d.Name)
				break
			}
		}
	}
	return out, nil
}

// WaitHolder waits until addr is held by want only (want "" = by nobody)
// and returns how long that took; it fails the test after timeout.
func (l *Lab) WaitHolder(addr netip.Addr, want string, timeout time.Duration) time.Duration {
	l.T.Helper()
	start := time.Now()
	var got []string
	for time.Since(start) < timeout {
		got = l.Holders(addr)
		if (want == "" && len(got) == 0) || (len(got) == 1 && got[0] == want) {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.T.Fatalf("%v held by %v after %v, want only %q", addr, got, timeout, want)
	return 0
}

// NeighMAC returns the client's neighbour entry for addr ("" when none).
func (l *Lab) NeighMAC(addr netip.Addr) string {
	l.T.Helper()
	fam := unix.AF_INET
	if addr.Is6() {
		fam = unix.AF_INET6
	}
	ns, err := l.Client.Netlink().NeighList(0, fam)
	must(l.T, err)
	for _, n := range ns {
		if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap() == addr && n.HardwareAddr != nil {
			return n.HardwareAddr.String()
		}
	}
	return ""
}

// MAC returns the hardware address of a director's interface.
func (l *Lab) MAC(d *Director, ifname string) string {
	l.T.Helper()
	link, err := d.NS.Netlink().LinkByName(ifname)
	must(l.T, err)
	return link.Attrs().HardwareAddr.String()
}

// Nft runs an nftables script inside a director's namespace.
func (l *Lab) Nft(d *Director, script string) {
	l.T.Helper()
	cmd := d.NS.Command(context.Background(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.T.Fatalf("nft in %s: %v: %s", d.Name, err, out)
	}
}

// WriteConfig writes a cluster file into the test's temp dir.
func WriteConfig(t testing.TB, hcl string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cluster.hcl")
	must(t, os.WriteFile(p, []byte(hcl), 0o644))
	return p
}

// Proc is a `tandem run` (or a keepalived) started by the lab.
type Proc struct {
	t        testing.TB
	Name     string // the director
	What     string // "tandem" or "keepalived"
	cmd      *exec.Cmd
	kids     func() []int // children to kill first (keepalived's VRRP process)
	termOnce sync.Once
	tail     *netlab.LogTail
	done     <-chan struct{}
}

// Start runs `tandem run -c config --node <d.Name> --no-ipvs` plus args
// inside d's namespace. At the end of the test it is stopped (SIGTERM,
// then SIGKILL after 10 s) and, if the test failed, its log is shown.
func (l *Lab) Start(d *Director, config string, args ...string) *Proc {
	l.T.Helper()
	argv := append([]string{l.Tandem, "run", "-c", config, "--node", d.Name, "--no-ipvs", "--log-level", "debug"}, args...)
	return l.spawn(d, "tandem", argv, nil)
}

// spawn runs argv in d's namespace (nsenter execs it: same pid) and
// collects its output; kids returns the pids of its children to kill
// before it (Kill).
func (l *Lab) spawn(d *Director, what string, argv []string, kids func() []int) *Proc {
	l.T.Helper()
	cmd := d.NS.Command(context.Background(), argv...)
	stderr, err := cmd.StderrPipe()
	must(l.T, err)
	cmd.Stdout = cmd.Stderr
	must(l.T, cmd.Start())
	p := &Proc{t: l.T, Name: d.Name, What: what, cmd: cmd, kids: kids, tail: netlab.Follow(stderr, cmd.Wait)}
	p.done = p.tail.Done()
	l.T.Cleanup(func() {
		p.Stop()
		if l.T.Failed() {
			l.T.Logf("%s's %s log:\n%s", p.Name, p.What, p.Log())
		}
	})
	return p
}

// StartAll starts tandem on every director with the same cluster file,
// in order, without waiting between them.
func (l *Lab) StartAll(config string, args ...string) []*Proc {
	l.T.Helper()
	var ps []*Proc
	for _, d := range l.Directors {
		ps = append(ps, l.Start(d, config, args...))
	}
	return ps
}

// Log returns everything the process logged so far.
func (p *Proc) Log() string { return p.tail.String() }

// LogSince returns the lines logged from line n on.
func (p *Proc) LogSince(n int) string { return p.tail.Since(n) }

// Lines returns the number of log lines so far (a start index for WaitLog).
func (p *Proc) Lines() int { return p.tail.Len() }

// WaitLog waits for a log line matching re at or after line from, and
// returns its index.
func (p *Proc) WaitLog(re string, from int, timeout time.Duration) int {
	p.t.Helper()
	_, i, err := p.tail.Wait(re, from, timeout)
	switch {
	case errors.Is(err, netlab.ErrExited):
		p.t.Fatalf("%s's %s exited (%v) before logging %q", p.Name, p.What, p.cmd.ProcessState, re)
	case err != nil:
		p.t.Fatalf("%s's %s: %v", p.Name, p.What, err)
	}
	return i
}

// WaitLine is WaitLog returning the line too.
func (p *Proc) WaitLine(re string, from int, timeout time.Duration) (string, int) {
	p.t.Helper()
	line, i, err := p.tail.Wait(re, from, timeout)
	switch {
	case errors.Is(err, netlab.ErrExited):
		p.t.Fatalf("%s's %s exited (%v) before logging %q", p.Name, p.What, p.cmd.ProcessState, re)
	case err != nil:
		p.t.Fatalf("%s's %s: %v", p.Name, p.What, err)
	}
	return line, i
}

// LogTime returns the time= of a tandem log line (text format, to the
// millisecond), or the zero time.
func LogTime(line string) time.Time {
	_, rest, ok := strings.Cut(line, "time=")
	if !ok {
		return time.Time{}
	}
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	at, _ := time.Parse(time.RFC3339Nano, rest)
	return at
}

// Kill sends SIGKILL and waits for the process to go.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	if p.kids != nil {
		for _, pid := range p.kids() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	p.cmd.Process.Kill()
	<-p.done
}

// Pid returns the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Pids returns the process id and its children's (keepalived's VRRP
// process).
func (p *Proc) Pids() []int {
	pids := []int{p.Pid()}
	if p.kids != nil {
		pids = append(pids, p.kids()...)
	}
	return pids
}

// Term sends SIGTERM and returns at once; Stop then waits for the exit.
func (p *Proc) Term() {
	p.termOnce.Do(func() { p.cmd.Process.Signal(syscall.SIGTERM) })
}

// Stop sends SIGTERM (unless Term did) and waits for a clean exit
// (SIGKILL after 10 s).
func (p *Proc) Stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.Term()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s's %s did not stop within 10s of SIGTERM", p.Name, p.What)
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("%s's %s exited: %v", p.Name, p.What, p.cmd.ProcessState)
	}
	return nil
}

// A Sample is one connection attempt of a Poller.
type Sample struct {
	At  time.Time // when the attempt started
	Who string    // the director that answered; "" on error
	Err error
}

// A Poller opens a new TCP connection to a VIP every Every from the
// client's namespace (each attempt in its own goroutine, so a lost SYN
// does not delay the next one) and records who answered.
type Poller struct {
	timeout time.Duration
	mu      sync.Mutex
	samples []Sample
	stop    chan struct{}
	done    chan struct{}
}

// Poll starts polling addr (ip:port) from ns every every, for at most
// max attempts; each attempt gives up after timeout.
func Poll(ns *netlab.NS, addr string, every, timeout time.Duration, max int) *Poller {
	p := &Poller{timeout: timeout, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		tk := time.NewTicker(every)
		defer tk.Stop()
		for range max {
			at := time.Now()
			wg.Go(func() {
				s := Sample{At: at}
				s.Who, s.Err = ask(ns, addr, timeout)
				p.mu.Lock()
				p.samples = append(p.samples, s)
				p.mu.Unlock()
			})
			select {
			case <-p.stop:
				return
			case <-tk.C:
			}
		}
	}()
	return p
}

func ask(ns *netlab.NS, addr string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// Stop ends the polling and waits for the attempts in flight.
func (p *Poller) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// Samples returns the attempts so far, in order of start.
func (p *Poller) Samples() []Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := append([]Sample(nil), p.samples...)
	sortSamples(out)
	return out
}

// Last returns the last answer (by start time) and when it started.
func (p *Poller) Last() (string, time.Time) {
	s := p.Samples()
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].Who != "" {
			return s[i].Who, s[i].At
		}
	}
	return "", time.Time{}
}

// Settle waits until the attempts started so far have finished (one
// attempt timeout), so that Switch sees them all.
func (p *Poller) Settle() { time.Sleep(p.timeout + 50*time.Millisecond) }

// Switch finds, after since, the first attempt answered by to, and the
// last one before it answered by from: the client-observed gap is the
// time between their starts (the resolution is the polling interval).
// failed counts the attempts in between that got no answer. Call Settle
// first: an attempt still in flight is not counted yet.
func (p *Poller) Switch(since time.Time, from, to string) (gap time.Duration, failed int, ok bool) {
	s := p.Samples()
	first := -1
	for i, x := range s {
		if !x.At.Before(since) && x.Who == to {
			first = i
			break
		}
	}
	if first < 0 {
		return 0, 0, false
	}
	for i := first - 1; i >= 0; i-- {
		switch s[i].Who {
		case from:
			return s[first].At.Sub(s[i].At), failed, true
		case "":
			failed++
		}
	}
	return 0, failed, false
}

// Count returns how many attempts each director answered, and the errors
// under "".
func (p *Poller) Count() map[string]int {
	m := map[string]int{}
	for _, s := range p.Samples() {
		m[s.Who]++
	}
	return m
}

// WaitAnswer waits until an attempt started after since is answered by
// who, and returns that attempt's start.
func (p *Poller) WaitAnswer(t testing.TB, since time.Time, who string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, s := range p.Samples() {
			if !s.At.Before(since) && s.Who == who {
				return s.At
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no answer from %s within %v; answers: %v", who, timeout, p.Count())
	return time.Time{}
}

func sortSamples(s []Sample) {
	slices.SortStableFunc(s, func(a, b Sample) int { return a.At.Compare(b.At) })
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
