package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
	"github.com/tandem-lb/tandem/ipvs"
)

// Overload is not failure (issue 16, item 9). A server farm that slows
// down past the checks' timeout (a farm at capacity) makes most probes
// time out at once: the director must hold those timeouts, keep the
// table whole and say so (log, status, metrics). Stopped servers (refused)
// still leave the table within fall × interval + timeout.

// slowFarm is n HTTP real servers on one host (ports base..base+n-1),
// whose answers can be delayed past the checks' timeout for 9 requests
// in 10, and which can be stopped (refused).
type slowFarm struct {
	srv    *http.Server
	slow   atomic.Bool
	reqs   atomic.Int64 // requests while slow
	served atomic.Int64 // answers, slow or not
	conns  atomic.Int64 // connections accepted
	wg     sync.WaitGroup
}

func startSlowFarm(t *testing.T, ns *netlab.NS, addr string, base, n int, delay time.Duration) *slowFarm {
	t.Helper()
	raiseNoFile(uint64(3*n + 1024)) // listeners and kept connections
	f := &slowFarm{}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.slow.Load() && f.reqs.Add(1)%10 != 0 {
			select {
			case <-time.After(delay): // past the timeout
			case <-r.Context().Done():
				return
			}
		}
		w.Write([]byte("ok\n"))
		f.served.Add(1)
	}), ConnState: func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.conns.Add(1)
		}
	}}
	for i := range n {
		ln, err := ns.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(base+i)))
		must(t, err)
		f.wg.Go(func() { f.srv.Serve(ln) })
	}
	t.Cleanup(f.stop)
	return f
}

// stop closes the listeners and connections: new connections are
// refused.
func (f *slowFarm) stop() {
	f.srv.Close()
	f.wg.Wait()
}

// overloadDoc is the part of `tandem status --json` the test reads.
type overloadDoc struct {
	VirtualServers []struct {
		Name string
		Held *struct {
			Reason    string
			TimingOut int `json:"timing_out"`
			Checked   int
		}
		RealServers []struct{ Health string } `json:"real_servers"`
	} `json:"virtual_servers"`
	HealthChecks *struct {
		MassTimeout  bool   `json:"mass_timeout"`
		Overloaded   bool   `json:"overloaded"`
		LateProbes   uint64 `json:"late_probes"`
		HeldTimeouts uint64 `json:"held_timeouts"`
	} `json:"health_checks"`
}

func readOverload(t *testing.T, ns *netlab.NS) (overloadDoc, string) {
	t.Helper()
	// At 10 000 real servers in the lab VM, loaded to capacity by the
	// checks and the farm, a status takes tens of seconds.
	out, code := tandemCmdWithin(t, ns, 3*time.Minute, "status", "--json")
	if code != 0 {
		t.Fatalf("tandem status --json: exit %d\n%.2000s", code, out)
	}
	var doc overloadDoc
	must(t, json.Unmarshal([]byte(out), &doc))
	if doc.HealthChecks == nil {
		t.Fatalf("status: no health_checks:\n%.2000s", out)
	}
	return doc, out
}

// TestOverload: 200 HTTP real servers (TANDEM_OVERLOAD_RS to change: the
// farm is Go's net/http in the test process, and under the lab VM's
// emulation on a shared machine 2 000 of them could not all answer in
// time even before the slowdown) checked every second with a 500 ms
// timeout;
// the farm then delays 9 answers in 10 by 2 s, past the 500 ms timeout.
// The table stays whole for 10 s (10 intervals, fall 2) with the hold
// shown in the log, the status and the metrics; then the farm stops and
// every real server is out within fall × interval + timeout (2.5 s,
// plus a phase and a margin).
func TestOverload(t *testing.T) {
	vmOnly(t)
	n := 200
	if s := os.Getenv("TANDEM_OVERLOAD_RS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 10 || v > 20000 {
			t.Fatalf("TANDEM_OVERLOAD_RS=%q: want 10..20000", s)
		}
		n = v
	}
	runOverload(t, overloadCase{n: n, interval: time.Second, timeout: 500 * time.Millisecond, fall: 2})
}

