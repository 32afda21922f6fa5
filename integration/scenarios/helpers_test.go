// Package scenarios holds the lab's end-to-end tests. They run inside the
// lab VM (a real kernel with IPVS), started by the integration package's
// TestLab or by `go run ./integration/cmd/tandem-lab test`; outside the VM
// they skip.
package scenarios

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

var demo = os.Getenv("TANDEM_LAB_DEMO") == "1"

// vmOnly skips t outside the lab VM.
func vmOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("TANDEM_LAB_VM") != "1" {
		t.Skip("runs inside the lab VM: go test ./integration (or go run ./integration/cmd/tandem-lab test)")
	}
}

// say prints a line for the demo's audience (and the test log).
func say(t *testing.T, format string, a ...any) {
	t.Helper()
	if demo {
		fmt.Printf(format+"\n", a...)
		return
	}
	t.Logf(format, a...)
}

func newNS(t *testing.T, name string) *netlab.NS {
	t.Helper()
	n, err := netlab.New(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// natLab is the seed article's network: a client on the public side, the
// director between, real servers behind it on a bridge whose gateway is the
// director.
//
//	client 203.0.113.2 ── eth0 203.0.113.1 (+VIP 203.0.113.10) director
//	                       br0 192.168.100.1 ── rsN 192.168.100.1N (gw .1)
type natLab struct {
	client, director *netlab.NS
	rs               []*netlab.NS
	http             []*httpServer // rs[i]'s HTTP server
}

const vip = "203.0.113.10"

func newNATLab(t *testing.T, prefix string, nrs int) *natLab {
	t.Helper()
	l := &natLab{
		client:   newNS(t, prefix+"-client"),
		director: newNS(t, prefix+"-dir"),
	}
	must(t, netlab.Veth(l.client, "eth0", l.director, "eth0"))
	must(t, l.client.Addr("eth0", "203.0.113.2/24"))
	must(t, l.client.DefaultRoute("203.0.113.1"))
	must(t, l.director.Addr("eth0", "203.0.113.1/24"))
	must(t, l.director.Addr("eth0", vip+"/24"))
	must(t, l.director.Bridge("br0"))
	must(t, l.director.Addr("br0", "192.168.100.1/24"))
	for i := 1; i <= nrs; i++ {
		rs := newNS(t, fmt.Sprintf("%s-rs%d", prefix, i))
		port := fmt.Sprintf("rs%d", i)
		must(t, netlab.Veth(rs, "eth0", l.director, port))
		must(t, l.director.Enslave(port, "br0"))
		must(t, rs.Addr("eth0", fmt.Sprintf("192.168.100.%d/24", 10+i)))
		must(t, rs.DefaultRoute("192.168.100.1"))
		l.http = append(l.http, serveHTTP(t, rs, fmt.Sprintf("192.168.100.%d:80", 10+i), fmt.Sprintf("This is real server %d", i)))
		l.rs = append(l.rs, rs)
	}
	return l
}

// addHost adds one more namespace on the real servers' bridge, at
// 192.168.100.N/24 with the director as its gateway.
func (l *natLab) addHost(t *testing.T, name string, n int) *netlab.NS {
	t.Helper()
	h := newNS(t, name)
	port := fmt.Sprintf("h%d", n)
	must(t, netlab.Veth(h, "eth0", l.director, port))
	must(t, l.director.Enslave(port, "br0"))
	must(t, h.Addr("eth0", fmt.Sprintf("192.168.100.%d/24", n)))
	must(t, h.DefaultRoute("192.168.100.1"))
	return h
}

// httpServer is an HTTP server in a namespace that answers body on every
// path, and can be stopped (its listener and connections closed, so new
// connections are refused) and started again on the same address.
type httpServer struct {
	t    *testing.T
	ns   *netlab.NS
	addr string
	body string
	mu   sync.Mutex
	srv  *http.Server
}

// serveHTTP starts an httpServer in ns; the test's cleanup stops it.
func serveHTTP(t *testing.T, ns *netlab.NS, addr, body string) *httpServer {
	t.Helper()
	s := &httpServer{t: t, ns: ns, addr: addr, body: body}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *httpServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return
	}
	ln, err := s.ns.Listen("tcp", s.addr)
	must(s.t, err)
	body := s.body
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body+"\n")
	})}
	go s.srv.Serve(ln)
}

func (s *httpServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
}

// httpClient returns a client dialing from ns, one connection per request.
func httpClient(ns *netlab.NS) *http.Client {
	return &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			DialContext:       ns.DialContext,
			DisableKeepAlives: true,
		},
	}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// writeConfig writes an HCL cluster file into the test's temp dir.
func writeConfig(t *testing.T, hcl string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cluster.hcl")
	must(t, os.WriteFile(p, []byte(hcl), 0o644))
	return p
}

// tandemProc is a running `tandem run` inside a namespace.
type tandemProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	tail *netlab.LogTail
	done <-chan struct{}
}

