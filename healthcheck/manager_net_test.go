package healthcheck

import (
	"testing"
	"time"
)

// TestManagerNetwork runs real checks against loopback servers: a healthy
// TCP listener, and an HTTP server that accepts and never answers.
func TestManagerNetwork(t *testing.T) {
	healthyLn := listen(t)
	acceptAndClose(healthyLn)
	hungLn := listen(t)
	hang(t, hungLn)

	m := NewManager(Options{})
	defer m.Close()
	healthy := Spec{Kind: KindTCP, Target: addrOf(healthyLn), Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}
	hung := Spec{Kind: KindHTTP, Target: addrOf(hungLn), Interval: time.Second, Timeout: 300 * time.Millisecond}
	m.Set([]Spec{hung, healthy})

	start := time.Now()
	deadline := time.After(5 * time.Second)
	var got []Verdict
	for len(got) < 2 {
		select {
		case v := <-m.Verdicts():
			got = append(got, v)
			if v.ID == healthy.ID() && time.Since(start) > time.Second {
				t.Errorf("healthy verdict after %v, want within its 100ms interval", time.Since(start))
			}
		case <-deadline:
			t.Fatalf("verdicts after 5s: %+v", got)
		}
	}
	for _, v := range got {
		switch v.ID {
		case healthy.ID():
			if !v.Up {
				t.Errorf("healthy: %+v", v)
			}
		case hung.ID():
			if v.Up || v.Err == nil || v.Latency < 300*time.Millisecond {
				t.Errorf("hung: %+v, want down after its 300ms timeout", v)
			}
		default:
			t.Errorf("unknown verdict %+v", v)
		}
	}
}