// TestBenchOverloadScale is the issue's own case: 10 000 HTTP checks
// with reuse_connection every 10 s (timeout 1 s, fall 2: the defaults)
// against one farm that tops out below the 1 000 requests a second they
// ask for in the lab VM (Go's net/http in this process: about 700).
// The checks start every minute, which the farm can answer, until every
// real server is in the table; a reload then sets 10 s, and the farm is
// at capacity: for 3 minutes (natural) the table must stay whole; then
// the farm slows down past the timeout for 10 intervals, and then stops.
// (From a cold start at 10 s the table never fills here: a real server
// that has never answered in time is not put in.)
func TestBenchOverloadScale(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	runOverload(t, overloadCase{n: 10000, interval: 10 * time.Second, timeout: time.Second, fall: 2,
		reuse: true, fillInterval: time.Minute, natural: 3 * time.Minute})
}

// overloadCase is one run of the overload test: n real servers checked
// by http every interval, and, when natural is set, a window of that
// length before the slowdown in which the farm runs as it can. With
// fillInterval the checks start at that interval, until every real server
// is in the table, and a reload then sets interval.
type overloadCase struct {
	n                 int
	interval, timeout time.Duration
	fall              int
	reuse             bool
	fillInterval      time.Duration
	natural           time.Duration
}