// startTandem starts /tandem with args inside ns; its log lines are kept
// for waitLog and shown in the test log when the test fails.
func startTandem(t *testing.T, ns *netlab.NS, args ...string) *tandemProc {
	t.Helper()
	return startTandemBin(t, ns, "/tandem", args...)
}

// startTandemBin is startTandem with another tandem binary.
func startTandemBin(t *testing.T, ns *netlab.NS, bin string, args ...string) *tandemProc {
	t.Helper()
	cmd := ns.Command(context.Background(), append([]string{bin}, args...)...)
	if bin == "/tandem" && os.Getenv("TANDEM_BENCH_TANDEM_ENV") != "" {
		// Benchmarks: variables for this build only (say GODEBUG=...),
		// space-separated.
		cmd.Env = append(os.Environ(), strings.Fields(os.Getenv("TANDEM_BENCH_TANDEM_ENV"))...)
	}
	stderr, err := cmd.StderrPipe()
	must(t, err)
	cmd.Stdout = cmd.Stderr
	must(t, cmd.Start())
	p := &tandemProc{t: t, cmd: cmd, tail: netlab.Follow(stderr, cmd.Wait)}
	p.done = p.tail.Done()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("tandem log:\n%s", p.tail)
		}
	})
	return p
}

// waitLog waits for a log line matching re (after skipping the first from
// lines) and returns it with its index.
func (p *tandemProc) waitLog(re string, from int, timeout time.Duration) (string, int) {
	p.t.Helper()
	line, i, err := p.tail.Wait(re, from, timeout)
	switch {
	case errors.Is(err, netlab.ErrExited):
		p.t.Fatalf("tandem exited (%v) before logging %q:\n%s", p.cmd.ProcessState, re, p.tail)
	case err != nil:
		p.t.Fatalf("tandem: %v", err)
	}
	return line, i
}

// waitTransition waits for a VRRP transition of instance to state (after
// line from) that holds: no other transition of the instance follows it
// within settle. Under a starved VM a backup may miss a few adverts and
// flap to MASTER and back; the flap is logged and skipped, and the wait
// goes on from the transition that ended it.
func (p *tandemProc) waitTransition(instance, state string, from int, timeout time.Duration) int {
	p.t.Helper()
	const settle = 600 * time.Millisecond
	deadline := time.Now().Add(timeout)
	want := `vrrp transition.*instance=` + instance + ` .*to=` + state
	for {
		_, i := p.waitLog(want, from, time.Until(deadline))
		line, j, err := p.tail.Wait(`vrrp transition.*instance=`+instance+` `, i+1, settle)
		if err != nil {
			return i // none within settle (or the process ended: the caller's next wait says so)
		}
		p.t.Logf("skipping a flap: %s", line)
		from = j
		if !time.Now().Before(deadline) {
			p.t.Fatalf("tandem: no transition of %s to %s that held for %v within %v", instance, state, settle, timeout)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *tandemProc) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("tandem did not stop within 10s of SIGTERM")
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("tandem exited: %v", p.cmd.ProcessState)
	}
	return nil
}

var writesRe = regexp.MustCompile(`writes=(\d+)`)

// reconciled waits for the next "ipvs reconciled" line and returns its
// number of writes.
func (p *tandemProc) reconciled(from int) (writes int, at int) {
	p.t.Helper()
	return p.ipvsLine(`msg="ipvs reconciled"`, from)
}

// reloaded waits for a reload's IPVS update (the update path, no dump)
// and returns its writes.
func (p *tandemProc) reloaded(from int) (writes int, at int) {
	p.t.Helper()
	return p.ipvsLine(`msg="ipvs updated" reason=reload`, from)
}

func (p *tandemProc) ipvsLine(re string, from int) (writes int, at int) {
	p.t.Helper()
	line, i := p.waitLog(re, from, 20*time.Second)
	m := writesRe.FindStringSubmatch(line)
	if m == nil {
		p.t.Fatalf("no writes= in %q", line)
	}
	fmt.Sscan(m[1], &writes)
	return writes, i
}

// ipvsadm runs the real ipvsadm inside ns.
func ipvsadm(t *testing.T, ns *netlab.NS, args ...string) string {
	t.Helper()
	out, err := ns.Command(context.Background(), append([]string{"/usr/sbin/ipvsadm"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// probeLoop GETs url from c every interval until stopped, counting answers
// and errors.
type probeLoop struct {
	stop   chan struct{}
	done   chan struct{}
	ok     int
	errs   []string
	bodies map[string]int
}

func startProbeLoop(c *http.Client, url string, interval time.Duration, max int) *probeLoop {
	p := &probeLoop{stop: make(chan struct{}), done: make(chan struct{}), bodies: map[string]int{}}
	go func() {
		defer close(p.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for i := 0; i < max; i++ {
			select {
			case <-p.stop:
				return
			case <-tk.C:
			}
			b, err := get(c, url)
			if err != nil {
				p.errs = append(p.errs, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
				continue
			}
			p.ok++
			p.bodies[b]++
		}
	}()
	return p
}

func (p *probeLoop) finish() {
	close(p.stop)
	<-p.done
}
