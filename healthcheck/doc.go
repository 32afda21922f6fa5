// Package healthcheck owns the probing of real servers (TCP connect, HTTP,
// HTTPS, commands), their scheduling with jitter, and the rise/fall counting
// that turns probe results into edge-only verdicts (up, down).
//
// It knows nothing of IPVS, VRRP or the configuration file: it must not
// import ipvs, vrrp or conf. The binary converts each conf.Check of a real
// server into a Spec (with the port and address overrides applied to
// Target) and merges the verdicts into the desired IPVS table.
//
// # Specs and IDs
//
// A Spec is a plain value: kind, target, optional source address, interval,
// timeout, rise, fall, and the kind's own parameters. Spec.ID identifies a
// check: Specs that normalise to the same value share one ID, so a real
// server listed under several virtual services with the same check is probed
// once per interval, and one verdict serves every service.
//
// # Checkers
//
// A Checker (seesaw's shape: Check(ctx) error plus String) runs one probe,
// one file per kind:
//
//   - tcp: connect within the timeout (from Source when set), then close
//     with a reset, which leaves no TIME_WAIT socket behind. On Linux the
//     probe is a non-blocking socket on its Manager's probe poller (one
//     goroutine, one epoll instance, a heap of deadlines, started with
//     the Manager's first such check and stopped by Close; a Checker
//     used on its own runs on a poller the package shares): no goroutine,
//     context or runtime timer per probe, five system calls on success
//     (socket, connect, epoll_ctl, setsockopt, close). When a deadline
//     passes before the poller saw the connect end (a starved CPU), the
//     socket's own state decides: a connect that completed is a success,
//     as in keepalived, which handles ready sockets before timers.
//   - tcp with Spec.HalfOpen (tcp_halfopen_linux.go): a SYN from a raw
//     socket, up on the SYN-ACK, down on a reset or at the deadline; no
//     socket per probe, SYNs and answers in batches on the poller.
//   - http, https: GET Path with the Host header, over a new connection per
//     probe by default, redirects not followed, no proxy. With Spec.Reuse
//     a connection is kept between probes (HTTP/1.1 keep-alive) for up to
//     MaxReuse probes; a kept connection the server closed while idle is
//     replaced within the probe, so only a server that refuses a fresh
//     connection (or does not answer) fails it (http_linux.go). On Linux a plain http probe runs on the probe
//     poller too: one write of a minimal HTTP/1.1 request (Host,
//     User-Agent, Connection: close), the answer read edge-triggered into
//     the poller's one buffer and parsed as it comes (status line and
//     headers; the body, Content-Length, chunked or to the end, only for
//     a digest or regex), the connection reset as soon as the verdict is
//     known; errors are worded as net/http's. https, and http elsewhere,
//     go through net/http, a goroutine per probe. The status must fall in
//     Status (default 200-299);
//     the body's SHA-256 or MD5 digest (bodies up to MaxDigestBody) and a
//     regex (over the first MaxRegexBody bytes) are checked when set. HTTPS
//     sends SNI and verifies the certificate (against CAFile's roots when
//     set) unless InsecureSkipVerify is set explicitly.
//   - command: run the argv with TANDEM_CHECK_ADDR and TANDEM_CHECK_PORT in
//     its environment; exit status 0 means up. It runs in a process group of
//     its own, killed with SIGKILL on timeout (and swept of leftovers after
//     each run); a little of its stderr goes into the error.
//
// Errors say what failed: "status 503 not in 200-299", "body sha256
// mismatch: …", "regex \"ok\" not found in body", "tls: failed to verify
// certificate: x509: …".
//
// # Hysteresis and verdicts
//
// Checkers never count. Hysteresis, a pure value, turns results into a
// State: a check starts Unknown and its first result decides at once (Up on
// a success, Down on a failure); then an Up check goes Down after Fall
// failures in a row and a Down check goes Up after Rise successes in a row.
// The Manager sends a Verdict only on transitions, the first result
// included, and logs one line per transition (never one per probe). What
// Unknown means for IPVS is the caller's decision: tandem keeps a real
// server already in the kernel until its first verdict, and adds a new one
// after its first success.
//
// # Scheduling
//
// Manager.Set takes the complete wanted set of Specs: new IDs start, gone IDs
// stop, unchanged IDs keep running untouched (their state, counters and
// phase survive a reload). Each check's first probe waits a random fraction
// of its interval, drawn from Options.Rand, so thousands of checks do not
// fire in the same millisecond; later probes keep that phase
// (origin + k·interval, no drift), and slots missed by a probe that ran past
// its interval are skipped, not bunched.
//
// Probe times sit on a grid: a series starts on a multiple of 50 ms from
// the Manager's creation (intervals under 500 ms keep their exact phase),
// so with intervals that are multiples of it the probes of many checks
// share instants, 20 a second. Their timers fire together and their
// connects end together: one wake-up of the process per instant rather
// than one per probe, which under the lab VM's emulation cut the CPU of
// 1 000 probes a second by a third (10 ms steps: by a tenth). At 100 ms
// resolution the load stays flat.
//
// The poller's goroutine never blocks in epoll_wait: it reads its epoll
// instance without waiting and, when nothing is ready, parks in the
// runtime's network poller on that epoll descriptor (itself pollable),
// with a read deadline for its next timer. A goroutine blocked in a
// system call makes the runtime take its P back and then poll every
// 20 µs; in the lab VM that cost as much CPU as the probes themselves.
//
// For the same reason the poller's system calls on its non-blocking
// sockets (socket, connect, write, read, close, epoll_ctl, a non-waiting
// epoll_wait) are raw (rawsys_linux.go): none of them blocks, and the
// usual syscall.Syscall tells the scheduler that one might. While every P
// is idle the runtime's monitor thread sleeps; the first such call after
// that wakes it into polling every 20 µs for a millisecond or more. At
// 500 probes a second in the lab VM that monitor took 7-9 % of a CPU, a
// third of tandem's whole cost; with raw calls 2.5 % (BENCHMARKS.md).
//
// A check that reuses its http connection renews it on the same socket:
// a connect with AF_UNSPEC drops the old connection (with a reset, so no
// TIME_WAIT), a connect starts the new one, and EPOLL_CTL_MOD re-arms the
// socket's registration under a new sequence number: three system calls
// where a close and a new socket took five.
//
// No goroutine waits between probes. A check on the probe poller (tcp,
// and http on Linux) is a timer in the poller's own heap: the poller
// starts all the probes of an instant itself, one after the other, on
// the wake-up that also collects the answers, and each probe's end
// re-arms its check for the next slot (no goroutine, runtime timer or
// thread hand-off per probe). Any other check is a runtime timer
// (time.AfterFunc) whose firing runs the probe in a goroutine of its own
// and then re-arms the timer for the next slot. Either way a check never
// overlaps itself. The timer heaps are the timer wheel, and the poller
// entries (or goroutines) are the worker pool, sized by the probes in
// flight: a hanging server holds one poller entry (or goroutine) for at
// most its check's timeout and delays nobody else. A fixed pool would bring head-of-line
// blocking back (N hanging servers hold N workers for a whole timeout),
// and a parked goroutine per check costs more memory (its stack keeps the
// size the deepest probe grew it to). Close aborts the probes in flight:
// with 10 000 tcp probes hanging it returns at once (it took seconds when
// each probe was a goroutine in net.Dialer waiting on its context).
// BenchmarkManager, on 2 shared cores, 1s interval, in-process loopback
// server included:
//
//	checks      probes/s  CPU (of one core)  CPU/probe  allocs/probe  RSS/check
//	2 000 tcp     2 000        12 %            59 µs          7         3.9 KB
//	10 000 tcp   10 000        49 %            48 µs          7         1.2 KB
//	10 000 nop   10 000         4 %             4 µs          4         2.8 KB
//
// (Through net.Dialer, before the poller and the grid, a tcp probe made 36
// allocations and cost 59 µs at 10 000 checks; a goroutine parked per
// check measured 18 KB RSS and 100 µs per tcp check.)
//
// Verdicts never block probing: a check hands its verdict to a queue that
// holds at most one pending verdict per check (a newer one replaces it) and
// one goroutine feeds the Verdicts channel from it. A reader that lags
// therefore always catches up with every check's current state, and never
// sees the same state twice in a row for a check.
//
// # Overload is not failure
//
// A probe that times out while the checker itself runs late (its probes
// start, or see their deadlines, late against their schedule) or while
// most checks of a group (Manager.SetGroups: tandem's virtual servers)
// or of the whole Manager time out at once does not count: the check
// keeps its state. Any other failure (refused, reset, a wrong status)
// counts as always. The decisions are pure functions of counts and times
// (probeLate, lateOverloaded, massTimeout); Manager.Overload reports the
// state, and each episode is logged once when it starts and once when it
// ends (overload.go).
//
// # Concurrency
//
// Manager's methods are safe for concurrent use. Hysteresis and Spec are
// plain values. Checkers built by NewChecker are safe for concurrent use.
// Tests drive the Manager's time with testing/synctest.
package healthcheck