func runOverload(t *testing.T, c overloadCase) {
	n := c.n
	const base = 10000
	l := newNATLab(t, "ovl", 0)
	host := l.addHost(t, "ovl-farm", 20)
	farm := startSlowFarm(t, host, "192.168.100.20", base, n, c.timeout+1500*time.Millisecond)

	config := func(interval time.Duration) string {
		var hcl strings.Builder
		fmt.Fprintf(&hcl, `
director { static_vips = ["203.0.113.10"] }
node "director" { interfaces = ["eth0", "br0"] }
metrics { listen = "127.0.0.1:9115" }
virtual_server "farm" {
  address   = "203.0.113.10:80"
  scheduler = "rr"
  check "http" {
    interval = "%v"
    timeout  = "%v"
    rise     = 1
    fall     = %d
    reuse_connection = %v
  }
`, interval, c.timeout, c.fall, c.reuse)
		for i := range n {
			fmt.Fprintf(&hcl, "  real_server \"rs%d\" { address = \"192.168.100.20:%d\" }\n", i, base+i)
		}
		hcl.WriteString("}\n")
		return hcl.String()
	}
	fillInterval := c.interval
	if c.fillInterval > 0 {
		fillInterval = c.fillInterval
	}
	file := writeConfig(t, config(fillInterval))
	w := watchTable(t, l.director)
	// TANDEM_BENCH_CPUPROFILE=<delay>: tandem's CPU profile from that long
	// after its start until it stops, printed base64 between
	// PROFILE-BEGIN and PROFILE-END (go tool pprof). (Registered before
	// tandem starts, so that it runs after tandem's stop.)
	if v := os.Getenv("TANDEM_BENCH_CPUPROFILE"); v != "" {
		prof := filepath.Join(t.TempDir(), "tandem.prof")
		t.Setenv("TANDEM_CPUPROFILE", prof)
		t.Setenv("TANDEM_CPUPROFILE_DELAY", v)
		t.Cleanup(func() {
			if b, err := os.ReadFile(prof); err == nil {
				fmt.Printf("PROFILE-BEGIN overload\n%s\nPROFILE-END\n", base64.StdEncoding.EncodeToString(b))
			}
		})
	}
	p := startTandem(t, l.director, "run", "-c", file, "--node", "director")
	key := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort(vip+":80"))
	count := func() int {
		d := w.dests(key)
		if d == "" {
			return 0
		}
		return strings.Count(d, " ") + 1
	}
	// Polling dumps the whole table: every 50 ms for a small farm, every
	// second for a large one (a dump of 10 000 is not free in the VM).
	poll := 50 * time.Millisecond
	if n > 1000 {
		poll = time.Second
	}
	fill := max(30*time.Second, 3*fillInterval+time.Duration(n)*5*time.Millisecond)
	started := time.Now()
	deadline := started.Add(fill)
	full := count()
	// A large farm reports its progress every 10 s: the table, what the
	// farm answered, and the CPU of tandem and of this process (the farm).
	mark, served0 := started, farm.served.Load()
	tandemCPU0, selfCPU0 := cpuTicks([]int{p.cmd.Process.Pid}), cpuTicks([]int{os.Getpid()})
	for full != n && time.Now().Before(deadline) {
		time.Sleep(poll)
		full = count()
		if n > 1000 && time.Since(mark) >= 10*time.Second {
			secs := time.Since(mark).Seconds()
			tc, sc := cpuTicks([]int{p.cmd.Process.Pid}), cpuTicks([]int{os.Getpid()})
			say(t, "filling: %d of %d in the table after %v; the farm answered %.0f/s; CPU tandem %.0f %%, farm (test process) %.0f %%",
				full, n, time.Since(started).Round(time.Second), float64(farm.served.Load()-served0)/secs,
				float64(tc-tandemCPU0)/secs, float64(sc-selfCPU0)/secs)
			mark, served0, tandemCPU0, selfCPU0 = time.Now(), farm.served.Load(), tc, sc
		}
	}
	if full != n {
		t.Fatalf("%d of %d real servers in the table after %v", full, n, fill)
	}
	say(t, "%d real servers in the table after %v", n, time.Since(started).Round(100*time.Millisecond))
	if fillInterval != c.interval {
		// The checks' interval changes: new checks, whose real servers
		// keep their place in the table until their first verdict.
		must(t, os.WriteFile(file, []byte(config(c.interval)), 0o644))
		if out, code := tandemCmd(t, l.director, "reload"); code != 0 {
			t.Fatalf("tandem reload: exit %d\n%s", code, out)
		}
		say(t, "reloaded: checks every %v", c.interval)
	}
	time.Sleep(2 * time.Second) // steady state
	asked := time.Now()
	doc, _ := readOverload(t, l.director)
	if n > 1000 {
		say(t, "tandem status --json answered in %v", time.Since(asked).Round(time.Millisecond))
	}
	say(t, "steady: overloaded %v, mass timeout %v, %d late probes, %d timeouts held",
		doc.HealthChecks.Overloaded, doc.HealthChecks.MassTimeout, doc.HealthChecks.LateProbes, doc.HealthChecks.HeldTimeouts)

	if c.natural > 0 {
		// The farm as it is: at capacity, answering what it can.
		reqs0, conns0, start := farm.served.Load(), farm.conns.Load(), time.Now()
		minIn := n
		for time.Since(start) < c.natural {
			minIn = min(minIn, count())
			time.Sleep(poll)
		}
		secs := time.Since(start).Seconds()
		rate, connRate := float64(farm.served.Load()-reqs0)/secs, float64(farm.conns.Load()-conns0)/secs
		doc, _ := readOverload(t, l.director)
		say(t, "natural, %v: the farm answered %.0f requests/s (%.0f asked) and accepted %.0f connections/s; table at least %d of %d; overloaded %v, mass timeout %v, %d late probes, %d timeouts held",
			c.natural, rate, float64(n)/c.interval.Seconds(), connRate, minIn, n,
			doc.HealthChecks.Overloaded, doc.HealthChecks.MassTimeout, doc.HealthChecks.LateProbes, doc.HealthChecks.HeldTimeouts)
		if minIn != n {
			t.Errorf("with the farm at capacity the table went down to %d of %d real servers, want all kept", minIn, n)
		}
	}

	// The farm slows down: 9 answers in 10 come after the timeout.
	farm.slow.Store(true)
	start := time.Now()
	minIn := n
	for time.Since(start) < 10*c.interval {
		minIn = min(minIn, count())
		time.Sleep(poll)
	}
	if minIn != n {
		t.Errorf("during the slowdown the table went down to %d of %d real servers, want all kept", minIn, n)
	}
	p.waitLog(`health checks held.*what="mass timeout".*group=farm`, 0, time.Second)
	doc, out := readOverload(t, l.director)
	say(t, "slowdown: overloaded %v, mass timeout %v, %d late probes, %d timeouts held",
		doc.HealthChecks.Overloaded, doc.HealthChecks.MassTimeout, doc.HealthChecks.LateProbes, doc.HealthChecks.HeldTimeouts)
	if len(doc.VirtualServers) != 1 || doc.VirtualServers[0].Held == nil || doc.VirtualServers[0].Held.Reason != "mass timeout" ||
		doc.HealthChecks == nil || !doc.HealthChecks.MassTimeout || doc.HealthChecks.HeldTimeouts == 0 {
		t.Errorf("status: want the farm held for a mass timeout and the checker in one:\n%s", out)
	} else {
		h := doc.VirtualServers[0].Held
		say(t, "status: held (%s), %d of %d timing out, %d timeouts held", h.Reason, h.TimingOut, h.Checked, doc.HealthChecks.HeldTimeouts)
	}
	text, _ := tandemCmd(t, l.director, "status")
	if !strings.Contains(text, "HELD (mass timeout") {
		t.Errorf("tandem status does not show the hold:\n%.2000s", text)
	}
	var m string
	if n <= 1000 {
		m = scrapeMetrics(t, l.director)
	} else {
		// A scrape of 10 000 real servers' series in the loaded VM takes
		// longer than scrapeMetrics's 2 s.
		c := httpClient(l.director)
		c.Timeout = 3 * time.Minute
		asked := time.Now()
		body, err := get(c, "http://127.0.0.1:9115/metrics")
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		say(t, "scrape of /metrics answered in %v (%d bytes)", time.Since(asked).Round(time.Millisecond), len(body))
		m = body
	}
	if v := sample(m, `tandem_healthcheck_mass_timeout`); v != 1 {
		t.Errorf("metrics: tandem_healthcheck_mass_timeout = %v, want 1", v)
	}
	if v := sample(m, `tandem_virtual_server_verdicts_held{virtual_server="farm",reason="mass timeout"}`); v < float64(n)/2 {
		t.Errorf("metrics: verdicts held = %v, want at least %d", v, n/2)
	}
	say(t, "slowdown of %v: table kept whole (min %d of %d), timeouts held", 10*c.interval, minIn, n)

	// A real mass failure: the servers stop, connections are refused.
	doc, _ = readOverload(t, l.director)
	lateBefore := doc.HealthChecks.LateProbes
	farm.stop()
	stopped := time.Now()
	for count() != 0 {
		if time.Since(stopped) > 20*time.Second+time.Duration(c.fall+2)*c.interval {
			t.Fatalf("%d of %d real servers still in the table %v after the farm stopped", count(), n, time.Since(stopped).Round(time.Millisecond))
		}
		time.Sleep(max(poll/5, 20*time.Millisecond))
	}
	took := time.Since(stopped)
	doc, _ = readOverload(t, l.director)
	late := doc.HealthChecks.LateProbes - lateBefore
	// The bound, fall × interval + timeout, plus the probes' phase (one
	// interval) and a margin: a promise of a checker that runs on time.
	// One that is starved of CPU (the lab VM is emulated, and shares the
	// machine) runs its probes late, and says so: then the bound is
	// reported, not enforced (removal must still happen, above).
	bound := time.Duration(c.fall)*c.interval + c.timeout
	say(t, "farm stopped: all %d real servers out after %v (bound fall × interval + timeout = %v, plus the probe phase); %d late probes meanwhile",
		n, took.Round(time.Millisecond), bound, late)
	if took > bound+c.interval+time.Second && late == 0 {
		t.Errorf("out after %v, want within the bound %v plus one interval's phase and a 1 s margin", took, bound)
	}
}
