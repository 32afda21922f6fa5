package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// The health scale benchmark's real server runs in a process of its own
// (this test binary, re-executed with benchServerEnv set), so that its
// work is not charged to, and does not compete inside, the test process.
// No Go netpoller, no per-connection goroutine. Its modes:
//
//   - tcp: several SO_REUSEPORT listeners on blocking sockets, each
//     drained by threads looping on accept4 and close.
//   - http: the same, the threads reading the request and writing a fixed
//     HTTP/1.0 200 (Connection: close) before the close.
//   - tcp-half: as tcp, for half-open checks, which the kernel answers
//     without a connection.
//   - http-keep: HTTP/1.1 keep-alive, for checks that reuse their
//     connection. 10 000 idle persistent connections would hold as many
//     blocking threads, so here each of the SO_REUSEPORT listeners is
//     non-blocking and has an epoll loop of its own on a locked OS thread:
//     it accepts until EAGAIN, watches the connections level-triggered,
//     and answers each complete request (requests have no body) with a
//     fixed 200, keeping the connection open, or closing it after the
//     answer when the request is HTTP/1.0 or says "Connection: close"
//     (keepalived's HTTP_GET).
//
// It counts per 100 ms what it served and prints the counts on stdout as
// "B <unix time / 100 ms> <count>" lines once each 100 ms is over: the
// connections it accepted (tcp, http), the requests it answered
// (http-keep), or for tcp-half the probes: the segments its namespace
// received in the 100 ms (Tcp InSegs), halved (a SYN and a reset each).
const (
	benchServerEnv     = "TANDEM_BENCH_SERVER"      // the address to listen on
	benchServerModeEnv = "TANDEM_BENCH_SERVER_MODE" // tcp, tcp-half, http or http-keep
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(benchServerEnv); addr != "" {
		if err := benchServer(addr, os.Getenv(benchServerModeEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "bench server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	benchListeners      = 4 // SO_REUSEPORT sockets
	benchThreadsPerList = 2 // accept loops per socket (but http-keep: one epoll loop)
	bucketWidth         = 100 * time.Millisecond
)

var (
	httpOK = []byte("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	// http-keep's answers.
	httpKeepOK  = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	httpCloseOK = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
)

func benchServer(addr, mode string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	var ring [64]atomic.Int64
	count := func(n int64) {
		ring[time.Now().UnixNano()/int64(bucketWidth)%int64(len(ring))].Add(n)
	}
	keep := mode == "http-keep"
	if keep {
		// A descriptor per kept connection: more than the default 1 024
		// (or the VM's 4 096).
		raiseNoFile(1 << 17)
	}
	for range benchListeners {
		typ := unix.SOCK_STREAM | unix.SOCK_CLOEXEC
		if keep {
			typ |= unix.SOCK_NONBLOCK
		}
		fd, err := unix.Socket(unix.AF_INET, typ, 0)
		if err != nil {
			return err
		}
		for _, o := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
				return err
			}
		}
		// Inherited by accepted sockets: a client that sends nothing
		// holds a thread for 1 s at most.
		if !keep {
			if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1}); err != nil {
				return err
			}
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
			return err
		}
		if err := unix.Listen(fd, 65535); err != nil {
			return err
		}
		if keep {
			l, err := newKeepLoop(fd, count)
			if err != nil {
				return err
			}
			go l.run()
			continue
		}
		for range benchThreadsPerList {
			go func() {
				runtime.LockOSThread()
				buf := make([]byte, 4096)
				for {
					nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
					if err != nil {
						continue
					}
					if mode == "http" {
						serveOne(nfd, buf)
					}
					unix.Close(nfd)
					count(1)
				}
			}()
		}
	}
	out := bufio.NewWriter(os.Stdout)
	last := time.Now().UnixNano() / int64(bucketWidth)
	segs := inSegs()
	for {
		time.Sleep(bucketWidth)
		cur := time.Now().UnixNano() / int64(bucketWidth)
		if mode == "tcp-half" {
			n := inSegs()
			fmt.Fprintf(out, "B %d %d\n", cur-1, (n-segs)/2)
			segs, last = n, cur
		}
		for ; last < cur; last++ {
			fmt.Fprintf(out, "B %d %d\n", last, ring[last%int64(len(ring))].Swap(0))
		}
		if err := out.Flush(); err != nil {
			return nil // the harness is gone
		}
	}
}

// inSegs returns the Tcp InSegs counter of the process's network namespace.
func inSegs() int64 {
	return netCounters(os.Getpid())["Tcp.InSegs"]
}

