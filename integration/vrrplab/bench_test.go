package vrrplab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The VRRP benchmarks of BENCHMARKS.md, side by side with keepalived on
// the same lab. They are long (about 12 minutes), so they run only with
// TANDEM_VRRP_BENCH=1:
//
//	sudo TANDEM_VRRP_BENCH=1 go test ./integration/vrrplab/ -run TestBench -v -timeout 30m
//
// TANDEM_VRRP_BENCH_RUNS changes the number of runs (20).

func benchOnly(t *testing.T) {
	t.Helper()
	if os.Getenv("TANDEM_VRRP_BENCH") == "" {
		t.Skip("set TANDEM_VRRP_BENCH=1 to run the VRRP benchmarks")
	}
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if why := HaveKeepalived(); why != "" {
		t.Skip(why)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		t.Logf("load average at start: %s", strings.TrimSpace(string(b)))
	}
}

func benchRuns() int {
	if n, err := strconv.Atoi(os.Getenv("TANDEM_VRRP_BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// impl is one VRRP implementation under test, on the lab's d1 (priority
// 150, the master) and d2 (100).
type impl struct {
	name  string
	start func(d *Director) *Proc
	state func(s string) string // log pattern of entering state s
}

func tandemImpl(l *Lab, interval time.Duration, publicExtra string, args ...string) impl {
	cfg := WriteConfig(l.T, fmt.Sprintf(`
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.77.0.10/24"]
  advert_interval = %q
%s
}
`, interval.String(), publicExtra))
	args = append([]string{"--log-level", "info"}, args...)
	return impl{
		name:  "tandem",
		start: func(d *Director) *Proc { return l.Start(d, cfg, args...) },
		state: func(s string) string { return fmt.Sprintf(transition, "public", s) },
	}
}

func keepalivedImpl(l *Lab, interval time.Duration) impl {
	conf := func(prio int) string {
		return KeepalivedConf("tvl", KAInstance{Name: "public", VRID: 51, Interface: "eth0", Priority: prio,
			Version: 3, Interval: interval, Addresses: []string{"10.77.0.10/24"}})
	}
	return impl{
		name: "keepalived",
		start: func(d *Director) *Proc {
			prio := 100
			if d.Name == "d1" {
				prio = 150
			}
			return l.StartKeepalived(d, conf(prio))
		},
		state: func(s string) string { return KAState("public", s) },
	}
}

// pair is a running d1/d2 pair of one implementation.
type pair struct {
	l        *Lab
	im       impl
	p1, p2   *Proc
	interval time.Duration
}

// startBench starts d1, waits for it to be master, then d2.
func startBench(l *Lab, im impl, interval time.Duration) *pair {
	l.T.Helper()
	p := &pair{l: l, im: im, interval: interval}
	p.p1 = im.start(l.Director("d1"))
	p.p1.WaitLog(im.state("MASTER"), 0, 4*interval+5*time.Second)
	p.p2 = im.start(l.Director("d2"))
	p.p2.WaitLog(im.state("BACKUP"), 0, 5*time.Second)
	l.WaitHolder(vip, "d1", 3*time.Second)
	return p
}

// restore brings d1 back as master the fast way when d2 is master and d1
// is stopped: d1 starts (backup: it would wait Master_Down_Interval to
// preempt), d2 stops gracefully (d1 takes over after Skew_Time), d2
// starts again as backup.
func (p *pair) restore() {
	l, im := p.l, p.im
	l.T.Helper()
	p.p1 = im.start(l.Director("d1"))
	p.p1.WaitLog(im.state("BACKUP"), 0, 5*time.Second)
	n := p.p1.Lines()
	if err := p.p2.Stop(); err != nil {
		l.T.Fatal(err)
	}
	p.p1.WaitLog(im.state("MASTER"), n, 4*p.interval+3*time.Second)
	p.p2 = im.start(l.Director("d2"))
	p.p2.WaitLog(im.state("BACKUP"), 0, 5*time.Second)
	l.WaitHolder(vip, "d1", 3*time.Second)
}

// clientTime starts a poller, waits until from answers, runs event at a
// random point of the advert timer, and returns the time from the event to
// the first connection answered by to.
func (p *pair) clientTime(from, to string, event func()) time.Duration {
	l := p.l
	l.T.Helper()
	pl := Poll(l.Client, vipPort, 10*time.Millisecond, 300*time.Millisecond, 2000)
	defer pl.Stop()
	pl.WaitAnswer(l.T, time.Now(), from, 5*time.Second)
	time.Sleep(rand.N(p.interval))
	at := time.Now()
	event()
	got := pl.WaitAnswer(l.T, at, to, 4*p.interval+5*time.Second)
	return got.Sub(at)
}

// hard: d1 loses its link and is killed; d2 takes over.
func (p *pair) hard() time.Duration {
	d1 := p.l.Director("d1")
	t := p.clientTime("d1", "d2", func() {
		p.l.SetLink(d1, "eth0", false)
		p.p1.Kill()
	})
	p.l.SetLink(d1, "eth0", true)
	return t
}

// graceful: d1 is stopped with SIGTERM; d2 takes over.
func (p *pair) graceful() time.Duration {
	t := p.clientTime("d1", "d2", p.p1.Term)
	if err := p.p1.Stop(); err != nil {
		p.l.T.Fatal(err)
	}
	return t
}

// preemptBack: d2 is master, d1 restarts and preempts.
func (p *pair) preemptBack() time.Duration {
	return p.clientTime("d2", "d1", func() {
		p.p1 = p.im.start(p.l.Director("d1"))
	})
}

type stat struct{ min, med, max time.Duration }

func stats(ds []time.Duration) stat {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stat{s[0], med, s[n-1]}
}

func (s stat) String() string {
	return fmt.Sprintf("%d / **%d** / %d ms", s.min.Milliseconds(), s.med.Milliseconds(), s.max.Milliseconds())
}

func benchRow(t *testing.T, what string, ds []time.Duration) {
	t.Helper()
	report(t, "| %s | %d | %v |", what, len(ds), stats(ds))
}

// TestBenchFailover: client-observed failover, tandem and keepalived, at
// 1 s and 100 ms adverts: hard failure (link down + SIGKILL), graceful
// stop (SIGTERM) and preempt back (5 runs), then tandem's pair_handover.
func TestBenchFailover(t *testing.T) {
	benchOnly(t)
	runs := benchRuns()
	preempts := min(5, runs)
	for _, interval := range []time.Duration{time.Second, 100 * time.Millisecond} {
		for _, which := range []string{"tandem", "keepalived"} {
			t.Run(fmt.Sprintf("%s/%v", which, interval), func(t *testing.T) {
				l := New(t, tandem, "tvl-bench", 2, "10.77.0.0")
				l.Serve()
				im := tandemImpl(l, interval, "")
				if which == "keepalived" {
					im = keepalivedImpl(l, interval)
				}
				p := startBench(l, im, interval)
				var hard, grace, back []time.Duration
				for i := range runs {
					hard = append(hard, p.hard())
					if i < preempts {
						n2 := p.p2.Lines()
						back = append(back, p.preemptBack())
						p.p1.WaitLog(im.state("MASTER"), 0, 5*time.Second)
						p.p2.WaitLog(im.state("BACKUP"), n2, 5*time.Second)
						l.WaitHolder(vip, "d1", 3*time.Second)
					} else {
						p.restore()
					}
				}
				for range runs {
					grace = append(grace, p.graceful())
					p.restore()
				}
				benchRow(t, fmt.Sprintf("%s hard failure, %v adverts", which, interval), hard)
				benchRow(t, fmt.Sprintf("%s graceful stop, %v adverts", which, interval), grace)
				benchRow(t, fmt.Sprintf("%s preempt back, %v adverts", which, interval), back)
			})
		}
	}
	t.Run("tandem/pair_handover", func(t *testing.T) {
		l := New(t, tandem, "tvl-bench", 2, "10.77.0.0")
		l.Serve()
		im := tandemImpl(l, time.Second, "  pair_handover = true")
		p := startBench(l, im, time.Second)
		var grace []time.Duration
		for range runs {
			grace = append(grace, p.graceful())
			p.restore()
		}
		benchRow(t, "tandem graceful stop, pair_handover, 1s adverts", grace)
	})
}

// memField returns the sum of the /proc/PID/status field (VmRSS,
// RssAnon, RssFile) of pids, in kB.
func memField(t *testing.T, pids []int, field string) int {
	t.Helper()
	total := 0
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		must(t, err)
		m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no %s for pid %d", field, pid)
		}
		n, _ := strconv.Atoi(string(m[1]))
		total += n
	}
	return total
}

// mem is the resident memory of pids: total, anonymous and file-backed
// (the binaries' and libraries' pages, shared with the page cache).
type mem struct{ rss, anon, file int }

func memOf(t *testing.T, pids []int) mem {
	return mem{memField(t, pids, "VmRSS"), memField(t, pids, "RssAnon"), memField(t, pids, "RssFile")}
}

func (m mem) String() string {
	mb := func(kb int) float64 { return float64(kb) / 1024 }
	return fmt.Sprintf("%.1f MB (anonymous %.1f, file %.1f)", mb(m.rss), mb(m.anon), mb(m.file))
}

// TestBenchRSS: the resident memory of one node running two instances
// (master of both), tandem --no-ipvs against keepalived's processes
// summed, after 10 s of 100 ms adverts.
func TestBenchRSS(t *testing.T) {
	benchOnly(t)
	l := New(t, tandem, "tvl-rss", 2, "10.77.0.0")
	l.AddLink(1, "10.78.0.0")
	d1 := l.Director("d1")
	cfg := WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.77.0.10/24"]
  advert_interval = "100ms"
}
vrrp "gateway" {
  vrid            = 52
  interface       = "eth1"
  addresses       = ["10.78.0.10/24"]
  advert_interval = "100ms"
}
sync_group "lb" { instances = ["public", "gateway"] }
`)
	measure := func(p *Proc) mem {
		time.Sleep(10 * time.Second)
		return memOf(t, p.Pids())
	}
	p := l.Start(d1, cfg, "--log-level", "info")
	p.WaitLog(fmt.Sprintf(transition, "gateway", "MASTER"), 0, 5*time.Second)
	td := measure(p)
	must(t, p.Stop())
	p = l.Start(d1, cfg, "--log-level", "info", "--lock-memory")
	p.WaitLog(fmt.Sprintf(transition, "gateway", "MASTER"), 0, 5*time.Second)
	tdLocked := measure(p)
	must(t, p.Stop())

	k := l.StartKeepalived(d1, KeepalivedConf("tvl",
		KAInstance{Name: "public", VRID: 51, Interface: "eth0", Priority: 150, Version: 3,
			Interval: 100 * time.Millisecond, Addresses: []string{"10.77.0.10/24"}},
		KAInstance{Name: "gateway", VRID: 52, Interface: "eth1", Priority: 150, Version: 3,
			Interval: 100 * time.Millisecond, Addresses: []string{"10.78.0.10/24"}}))
	k.WaitLog(KAState("gateway", "MASTER"), 0, 5*time.Second)
	ka := measure(k)
	must(t, k.Stop())
	report(t, "| RSS, one node, 2 instances | tandem %v (with --lock-memory %v) | keepalived (2 processes) %v |",
		td, tdLocked, ka)
}

// TestBenchStress: 10 ms adverts for 60 s under each load, without and
// with the documented settings (--realtime 10 --lock-memory); the
// transitions after convergence are counted (every one is false: nothing
// failed). The loads: busy shell loops (four per core), then stress-ng
// (Debian's package; scripts/setup installs it): CPU (--cpu 0, a worker
// per core), memory (--vm 2 --vm-bytes 1G: 2 GiB in all, mapped, touched
// and unmapped over and over) and disk I/O (--hdd 2 --hdd-bytes 512M in a
// temporary directory on disk, keepalived#2066's case). TANDEM_VRRP_STRESS
// changes the duration, TANDEM_VRRP_STRESS_LOADS picks loads (a comma-
// separated list of loops, cpu, vm, hdd), TANDEM_VRRP_STRESS_ADVERT the
// advert interval (default 10ms).
func TestBenchStress(t *testing.T) {
	benchOnly(t)
	dur := 60 * time.Second
	if d, err := time.ParseDuration(os.Getenv("TANDEM_VRRP_STRESS")); err == nil {
		dur = d
	}
	advert := 10 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("TANDEM_VRRP_STRESS_ADVERT")); err == nil && d > 0 {
		advert = d
	}
	ncpu := runtime.NumCPU()
	loads := []struct {
		name, what string
		start      func(t *testing.T, limit time.Duration) func()
	}{
		{"loops", fmt.Sprintf("%d busy shell loops on %d cores", 4*ncpu, ncpu),
			func(t *testing.T, limit time.Duration) func() { return spin(t, 4*ncpu, limit) }},
		{"cpu", fmt.Sprintf("stress-ng --cpu 0 (%d workers on %d cores)", ncpu, ncpu),
			func(t *testing.T, limit time.Duration) func() { return stressNG(t, limit, "--cpu", "0") }},
		{"vm", "stress-ng --vm 2 --vm-bytes 1G (2 GiB)",
			func(t *testing.T, limit time.Duration) func() {
				return stressNG(t, limit, "--vm", "2", "--vm-bytes", "1G")
			}},
		{"hdd", "stress-ng --hdd 2 --hdd-bytes 512M",
			func(t *testing.T, limit time.Duration) func() {
				return stressNG(t, limit, "--hdd", "2", "--hdd-bytes", "512M", "--temp-path", t.TempDir())
			}},
	}
	pick := strings.Split(os.Getenv("TANDEM_VRRP_STRESS_LOADS"), ",")
	for _, load := range loads {
		if pick[0] != "" && !slices.Contains(pick, load.name) {
			continue
		}
		for _, rt := range []bool{false, true} {
			name := "plain"
			var args []string
			if rt {
				name, args = "realtime", []string{"--realtime", "10", "--lock-memory"}
			}
			t.Run(load.name+"/"+name, func(t *testing.T) {
				l := New(t, tandem, "tvl-stress", 2, "10.77.0.0")
				im := tandemImpl(l, advert, "", args...)
				p := startBench(l, im, advert)
				time.Sleep(500 * time.Millisecond)
				n1, n2 := p.p1.Lines(), p.p2.Lines()
				stop := load.start(t, dur+10*time.Second)
				time.Sleep(dur)
				stop()
				rx := regexp.MustCompile(`msg="vrrp transition"`)
				count := func(p *Proc, from int) int {
					c := 0
					for _, line := range strings.Split(p.LogSince(from), "\n") {
						if rx.MatchString(line) {
							c++
						}
					}
					return c
				}
				c1, c2 := count(p.p1, n1), count(p.p2, n2)
				if c1+c2 > 0 && c1+c2 <= 20 {
					for _, pr := range []*Proc{p.p1, p.p2} {
						for _, line := range strings.Split(pr.LogSince(map[*Proc]int{p.p1: n1, p.p2: n2}[pr]), "\n") {
							if rx.MatchString(line) {
								t.Logf("%s: %s", pr.Name, line)
							}
						}
					}
				}
				report(t, "| %v adverts, %v, %s, %s | transitions d1 %d, d2 %d |", advert, dur, load.what, name, c1, c2)
			})
		}
	}
}

// stressNG runs stress-ng with args, bounded by its own --timeout to
// limit, in a process group of its own, and returns a func that stops it
// (SIGTERM to that group, which stress-ng passes to its workers; SIGKILL
// to the group after 10 s). The func also runs at the end of the test.
func stressNG(t *testing.T, limit time.Duration, args ...string) func() {
	t.Helper()
	bin, err := exec.LookPath("stress-ng")
	if err != nil {
		t.Fatal("stress-ng not found: run scripts/setup (it installs Debian's stress-ng)")
	}
	secs := strconv.Itoa(int(limit.Seconds()) + 1)
	c := exec.Command(bin, append(args, "--timeout", secs+"s", "--quiet")...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, c.Start())
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			select {
			case <-done:
				return
			default:
			}
			pgid := c.Process.Pid // Setpgid: the group is the one we started
			syscall.Kill(-pgid, syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				syscall.Kill(-pgid, syscall.SIGKILL)
				<-done
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// spin starts n busy shell loops, each bounded by timeout(1) to limit, and
// returns a func that stops them (SIGTERM to the timeout processes this
// test started, which pass it on to their loop).
func spin(t *testing.T, n int, limit time.Duration) func() {
	t.Helper()
	var cmds []*exec.Cmd
	for range n {
		c := exec.CommandContext(context.Background(), "timeout", strconv.Itoa(int(limit.Seconds())),
			"sh", "-c", "while :; do :; done")
		must(t, c.Start())
		cmds = append(cmds, c)
	}
	stop := func() {
		for _, c := range cmds {
			if c.ProcessState == nil {
				c.Process.Signal(syscall.SIGTERM)
				c.Wait()
			}
		}
	}
	t.Cleanup(stop)
	return stop
}
