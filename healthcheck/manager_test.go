package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fake is a scripted Checker. It records the time of each call.
type fake struct {
	name    string
	script  string        // '+' success, '-' failure, per call; the last repeats
	hang    bool          // block until the context is done
	delay   time.Duration // per call, before answering
	delayAt int           // only on this call (1-based); 0 = every call

	mu    sync.Mutex
	calls []time.Time
}

func (f *fake) String() string { return f.name }

func (f *fake) Check(ctx context.Context) error {
	f.mu.Lock()
	f.calls = append(f.calls, time.Now())
	n := len(f.calls)
	f.mu.Unlock()
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.delay > 0 && (f.delayAt == 0 || f.delayAt == n) {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r := byte('+')
	if f.script != "" {
		r = f.script[min(n, len(f.script))-1]
	}
	if r == '-' {
		return fmt.Errorf("%s: scripted failure %d", f.name, n)
	}
	return nil
}

func (f *fake) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.calls...)
}

// fakes builds the fake of a Spec by its target port, and counts builds.
type fakes struct {
	mu     sync.Mutex
	byPort map[uint16]*fake
	builds map[uint16]int
}

func newFakes(fs map[uint16]*fake) *fakes {
	return &fakes{byPort: fs, builds: map[uint16]int{}}
}

func (fs *fakes) newChecker(s Spec) (Checker, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.builds[s.Target.Port()]++
	f, ok := fs.byPort[s.Target.Port()]
	if !ok {
		return nil, fmt.Errorf("no fake for port %d", s.Target.Port())
	}
	return f, nil
}

func (fs *fakes) buildsOf(port uint16) int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.builds[port]
}

func spec(port uint16, interval time.Duration, rise, fall int) Spec {
	return Spec{
		Kind:     KindTCP,
		Target:   netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
		Interval: interval,
		Timeout:  interval / 2,
		Rise:     rise,
		Fall:     fall,
	}
}

// drain returns the verdicts waiting in the channel, without blocking.
func drain(ch <-chan Verdict) []Verdict {
	var vs []Verdict
	for {
		select {
		case v := <-ch:
			vs = append(vs, v)
		default:
			return vs
		}
	}
}

func ups(vs []Verdict) string {
	var b strings.Builder
	for _, v := range vs {
		if v.Up {
			b.WriteByte('U')
		} else {
			b.WriteByte('D')
		}
	}
	return b.String()
}

func statusOf(t *testing.T, m *Manager, id ID) Status {
	t.Helper()
	for _, st := range m.Status() {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("no status for %s", id)
	return Status{}
}

func TestManagerVerdictsAreEdgeOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{name: "f", script: "++---++-+++"}
		var logs bytes.Buffer
		var probes, oks atomic.Int32
		m := NewManager(Options{
			Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
			Rand:       rand.New(rand.NewPCG(1, 2)),
			NewChecker: newFakes(map[uint16]*fake{1: f}).newChecker,
			OnProbe: func(k Kind, _ time.Duration, ok bool) {
				if k == KindTCP {
					probes.Add(1)
				}
				if ok {
					oks.Add(1)
				}
			},
		})
		defer m.Close()
		s := spec(1, time.Second, 2, 2)
		m.Set([]Spec{s})

		if st := statusOf(t, m, s.ID()); st.State != Unknown || !st.LastCheck.IsZero() {
			t.Errorf("before the first probe: %+v, want unknown and never checked", st)
		}
		time.Sleep(11 * time.Second)
		synctest.Wait()
		vs := drain(m.Verdicts())
		// ++---++-+++ with rise 2, fall 2: up at 1, down at 4, up at 7.
		if got := ups(vs); got != "UDU" {
			t.Fatalf("verdicts %s, want UDU", got)
		}
		calls := f.times()
		for i, call := range []int{1, 4, 7} {
			v := vs[i]
			if v.ID != s.ID() || !v.At.Equal(calls[call-1]) {
				t.Errorf("verdict %d: %+v, want ID %s at call %d (%v)", i, v, s.ID(), call, calls[call-1])
			}
			if v.Up != (v.Err == nil) {
				t.Errorf("verdict %d: Up %v with Err %v", i, v.Up, v.Err)
			}
		}
		if vs[1].Err == nil || !strings.Contains(vs[1].Err.Error(), "scripted failure 4") {
			t.Errorf("down verdict's error %v, want the 4th probe's", vs[1].Err)
		}
		st := statusOf(t, m, s.ID())
		if st.State != Up || st.Transitions != 3 || st.Probes != 11 || st.Successes != 3 || st.Failures != 0 {
			t.Errorf("status %+v, want up, 3 transitions, 11 probes, 3 successes in a row", st)
		}
		if !st.Since.Equal(vs[2].At) {
			t.Errorf("status since %v, want the last verdict's time %v", st.Since, vs[2].At)
		}
		if probes.Load() != 11 || oks.Load() != 7 {
			t.Errorf("OnProbe saw %d probes, %d successes; want 11 and 7", probes.Load(), oks.Load())
		}
		if n := strings.Count(logs.String(), "\n"); n != 3 {
			t.Errorf("%d log lines for 3 transitions:\n%s", n, logs.String())
		}
		if !strings.Contains(logs.String(), "from=up to=down") {
			t.Errorf("log lacks the up→down transition:\n%s", logs.String())
		}
	})
}

func TestManagerFirstFailureIsDownAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{name: "f", script: "-"}
		m := NewManager(Options{NewChecker: newFakes(map[uint16]*fake{1: f}).newChecker})
		defer m.Close()
		m.Set([]Spec{spec(1, time.Second, 3, 3)})
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := ups(drain(m.Verdicts())); got != "D" {
			t.Errorf("verdicts %s, want a single D", got)
		}
	})
}

// TestManagerFirstTimeoutWaitsForFall: a check that has no verdict yet
// and times out (one of a hung server, here) goes Down after fall
// timeouts, not at the first (Hysteresis.ObserveTimeout).
func TestManagerFirstTimeoutWaitsForFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{name: "f", hang: true}
		m := NewManager(Options{NewChecker: newFakes(map[uint16]*fake{1: f}).newChecker})
		defer m.Close()
		m.Set([]Spec{spec(1, time.Second, 2, 3)})
		time.Sleep(1900 * time.Millisecond) // one or two timed-out probes (timeout 500 ms)
		synctest.Wait()
		if st := m.Status(); len(st) != 1 || st[0].State != Unknown || st[0].Failures == 0 {
			t.Fatalf("after two timeouts: %+v, want unknown with failures counted", st)
		}
		if got := ups(drain(m.Verdicts())); got != "" {
			t.Errorf("verdicts %q before fall timeouts, want none", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := ups(drain(m.Verdicts())); got != "D" {
			t.Errorf("verdicts %q after fall timeouts, want a single D", got)
		}
	})
}

func TestManagerDedup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{name: "f"}
		fs := newFakes(map[uint16]*fake{1: f})
		m := NewManager(Options{NewChecker: fs.newChecker})
		defer m.Close()
		a := spec(1, time.Second, 2, 2)
		b := a
		b.Path = "/ignored" // a tcp check ignores it: same ID
		m.Set([]Spec{a, a, b})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if n := fs.buildsOf(1); n != 1 {
			t.Errorf("three equal specs built %d checkers, want 1", n)
		}
		if n := len(m.Status()); n != 1 {
			t.Errorf("%d checks running, want 1", n)
		}
		calls := f.times()
		if len(calls) < 9 {
			t.Fatalf("%d probes in 10 intervals", len(calls))
		}
		for i := 1; i < len(calls); i++ {
			if d := calls[i].Sub(calls[i-1]); d != time.Second {
				t.Errorf("probes %d and %d are %v apart, want exactly one interval", i-1, i, d)
			}
		}
		if got := ups(drain(m.Verdicts())); got != "U" {
			t.Errorf("verdicts %s, want one U", got)
		}
	})
}

func TestManagerSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fa := &fake{name: "a"}
		fb := &fake{name: "b", script: "-"}
		fs := newFakes(map[uint16]*fake{1: fa, 2: fb})
		m := NewManager(Options{NewChecker: fs.newChecker})
		defer m.Close()
		a, b := spec(1, time.Second, 2, 2), spec(2, time.Second, 2, 2)

		m.Set([]Spec{a})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := drain(m.Verdicts()); ups(got) != "U" || got[0].ID != a.ID() {
			t.Fatalf("after Set(a): %v, want a up", got)
		}
		before := statusOf(t, m, a.ID())

		// Adding b leaves a untouched: same checker, state, counters and phase.
		m.Set([]Spec{b, a})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if got := drain(m.Verdicts()); ups(got) != "D" || got[0].ID != b.ID() {
			t.Errorf("after Set(b, a): %v, want only b down", got)
		}
		after := statusOf(t, m, a.ID())
		if fs.buildsOf(1) != 1 || after.Transitions != 1 || after.Probes != before.Probes+3 || after.Successes != before.Successes+3 {
			t.Errorf("a restarted or lost state: before %+v, after %+v, %d builds", before, after, fs.buildsOf(1))
		}
		calls := fa.times()
		for i := 1; i < len(calls); i++ {
			if d := calls[i].Sub(calls[i-1]); d != time.Second {
				t.Errorf("a's probes %d and %d are %v apart across Set: phase lost", i-1, i, d)
			}
		}

		// Removing a stops it.
		m.Set([]Spec{b})
		n := len(fa.times())
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := len(fa.times()); got != n {
			t.Errorf("a probed %d times after its removal", got-n)
		}
		if st := m.Status(); len(st) != 1 || st[0].ID != b.ID() {
			t.Errorf("status after Set(b): %+v, want only b", st)
		}
		if got := drain(m.Verdicts()); len(got) != 0 {
			t.Errorf("verdicts after Set(b): %v, want none", got)
		}

		// Adding a back starts a fresh check, whose first result is news.
		m.Set([]Spec{a, b})
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := drain(m.Verdicts()); ups(got) != "U" || got[0].ID != a.ID() {
			t.Errorf("after adding a back: %v, want a up again", got)
		}
		if st := statusOf(t, m, a.ID()); st.Transitions != 1 || fs.buildsOf(1) != 2 {
			t.Errorf("re-added a: %+v, %d builds; want a fresh check", st, fs.buildsOf(1))
		}

		m.Set(nil)
		if st := m.Status(); len(st) != 0 {
			t.Errorf("status after Set(nil): %+v", st)
		}
	})
}

func TestManagerHangingCheckDoesNotDelayOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hung := &fake{name: "hung", hang: true}
		healthy := &fake{name: "healthy"}
		m := NewManager(Options{
			Rand:       rand.New(rand.NewPCG(3, 4)),
			NewChecker: newFakes(map[uint16]*fake{1: hung, 2: healthy}).newChecker,
		})
		defer m.Close()
		slow := spec(1, time.Minute, 1, 1)
		slow.Timeout = 50 * time.Second
		fast := spec(2, time.Second, 1, 1)
		m.Set([]Spec{slow, fast})

		start := time.Now()
		select {
		case v := <-m.Verdicts():
			if v.ID != fast.ID() || !v.Up {
				t.Errorf("first verdict %+v, want the healthy check up", v)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("no verdict within 2 intervals of the healthy check")
		}
		if d := time.Since(start); d >= time.Second {
			t.Errorf("healthy verdict after %v, want within its first interval", d)
		}
		// The hung check times out alone and reports down.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		vs := drain(m.Verdicts())
		if len(vs) != 1 || vs[0].ID != slow.ID() || vs[0].Up || !errors.Is(vs[0].Err, context.DeadlineExceeded) || vs[0].Latency != 50*time.Second {
			t.Errorf("verdicts %+v, want the hung check down after its 50s timeout", vs)
		}
	})
}

func TestManagerJitter(t *testing.T) {
	const n = 200
	firstProbes := func(seed uint64) []time.Duration {
		var offsets []time.Duration
		synctest.Test(t, func(t *testing.T) {
			byPort := map[uint16]*fake{}
			var specs []Spec
			for i := range n {
				p := uint16(1000 + i)
				byPort[p] = &fake{name: fmt.Sprint(p)}
				specs = append(specs, spec(p, time.Second, 1, 1))
			}
			m := NewManager(Options{Rand: rand.New(rand.NewPCG(seed, 0)), NewChecker: newFakes(byPort).newChecker})
			defer m.Close()
			start := time.Now()
			m.Set(specs)
			time.Sleep(time.Second)
			synctest.Wait()
			for i := range n {
				calls := byPort[uint16(1000+i)].times()
				if len(calls) == 0 {
					t.Fatalf("check %d: no probe in its first interval", i)
				}
				offsets = append(offsets, calls[0].Sub(start))
			}
		})
		return offsets
	}
	offsets := firstProbes(42)
	var buckets [10]int
	for _, o := range offsets {
		if o < 0 || o >= time.Second {
			t.Fatalf("first probe at %v, outside the first interval", o)
		}
		buckets[o*10/time.Second]++
	}
	for i, c := range buckets {
		// 20 expected per bucket; 5 is far in the tail for a fair source.
		if c < 5 {
			t.Errorf("bucket %d of the interval has %d of %d first probes: %v", i, c, n, buckets)
		}
	}
	if again := firstProbes(42); fmt.Sprint(again) != fmt.Sprint(offsets) {
		t.Errorf("same seed, different offsets")
	}
	if other := firstProbes(43); fmt.Sprint(other) == fmt.Sprint(offsets) {
		t.Errorf("different seeds, same offsets")
	}
}

func TestManagerSkipsMissedSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The third probe takes 2.5 intervals (Timeout above Interval).
		f := &fake{name: "f", delay: 2500 * time.Millisecond, delayAt: 3}
		m := NewManager(Options{NewChecker: newFakes(map[uint16]*fake{1: f}).newChecker})
		defer m.Close()
		s := spec(1, time.Second, 1, 1)
		s.Timeout = 10 * time.Second
		m.Set([]Spec{s})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		calls := f.times()
		var got []time.Duration
		for _, c := range calls {
			got = append(got, c.Sub(calls[0]))
		}
		// Slots 0 1 2, then 2+2.5 = 4.5: slots 3 and 4 are skipped, 5 is next.
		want := []time.Duration{0, 1, 2, 5, 6, 7, 8}
		for i := range want {
			want[i] *= time.Second
		}
		if len(got) < len(want) || fmt.Sprint(got[:len(want)]) != fmt.Sprint(want) {
			t.Errorf("probe times %v, want %v…", got, want)
		}
	})
}

func TestManagerSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A check that flaps at every probe, and nobody reading for
		// 3·verdictBuffer intervals.
		f := &fake{name: "f", script: strings.Repeat("+-", 2*verdictBuffer) + "-"}
		m := NewManager(Options{NewChecker: newFakes(map[uint16]*fake{1: f}).newChecker})
		defer m.Close()
		s := spec(1, time.Second, 1, 1)
		m.Set([]Spec{s})
		time.Sleep(3 * verdictBuffer * time.Second)
		synctest.Wait()
		st := statusOf(t, m, s.ID())
		if st.Probes < 3*verdictBuffer-1 {
			t.Errorf("%d probes in %d intervals: probing blocked on the reader", st.Probes, 3*verdictBuffer)
		}
		vs := drain(m.Verdicts())
		synctest.Wait() // let the deliverer hand over what it holds
		vs = append(vs, drain(m.Verdicts())...)
		if len(vs) == 0 || len(vs) > verdictBuffer+2 {
			t.Fatalf("%d verdicts, want at most the buffer and what coalesced", len(vs))
		}
		for i := 1; i < len(vs); i++ {
			if vs[i].Up == vs[i-1].Up {
				t.Fatalf("verdicts %d and %d both up=%v: states must alternate", i-1, i, vs[i].Up)
			}
		}
		// The number of probes in the window depends on the jittered first
		// probe, so the final state may be either; the reader must end
		// with it.
		if last := vs[len(vs)-1]; last.Up != (st.State == Up) || st.State == Unknown {
			t.Errorf("last verdict up=%v, state %v: the reader must end with the current state", last.Up, st.State)
		}
	})
}

func TestManagerInvalidSpec(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewManager(Options{})
		defer m.Close()
		s := Spec{Kind: "dns", Target: netip.MustParseAddrPort("127.0.0.1:53"), Interval: time.Second}
		m.Set([]Spec{s})
		time.Sleep(time.Second)
		synctest.Wait()
		vs := drain(m.Verdicts())
		if len(vs) != 1 || vs[0].Up || vs[0].Err == nil || !strings.Contains(vs[0].Err.Error(), `unknown check kind "dns"`) {
			t.Errorf("verdicts %+v, want one down with the reason", vs)
		}
		if st := statusOf(t, m, s.ID()); !strings.Contains(st.LastErr, "unknown check kind") {
			t.Errorf("status LastErr %q", st.LastErr)
		}
	})
}

func TestManagerClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hung := &fake{name: "hung", hang: true}
		m := NewManager(Options{NewChecker: newFakes(map[uint16]*fake{1: hung}).newChecker})
		s := spec(1, time.Second, 1, 1)
		s.Timeout = time.Hour
		m.Set([]Spec{s})
		time.Sleep(2 * time.Second) // the probe is hanging now
		m.Close()                   // cancels it and waits
		if _, ok := <-m.Verdicts(); ok {
			t.Error("Verdicts not closed after Close")
		}
		m.Close()
		m.Set([]Spec{s})
		if st := m.Status(); len(st) != 0 {
			t.Errorf("Set after Close started %d checks", len(st))
		}
	})
}

func TestNextSlot(t *testing.T) {
	origin := time.Unix(1000, 0)
	s := time.Second
	tests := []struct {
		now, want time.Duration // from origin
	}{
		{-500 * time.Millisecond, 0},
		{0, s},
		{1, s},
		{999 * time.Millisecond, s},
		{s, 2 * s},
		{s + 3*time.Millisecond, 2 * s},  // a late timer: no drift
		{4500 * time.Millisecond, 5 * s}, // a long probe: skip, no bunching
	}
	for _, tt := range tests {
		if got := nextSlot(origin, s, origin.Add(tt.now)).Sub(origin); got != tt.want {
			t.Errorf("nextSlot(now=origin%+v) = origin+%v, want origin+%v", tt.now, got, tt.want)
		}
	}
}

// TestManagerSharedTemplate: checks whose specs differ only in their
// target share one template, and each check's Status still gives its
// whole spec; SetIDs runs the caller's IDs.
func TestManagerSharedTemplate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := newFakes(map[uint16]*fake{1: {name: "a"}, 2: {name: "b"}, 3: {name: "c"}})
		m := NewManager(Options{NewChecker: fs.newChecker})
		defer m.Close()
		a, b, c := spec(1, time.Second, 2, 2), spec(2, time.Second, 2, 2), spec(3, 2*time.Second, 2, 2)
		specs := []Spec{a, b, c}
		ids := []ID{a.ID(), b.ID(), c.ID()}
		m.SetIDs(specs, ids)
		m.mu.Lock()
		ca, cb, cc := m.checks[ids[0]], m.checks[ids[1]], m.checks[ids[2]]
		m.mu.Unlock()
		if ca == nil || cb == nil || cc == nil {
			t.Fatal("a check is missing")
		}
		if ca.tmpl != cb.tmpl {
			t.Error("a and b differ only in their target: want one template")
		}
		if ca.tmpl == cc.tmpl {
			t.Error("c has another interval: want a template of its own")
		}
		if ca.tmpl.Target.IsValid() {
			t.Errorf("the template has a target %v", ca.tmpl.Target)
		}
		for _, st := range m.Status() {
			want := map[ID]Spec{ids[0]: a, ids[1]: b, ids[2]: c}[st.ID]
			if st.Spec.Target != want.Target || st.Spec.Interval != want.Interval || st.Spec.ID() != st.ID {
				t.Errorf("status of %s: spec %+v, want %+v", st.ID, st.Spec, want.Normalize())
			}
		}
	})
}

// TestManagerSetFunc: SetFunc builds the spec of each check that starts,
// once per ID, and of no check that keeps running or stops.
func TestManagerSetFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := newFakes(map[uint16]*fake{1: {name: "a"}, 2: {name: "b"}, 3: {name: "c"}})
		m := NewManager(Options{NewChecker: fs.newChecker})
		defer m.Close()
		specs := []Spec{spec(1, time.Second, 2, 2), spec(2, time.Second, 2, 2), spec(1, time.Second, 2, 2), spec(3, time.Second, 2, 2)}
		ids := make([]ID, len(specs))
		for i := range specs {
			ids[i] = specs[i].ID()
		}
		var built []int
		build := func(i int) Spec { built = append(built, i); return specs[i] }
		m.SetFunc(ids[:3], build) // a, b, a again
		if !slices.Equal(built, []int{0, 1}) {
			t.Errorf("first SetFunc built specs %v, want [0 1]", built)
		}
		built = nil
		m.SetFunc([]ID{ids[1], ids[3]}, func(i int) Spec { return build([]int{1, 3}[i]) }) // b stays, c starts, a stops
		if !slices.Equal(built, []int{3}) {
			t.Errorf("second SetFunc built specs %v, want [3]", built)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.checks) != 2 || m.checks[ids[1]] == nil || m.checks[ids[3]] == nil {
			t.Errorf("running %d checks, want b and c", len(m.checks))
		}
	})
}
