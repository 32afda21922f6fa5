package vrrp

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// SetConfig refuses what makes another virtual router and changes
// nothing then; what it accepts changes no state and arms no timer, and
// applies from the next event.
func TestMachineSetConfig(t *testing.T) {
	refused := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"vrid", func(c *Config) { c.VRID = 2 }, "VRID"},
		{"version", func(c *Config) { c.Version = 2 }, "VRID, version"},
		{"primary", func(c *Config) { c.Primary = netip.MustParseAddr("10.0.0.9") }, "primary"},
		{"to the owner", func(c *Config) { c.Priority = Owner }, "owner"},
		{"invalid", func(c *Config) { c.AdvertInterval = 5 * time.Millisecond }, "centiseconds"},
	}
	for _, tt := range refused {
		t.Run("refused/"+tt.name, func(t *testing.T) {
			m, _ := NewMachine(testConfig())
			m.Step(at(0), ev(Startup))
			c := testConfig()
			tt.edit(&c)
			if err := m.SetConfig(c); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SetConfig = %v, want an error with %q", err, tt.want)
			}
			if m.Config() != testConfig() {
				t.Errorf("config changed: %+v", m.Config())
			}
		})
	}
	t.Run("refused/from the owner", func(t *testing.T) {
		c := testConfig()
		c.Priority = Owner
		m, _ := NewMachine(c)
		c.Priority = 200
		if err := m.SetConfig(c); err == nil || m.Priority() != Owner {
			t.Errorf("SetConfig = %v, priority %d", err, m.Priority())
		}
	})

	t.Run("master: interval from the next advert, priority at once", func(t *testing.T) {
		m, _ := NewMachine(testConfig())
		m.Step(at(0), ev(Startup))
		m.Step(at(masterAt), ev(Timer)) // master, next advert at masterAt+1s
		c := testConfig()
		c.AdvertInterval, c.Priority = 2*time.Second, 120
		if err := m.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		if m.State() != Master || m.Timer() != at(masterAt+time.Second) || m.Priority() != 120 {
			t.Fatalf("%v, timer %v, priority %d", m.State(), m.Timer().Sub(t0), m.Priority())
		}
		acts := m.Step(at(masterAt+time.Second), ev(Timer))
		want := []Action{send(120), timer(masterAt + 3*time.Second)}
		if !equalActions(acts, want) {
			t.Errorf("next advert: %v, want %v", acts, want)
		}
	})

	t.Run("v3 backup keeps the learned interval", func(t *testing.T) {
		m, _ := NewMachine(testConfig())
		m.Step(at(0), ev(Startup))
		m.Step(at(time.Second), adv(200, peerHigh, 0))
		timerAt := m.Timer()
		c := testConfig()
		c.AdvertInterval = 3 * time.Second
		if err := m.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		if m.MasterAdverInterval() != time.Second || m.Timer() != timerAt {
			t.Errorf("Master_Adver_Interval %v, timer moved %v", m.MasterAdverInterval(), m.Timer() != timerAt)
		}
		m.Step(at(2*time.Second), adv(200, peerHigh, 3*time.Second))
		if m.MasterAdverInterval() != 3*time.Second {
			t.Errorf("not learned from the master: %v", m.MasterAdverInterval())
		}
	})

	t.Run("v2 backup takes its own interval", func(t *testing.T) {
		c := testConfig()
		c.Version = 2
		m, _ := NewMachine(c)
		m.Step(at(0), ev(Startup))
		c.AdvertInterval = 2 * time.Second
		if err := m.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		if m.MasterAdverInterval() != 2*time.Second || m.State() != Backup {
			t.Errorf("v2: %v, %v", m.MasterAdverInterval(), m.State())
		}
	})

	t.Run("preempt off then on", func(t *testing.T) {
		m, _ := NewMachine(testConfig())
		m.Step(at(0), ev(Startup))
		m.Step(at(time.Second), adv(200, peerHigh, 0))
		c := testConfig()
		c.Preempt = false
		if err := m.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		// A lower master is followed now.
		m.Step(at(2*time.Second), adv(50, peerHigh, 0))
		if m.Timer() != at(2*time.Second+mdi100) {
			t.Errorf("without preempt the lower master is not followed: timer %v", m.Timer().Sub(t0))
		}
		c.Preempt = true
		if err := m.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		m.Step(at(3*time.Second), adv(50, peerHigh, 0)) // discarded
		if acts := m.Step(at(2*time.Second+mdi100), ev(Timer)); m.State() != Master || acts[len(acts)-1].Reason != ReasonPreempt {
			t.Errorf("with preempt again: %v %v", m.State(), acts)
		}
	})

	t.Run("preempt delay restarts", func(t *testing.T) {
		c := testConfig()
		c.PreemptDelay = 10 * time.Second
		m, _ := NewMachine(c)
		m.Step(at(0), ev(Startup))
		m.Step(at(time.Second), adv(50, peerHigh, 0)) // the delay runs until 11s
		c.PreemptDelay = 5 * time.Second
		if err := m.SetConfig(c); err != nil {
			t.Fatal(err)
		}
		m.Step(at(8*time.Second), adv(50, peerHigh, 0)) // starts again: until 13s
		m.Step(at(12*time.Second), adv(50, peerHigh, 0))
		if m.Timer() != at(12*time.Second+mdi100) {
			t.Errorf("the lower master was not followed at 12s: timer %v", m.Timer().Sub(t0))
		}
	})
}

func equalActions(a, b []Action) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Release ends a hold: a held backup whose Master_Down_Timer fired (and
// did nothing) arms it again and then takes over; one that still has a
// timer keeps it.
func TestMachineRelease(t *testing.T) {
	m, _ := NewMachine(testConfig())
	m.Step(at(0), ev(Startup))
	m.Step(at(time.Second), ev(ForceBackup))
	if !m.Held() {
		t.Fatal("not held")
	}
	if acts := m.Step(at(mdi100), ev(Timer)); len(acts) != 0 || m.State() != Backup || !m.Timer().IsZero() {
		t.Fatalf("held: %v, %v, timer %v", acts, m.State(), m.Timer())
	}
	acts := m.Step(at(5*time.Second), ev(Release))
	if want := []Action{timer(5*time.Second + mdi100)}; !equalActions(acts, want) || m.Held() {
		t.Fatalf("release: %v, want %v; held %v", acts, want, m.Held())
	}
	m.Step(at(5*time.Second+mdi100), ev(Timer))
	if m.State() != Master {
		t.Errorf("after release: %v", m.State())
	}
	if acts := m.Step(at(6*time.Second), ev(Release)); len(acts) != 0 {
		t.Errorf("release when not held: %v", acts)
	}

	m, _ = NewMachine(testConfig())
	m.Step(at(0), ev(Startup))
	m.Step(at(time.Second), ev(ForceBackup))
	if acts := m.Step(at(2*time.Second), ev(Release)); len(acts) != 0 || m.Timer() != at(mdi100) {
		t.Errorf("release with a timer armed: %v, timer %v", acts, m.Timer().Sub(t0))
	}
}
