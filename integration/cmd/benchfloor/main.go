// Command benchfloor is the health-check scale benchmark's measuring
// stick: the least a process does to run the bench's 10 000 http checks
// on kept connections, one request write and one answer read per probe,
// from one locked thread that blocks in epoll_wait, with no health-check
// state, no timers but a 50 ms grid, and every tenth probe on a new
// connection (a reset close and a blocking connect).
//
// It is not a checker: it judges nothing and programs no IPVS. Run it in
// the lab VM beside tandem, in the same window, to see how much of
// tandem's CPU is its own structure (the Go scheduler, the Manager, the
// poller's bookkeeping) rather than the kernel work of the probes:
//
//	CGO_ENABLED=0 go build -o /tmp/benchfloor ./integration/cmd/benchfloor
//	TANDEM_BENCH_AB=1 TANDEM_BENCH_ALT=/tmp/benchfloor TANDEM_BENCH_ALT_NOTABLE=1 \
//	  TANDEM_BENCH_KINDS=http-reuse TANDEM_BENCH_INTERVALS=20 \
//	  go run ./integration/cmd/tandem-lab bench -run TestBenchHealthScale
//
// It probes the bench's real servers, 10.200.0.1 to 10.200.39.16 port
// 9000, every BENCHFLOOR_INTERVAL seconds (default 20), and ignores its
// arguments (the harness starts it as it starts tandem).
package main

import (
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

const (
	checks = 10000
	step   = 50 * time.Millisecond // tandem's grid (healthcheck.gridStep)
	renew  = 10                    // probes per connection (keepalive_requests)
)

func main() {
	runtime.LockOSThread()
	interval := 20
	if v, err := strconv.Atoi(os.Getenv("BENCHFLOOR_INTERVAL")); err == nil && v > 0 {
		interval = v
	}
	unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1 << 17, Max: 1 << 17})
	slots := int(time.Duration(interval) * time.Second / step)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: tandem-healthcheck\r\n\r\n")
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		panic(err)
	}
	sas := make([]unix.SockaddrInet4, checks)
	fds := make([]int, checks)
	uses := make([]int, checks)
	for i := range checks {
		n := i + 1
		sas[i] = unix.SockaddrInet4{Port: 9000, Addr: [4]byte{10, 200, byte(n >> 8), byte(n)}}
		fds[i], uses[i] = -1, i%renew
	}
	dial := func(i int) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return
		}
		if err := unix.Connect(fd, &sas[i]); err != nil {
			unix.Close(fd)
			return
		}
		unix.SetNonblock(fd, true)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(fd)}
		if unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev) != nil {
			unix.Close(fd)
			return
		}
		fds[i] = fd
	}
	buf := make([]byte, 16<<10)
	events := make([]unix.EpollEvent, 512)
	epoch := time.Now()
	for slot := 0; ; slot++ {
		// Read answers until the slot's instant.
		at := epoch.Add(time.Duration(slot) * step)
		for {
			ms := max(0, int((time.Until(at)+time.Millisecond-1)/time.Millisecond))
			n, _ := unix.EpollWait(ep, events, ms)
			for _, ev := range events[:max(n, 0)] {
				unix.Read(int(ev.Fd), buf)
			}
			if ms == 0 && n <= 0 {
				break
			}
		}
		// The slot's probes: a request each, every tenth on a new
		// connection.
		for i := slot % slots; i < checks; i += slots {
			uses[i]++
			if fds[i] >= 0 && uses[i]%renew == 0 {
				unix.SetsockoptLinger(fds[i], unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1})
				unix.Close(fds[i])
				fds[i] = -1
			}
			if fds[i] < 0 {
				if dial(i); fds[i] < 0 {
					continue
				}
			}
			unix.Write(fds[i], req)
		}
	}
}
