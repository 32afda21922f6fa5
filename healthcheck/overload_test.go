package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestLateOverloaded(t *testing.T) {
	for _, c := range []struct {
		late, probes int
		was, want    bool
	}{
		{0, 0, false, false},
		{0, 0, true, true}, // no probe (a stall): no evidence, it stays
		{0, 1, true, false},
		{4, 10, false, false},
		{5, 100, false, false}, // 5 %
		{5, 50, false, true},   // 10 %, and 5 of them
		{100, 1000, false, true},
		{99, 1000, false, false},
		{20, 1000, true, true}, // 2 %: stays
		{19, 1000, true, false},
	} {
		if got := lateOverloaded(c.late, c.probes, c.was); got != c.want {
			t.Errorf("lateOverloaded(%d, %d, %v) = %v, want %v", c.late, c.probes, c.was, got, c.want)
		}
	}
}

func TestMassTimeout(t *testing.T) {
	for _, c := range []struct {
		out, probed int
		was, want   bool
	}{
		{2, 2, false, false}, // fewer than MassMin
		{2, 2, true, false},
		{3, 3, false, true},
		{3, 6, false, true},
		{3, 7, false, false},
		{5000, 10000, false, true},
		{4999, 10000, false, false},
		{2500, 10000, true, true},
		{2499, 10000, true, false},
	} {
		if got := massTimeout(c.out, c.probed, c.was); got != c.want {
			t.Errorf("massTimeout(%d, %d, %v) = %v, want %v", c.out, c.probed, c.was, got, c.want)
		}
	}
}

func TestProbeLate(t *testing.T) {
	due := time.Unix(1000, 0)
	for _, c := range []struct {
		late     time.Duration
		interval time.Duration
		want     bool
	}{
		{0, time.Second, false},
		{250 * time.Millisecond, time.Second, false},
		{251 * time.Millisecond, time.Second, true},
		{2 * time.Second, 10 * time.Second, false},
		{3 * time.Second, 10 * time.Second, true},
		{100 * time.Millisecond, 100 * time.Millisecond, false}, // LateMin
		{101 * time.Millisecond, 100 * time.Millisecond, true},
		{-time.Second, time.Second, false},
	} {
		if got := probeLate(due, due.Add(c.late), c.interval); got != c.want {
			t.Errorf("probeLate(+%v, interval %v) = %v, want %v", c.late, c.interval, got, c.want)
		}
	}
	if probeLate(time.Time{}, due, time.Second) {
		t.Error("a probe with no slot is late")
	}
}