// serveOne reads one request (up to its blank line) and answers 200.
func serveOne(fd int, buf []byte) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err != nil || m <= 0 {
			return
		}
		n += m
		if bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
			unix.Write(fd, httpOK)
			return
		}
	}
}

// raiseNoFile raises the process's descriptor limit to n if it can (root
// can raise the hard limit), else the soft limit to the hard one.
func raiseNoFile(n uint64) {
	var l unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &l) != nil || l.Cur >= n {
		return
	}
	if l.Max < n && unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}) == nil {
		return
	}
	l.Cur = l.Max
	unix.Setrlimit(unix.RLIMIT_NOFILE, &l)
}

// keepLoop is one http-keep listener's epoll loop.
type keepLoop struct {
	lfd, ep int
	count   func(int64)
	buf     []byte         // what one read returns
	out     []byte         // the answers to one read's requests
	partial map[int][]byte // a request's first bytes, by connection
}

// keepMaxRequest bounds a request that spans reads; a connection sending
// more without its blank line is closed.
const keepMaxRequest = 16 << 10

func newKeepLoop(lfd int, count func(int64)) (*keepLoop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(lfd)}); err != nil {
		unix.Close(ep)
		return nil, err
	}
	return &keepLoop{lfd: lfd, ep: ep, count: count, buf: make([]byte, 64<<10), partial: map[int][]byte{}}, nil
}

// run serves the listener's connections on the calling goroutine's own
// OS thread, forever.
func (l *keepLoop) run() {
	runtime.LockOSThread()
	events := make([]unix.EpollEvent, 512)
	for {
		n, err := unix.EpollWait(l.ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench server: epoll_wait:", err)
			os.Exit(1)
		}
		for _, ev := range events[:n] {
			if fd := int(ev.Fd); fd == l.lfd {
				l.accept()
			} else {
				l.serve(fd)
			}
		}
	}
}

// accept takes the listener's pending connections until EAGAIN.
func (l *keepLoop) accept() {
	for {
		fd, _, err := unix.Accept4(l.lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch err {
		case nil:
		case unix.EINTR, unix.ECONNABORTED:
			continue
		case unix.EAGAIN:
			return
		default: // EMFILE and the like: the listener is ready still
			fmt.Fprintln(os.Stderr, "bench server: accept4:", err)
			time.Sleep(10 * time.Millisecond)
			return
		}
		if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
			unix.Close(fd)
		}
	}
}

// serve reads once from a ready connection (level-triggered: what is left
// wakes the loop again) and answers every complete request read.
func (l *keepLoop) serve(fd int) {
	n, err := unix.Read(fd, l.buf)
	if err == unix.EAGAIN || err == unix.EINTR {
		return
	}
	if err != nil || n <= 0 {
		l.close(fd)
		return
	}
	data := l.buf[:n]
	if p, ok := l.partial[fd]; ok {
		data = append(p, data...)
	}
	l.out = l.out[:0]
	var answered int64
	closing := false
	for !closing {
		i := bytes.Index(data, []byte("\r\n\r\n"))
		if i < 0 {
			break
		}
		closing = wantsClose(data[:i])
		data = data[i+4:]
		if closing {
			l.out = append(l.out, httpCloseOK...)
		} else {
			l.out = append(l.out, httpKeepOK...)
		}
		answered++
	}
	if len(l.out) > 0 {
		// Small answers to a client that reads them: a short write is a
		// client that does not, and is dropped.
		if m, err := unix.Write(fd, l.out); err != nil || m != len(l.out) {
			l.close(fd)
			return
		}
		l.count(answered)
	}
	switch {
	case closing || len(data) > keepMaxRequest:
		l.close(fd)
	case len(data) > 0:
		l.partial[fd] = append(l.partial[fd][:0:0], data...)
	default:
		delete(l.partial, fd)
	}
}

// close closes a connection (which also takes it out of the epoll set).
func (l *keepLoop) close(fd int) {
	delete(l.partial, fd)
	unix.Close(fd)
}

// wantsClose reports whether the request head (without its blank line)
// asks for the connection to be closed after the answer: an HTTP/1.0
// request line or a "Connection: close" header.
func wantsClose(head []byte) bool {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if bytes.HasSuffix(bytes.TrimSpace(line), []byte("HTTP/1.0")) {
		return true
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.EqualFold(bytes.TrimSpace(name), []byte("Connection")) {
			continue
		}
		for _, tok := range bytes.Split(value, []byte(",")) {
			if bytes.EqualFold(bytes.TrimSpace(tok), []byte("close")) {
				return true
			}
		}
	}
	return false
}

