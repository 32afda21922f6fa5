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
// work is not charged to, and does not compete inside, the test process:
// several SO_REUSEPORT listeners on blocking sockets, each drained by
// threads looping on accept4 and close (for http: read the request, write
// a fixed 200, close). No Go netpoller, no per-connection goroutine. It
// counts the connections it accepted per 100 ms and prints them on stdout
// as "B <unix time / 100 ms> <count>" lines once each 100 ms is over. In
// mode tcp-half (half-open checks, which the kernel answers without a
// connection) it counts probes instead: the segments its namespace
// received in the 100 ms (Tcp InSegs), halved (a SYN and a reset each).
const (
	benchServerEnv     = "TANDEM_BENCH_SERVER"      // the address to listen on
	benchServerModeEnv = "TANDEM_BENCH_SERVER_MODE" // tcp, tcp-half or http
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
	benchThreadsPerList = 2 // accept loops per socket
	bucketWidth         = 100 * time.Millisecond
)

var httpOK = []byte("HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

func benchServer(addr, mode string) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	var ring [64]atomic.Int64
	for range benchListeners {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
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
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1}); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
			return err
		}
		if err := unix.Listen(fd, 65535); err != nil {
			return err
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
					ring[time.Now().UnixNano()/int64(bucketWidth)%int64(len(ring))].Add(1)
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

// benchServerProc is a running bench server and what it has counted.
type benchServerProc struct {
	pid    int
	mu     sync.Mutex
	counts map[int64]int64 // per 100 ms bucket
}

// startBenchServer runs the bench server in ns on addr (mode tcp or http)
// and stops it at the end of the test.
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

// window returns the connections counted per 100 ms from start for d.
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