func TestIsTimeout(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("body: %w", context.DeadlineExceeded), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{fmt.Errorf("command timed out, process group killed: %w", context.DeadlineExceeded), true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, false},
		{errors.New("status 503 not in 200-299"), false},
		{context.Canceled, false},
	} {
		if got := isTimeout(c.err); got != c.want {
			t.Errorf("isTimeout(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestOverloadLateWindow: late probes make the checker overloaded at the
// end of their window; while it is, timeouts are held; a quiet window
// ends it; each change is news once.
func TestOverloadLateWindow(t *testing.T) {
	var o overload
	s := &ovState{}
	o.join(s)
	t0 := time.Unix(1000, 0)
	hold, _ := o.observe(s, true, false, t0)
	if hold {
		t.Fatal("a first timeout held")
	}
	// One window: 20 probes, 10 late.
	for i := range 20 {
		o.observe(s, false, i%2 == 0, t0.Add(time.Duration(i)*10*time.Millisecond))
	}
	hold, news := o.observe(s, true, false, t0.Add(OverloadWindow))
	if !hold || len(news) != 1 || !news[0].start || news[0].what != "checker overloaded" {
		t.Fatalf("after a window of late probes: hold %v, news %+v; want held and one start", hold, news)
	}
	if st := o.status(t0.Add(OverloadWindow)); !st.Overloaded || st.LateProbes != 10 || st.HeldTimeouts != 1 {
		t.Errorf("status %+v, want overloaded, 10 late probes, 1 held timeout", st)
	}
	// A window with 3 late of 100: stays (2 % or more); then none: ends.
	for i := range 100 {
		o.observe(s, false, i < 3, t0.Add(OverloadWindow+time.Duration(i)*time.Millisecond))
	}
	if hold, news := o.observe(s, false, false, t0.Add(2*OverloadWindow)); !hold || len(news) != 0 {
		t.Errorf("3 %% late: hold %v, news %+v; want still held, no news", hold, news)
	}
	for i := range 100 {
		o.observe(s, false, false, t0.Add(2*OverloadWindow+time.Duration(i)*time.Millisecond))
	}
	hold, news = o.observe(s, true, false, t0.Add(3*OverloadWindow))
	if hold || len(news) != 1 || news[0].start {
		t.Errorf("a window without late probes: hold %v, news %+v; want not held and one end", hold, news)
	}
	// Silence for two windows: no longer shown overloaded.
	for i := range 20 {
		o.observe(s, false, true, t0.Add(3*OverloadWindow+time.Duration(i)*time.Millisecond))
	}
	o.observe(s, false, false, t0.Add(4*OverloadWindow))
	if st := o.status(t0.Add(4 * OverloadWindow)); !st.Overloaded {
		t.Fatal("not overloaded after a window of late probes")
	}
	if st := o.status(t0.Add(6 * OverloadWindow)); st.Overloaded {
		t.Error("still shown overloaded two windows after the last probe")
	}
}

// mode is what a switchable fake does: answer, hang until its deadline,
// or fail at once as a closed port does.
type mode int32

const (
	modeAnswer mode = iota
	modeHang
	modeRefuse
)

// switchable is a Checker whose behaviour the test switches.
type switchable struct {
	name string
	mode atomic.Int32
}

func (f *switchable) String() string { return f.name }

func (f *switchable) Check(ctx context.Context) error {
	switch mode(f.mode.Load()) {
	case modeHang:
		<-ctx.Done()
		return ctx.Err()
	case modeRefuse:
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	return nil
}

// farm is n switchable checks on ports 1..n.
type farm struct {
	fs    []*switchable
	specs []Spec
}

func newFarm(n int, interval time.Duration, fall int) *farm {
	f := &farm{}
	for i := range n {
		f.fs = append(f.fs, &switchable{name: fmt.Sprint("rs", i+1)})
		s := spec(uint16(i+1), interval, 1, fall)
		f.specs = append(f.specs, s)
	}
	return f
}

func (f *farm) newChecker(s Spec) (Checker, error) {
	return f.fs[s.Target.Port()-1], nil
}

func (f *farm) set(m mode, idx ...int) {
	for _, i := range idx {
		f.fs[i].mode.Store(int32(m))
	}
}

func (f *farm) ids(idx ...int) []ID {
	var out []ID
	for _, i := range idx {
		out = append(out, f.specs[i].ID())
	}
	return out
}

func span(a, b int) []int {
	var out []int
	for i := a; i < b; i++ {
		out = append(out, i)
	}
	return out
}

// syncLog is a logger into a buffer, safe for concurrent use.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestManagerMassTimeoutHolds: when most checks time out at once, their
// timeouts are held (no down verdict), with one warning; a mass failure
// that is not a timeout (connection refused) still takes them down
// within fall intervals, and the episode's end is logged once.
func TestManagerMassTimeoutHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		f := newFarm(n, time.Second, 2)
		var log syncLog
		m := NewManager(Options{
			Rand:       rand.New(rand.NewPCG(5, 6)),
			NewChecker: f.newChecker,
			Logger:     slog.New(slog.NewTextHandler(&log, nil)),
		})
		defer m.Close()
		m.Set(f.specs)
		m.SetGroups(map[string][]ID{"web": f.ids(span(0, n)...)})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if vs := drain(m.Verdicts()); ups(vs) != strings.Repeat("U", n) {
			t.Fatalf("verdicts %s, want %d ups", ups(vs), n)
		}

		// 8 of 10 hang: a farm at capacity.
		f.set(modeHang, span(0, 8)...)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if vs := drain(m.Verdicts()); len(vs) != 0 {
			t.Errorf("verdicts %+v during a mass timeout, want none (held)", vs)
		}
		ov := m.Overload()
		if !ov.MassTimeout || len(ov.Groups) != 1 || !ov.Groups[0].MassTimeout || ov.Groups[0].TimingOut != 8 || ov.HeldTimeouts == 0 {
			t.Errorf("overload %+v, want a mass timeout of all checks and of web (8 timing out), timeouts held", ov)
		}
		for i := range 8 {
			st := statusOf(t, m, f.specs[i].ID())
			if st.State != Up || st.HeldTimeouts == 0 || !errors.Is(st.LastResult, context.DeadlineExceeded) {
				t.Errorf("%s: %+v, want Up with held timeouts and the timeout as last error", f.fs[i].name, st)
			}
		}
		if got := strings.Count(log.String(), "health checks held"); got != 2 {
			t.Errorf("%d warnings, want 2 (web and all checks):\n%s", got, log.String())
		}

		// Then the servers stop: refused is a real failure.
		f.set(modeRefuse, span(0, n)...)
		time.Sleep(2*time.Second + 500*time.Millisecond) // fall × interval, and the phase
		synctest.Wait()
		if vs := drain(m.Verdicts()); ups(vs) != strings.Repeat("D", n) {
			t.Errorf("verdicts %s after the servers stopped, want %d downs within fall intervals", ups(vs), n)
		}
		if ov := m.Overload(); ov.MassTimeout || ov.Groups[0].MassTimeout {
			t.Errorf("overload %+v, want the mass timeout over", ov)
		}
		if got := strings.Count(log.String(), "no longer held"); got != 2 {
			t.Errorf("%d ends logged, want 2:\n%s", got, log.String())
		}
	})
}

// TestManagerMassTimeoutByGroup: a group whose checks mostly time out is
// held; a check of another group that times out alone goes down.
func TestManagerMassTimeoutByGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		f := newFarm(n, time.Second, 2)
		m := NewManager(Options{Rand: rand.New(rand.NewPCG(7, 8)), NewChecker: f.newChecker})
		defer m.Close()
		m.Set(f.specs)
		m.SetGroups(map[string][]ID{"a": f.ids(0, 1, 2), "b": f.ids(span(3, n)...)})
		time.Sleep(3 * time.Second)
		synctest.Wait()
		drain(m.Verdicts())

		f.set(modeHang, 0, 1, 2, 3) // all of a, one of b: 4 of 10 overall
		time.Sleep(10 * time.Second)
		synctest.Wait()
		vs := drain(m.Verdicts())
		if len(vs) != 1 || vs[0].ID != f.specs[3].ID() || vs[0].Up {
			t.Errorf("verdicts %+v, want only rs4 (b) down", vs)
		}
		ov := m.Overload()
		if ov.MassTimeout || len(ov.Groups) != 2 || !ov.Groups[0].MassTimeout || ov.Groups[1].MassTimeout {
			t.Errorf("overload %+v, want a mass timeout of a only", ov)
		}
		// A reload that drops group a ends its episode.
		m.SetGroups(map[string][]ID{"b": f.ids(span(3, n)...)})
		if ov := m.Overload(); len(ov.Groups) != 1 || ov.Groups[0].Name != "b" {
			t.Errorf("groups %+v after SetGroups, want b only", ov.Groups)
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if vs := drain(m.Verdicts()); len(vs) != 3 {
			t.Errorf("verdicts %+v, want a's 3 checks down once no longer held", vs)
		}
	})
}

// TestOverloadSurvivesStall: an overloaded checker that runs no probe for
// seconds (stalled) is still overloaded when the stalled probes finish,
// late and timed out: they are held. With no check left, the episode
// ends.
func TestOverloadSurvivesStall(t *testing.T) {
	var o overload
	var s ovState
	o.join(&s)
	t0 := time.Unix(1000, 0)
	for i := range 10 {
		o.observe(&s, false, true, t0.Add(time.Duration(i)*50*time.Millisecond))
	}
	o.observe(&s, false, true, t0.Add(1100*time.Millisecond)) // closes the first window
	if !o.overloaded {
		t.Fatal("10 late probes of 10 in a window: want overloaded")
	}
	// A stall: the next probe ends 5 s later, timed out and late.
	hold, _ := o.observe(&s, true, true, t0.Add(6*time.Second))
	if !o.overloaded || !hold {
		t.Errorf("after a 5 s stall: overloaded %v, hold %v; want both", o.overloaded, hold)
	}
	o.leave(&s, t0.Add(7*time.Second))
	o.window(t0.Add(10 * time.Second))
	if o.overloaded {
		t.Error("no check left: want the episode ended")
	}
}