// benchServerProc is a running bench server and what it has counted.
type benchServerProc struct {
	pid    int
	mu     sync.Mutex
	counts map[int64]int64 // per 100 ms bucket
}

// startBenchServer runs the bench server in ns on addr (mode tcp, tcp-half,
// http or http-keep) and stops it at the end of the test.
func startBenchServer(t *testing.T, ns *netlab.NS, addr, mode string) *benchServerProc {
	t.Helper()
	exe, err := os.Executable()
	must(t, err)
	// The accept queues: 10 000 handshakes a second must not overflow them.
	must(t, ns.Sysctl("net/core/somaxconn", "65535"))
	must(t, ns.Sysctl("net/ipv4/tcp_max_syn_backlog", "65535"))
	cmd := ns.Command(context.Background(), exe)
	cmd.Env = append(os.Environ(), benchServerEnv+"="+addr, benchServerModeEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	s := &benchServerProc{pid: cmd.Process.Pid, counts: map[int64]int64{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "B" {
				continue
			}
			i, _ := strconv.ParseInt(f[1], 10, 64)
			n, _ := strconv.ParseInt(f[2], 10, 64)
			s.mu.Lock()
			s.counts[i] += n
			s.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		<-done
	})
	return s
}

// window returns what the server counted per 100 ms (connections,
// requests or probes, by mode) from start for d.
func (s *benchServerProc) window(start time.Time, d time.Duration) []int64 {
	first := (start.UnixNano() + int64(bucketWidth) - 1) / int64(bucketWidth)
	n := int64(d / bucketWidth)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int64, n)
	for i := range out {
		out[i] = s.counts[first+int64(i)]
	}
	return out
}

// spread summarises per-100 ms counts.
func spread(c []int64) (summary string, total int64) {
	c = slices.Clone(c)
	slices.Sort(c)
	for _, v := range c {
		total += v
	}
	return fmt.Sprintf("checks per 100 ms: min %d / median %d / max %d (mean %d)",
		c[0], c[len(c)/2], c[len(c)-1], total/int64(len(c))), total
}

// netCounters reads the TCP counters of pid's network namespace that tell
// whether connections were attempted and dropped: Tcp ActiveOpens,
// PassiveOpens, AttemptFails and TcpExt ListenOverflows, ListenDrops,
// TCPReqQFullDrop, SyncookiesSent.
func netCounters(pid int) map[string]int64 {
	return netCountersAt(fmt.Sprintf("/proc/%d/net", pid))
}

// netCountersAt reads the counters of netCounters from a /proc/.../net
// directory.
func netCountersAt(dir string) map[string]int64 {
	out := map[string]int64{}
	for _, f := range []string{"snmp", "netstat"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			continue
		}
		lines := strings.Split(string(b), "\n")
		for i := 0; i+1 < len(lines); i += 2 {
			names, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
			if len(names) != len(vals) || len(names) == 0 {
				continue
			}
			for j := 1; j < len(names); j++ {
				switch names[j] {
				case "InSegs", "ActiveOpens", "PassiveOpens", "AttemptFails", "ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "SyncookiesSent", "EstabResets", "OutRsts":
					v, _ := strconv.ParseInt(vals[j], 10, 64)
					out[strings.TrimSuffix(names[0], ":")+"."+names[j]] = v
				}
			}
		}
	}
	return out
}

func diffCounters(a, b map[string]int64) string {
	var keys []string
	for k := range b {
		if b[k] != a[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprintf("%s=%d", k, b[k]-a[k]))
	}
	return strings.Join(s, " ")
}

// vmCPU returns the VM's cpu line of /proc/stat: user nice system idle
// iowait irq softirq.
func vmCPU() []int64 {
	b, _ := os.ReadFile("/proc/stat")
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var out []int64
	for _, x := range f[1:8] {
		v, _ := strconv.ParseInt(x, 10, 64)
		out = append(out, v)
	}
	return out
}

func vmCPUDiff(a, b []int64, secs float64) string {
	names := []string{"user", "nice", "sys", "idle", "iowait", "irq", "softirq"}
	var s []string
	for i := range a {
		s = append(s, fmt.Sprintf("%s %.0f%%", names[i], float64(b[i]-a[i])/secs))
	}
	return strings.Join(s, " ")
}
