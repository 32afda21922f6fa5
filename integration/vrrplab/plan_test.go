package vrrplab

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// runTandem runs the tandem binary with args in d's namespace.
func runTandem(t *testing.T, l *Lab, d *Director, args ...string) (string, int) {
	t.Helper()
	return runIn(t, d, nil, append([]string{l.Tandem}, args...)...)
}

// planLines are the change lines of a printed plan, one space between
// fields.
func planLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "  ") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	return lines
}

// TestPlanAndReloadVRRP: against a running daemon (through its control
// socket), `tandem plan` lists what a reload would do to each VRRP
// instance, applying nothing; `tandem reload` then does exactly that:
// kept, changed in place, restarted, added, removed. The instances kept
// or changed in place make no transition.
func TestPlanAndReloadVRRP(t *testing.T) {
	l := lab(t, "tvl-plan")
	two := `
vrrp "second" {
  vrid            = 52
  interface       = "eth0"
  addresses       = ["10.77.0.20/24"]
  advert_interval = "100ms"
}
vrrp "third" {
  vrid            = 53
  interface       = "eth0"
  addresses       = ["10.77.0.30/24"]
  advert_interval = "100ms"
}
`
	cfg := cluster(t, "", two)
	p1, _ := startPair(t, l, cfg)
	d1 := l.Director("d1")
	waitState(p1, "third", "MASTER", 0)

	// public: preempt_delay in place; second: another VRID (restarted);
	// third: removed; fourth: added.
	b, err := os.ReadFile(cfg)
	must(t, err)
	next := strings.Replace(string(b), "  advert_interval = \"100ms\"\n\n}", "  advert_interval = \"100ms\"\n  preempt_delay = \"2s\"\n}", 1)
	next = strings.Replace(next, "vrid            = 52", "vrid            = 62", 1)
	next = strings.Replace(next, `vrrp "third" {
  vrid            = 53`, `vrrp "fourth" {
  vrid            = 54`, 1)
	if next == string(b) {
		t.Fatal("the edits did not apply")
	}
	newCfg := WriteConfig(t, next)
	n := p1.Lines()
	plan, code := runTandem(t, l, d1, "plan", "-c", newCfg)
	t.Logf("d1$ tandem plan\n%s", plan)
	want := []string{
		"vrrp changed in place public: preempt_delay 0s -> 2s",
		"vrrp restarted second: vrid 52 -> 62",
		"vrrp added fourth",
		"vrrp removed third",
	}
	if code != 0 || !slices.Equal(planLines(plan), want) {
		t.Fatalf("plan: exit %d, lines\n%s\nwant\n%s", code, strings.Join(planLines(plan), "\n"), strings.Join(want, "\n"))
	}
	time.Sleep(300 * time.Millisecond)
	if s := p1.LogSince(n); strings.Contains(s, "vrrp reconfigured") || strings.Contains(s, "vrrp transition") {
		t.Fatalf("tandem plan changed something:\n%s", s)
	}

	// The reload applies the same, and nothing else moves.
	must(t, os.WriteFile(cfg, []byte(next), 0o644))
	out, code := runTandem(t, l, d1, "reload")
	t.Logf("d1$ tandem reload\n%s", out)
	if code != 0 || !slices.Equal(planLines(out), want) {
		t.Fatalf("reload: exit %d, lines\n%s\nwant the plan's", code, strings.Join(planLines(out), "\n"))
	}
	waitState(p1, "fourth", "MASTER", n)
	waitState(p1, "third", "INIT", n)
	if s := p1.LogSince(n); strings.Contains(s, `instance=public from`) {
		t.Errorf("the instance changed in place made a transition:\n%s", s)
	}
	steady(t, l, vip, "d1", 300*time.Millisecond)

	// A broken file: diagnostics, exit 1, the running config kept.
	must(t, os.WriteFile(cfg, []byte(next+"\nvrrp \"x\" { vrid = 300 }\n"), 0o644))
	n = p1.Lines()
	out, code = runTandem(t, l, d1, "reload")
	if code != 1 || !strings.Contains(out, "cluster.hcl:") || !strings.Contains(out, "the running config is kept") {
		t.Errorf("broken file: exit %d\n%s", code, out)
	}
	out, code = runTandem(t, l, d1, "plan", "-c", cfg)
	if code != 1 || !strings.Contains(out, "cluster.hcl:") {
		t.Errorf("plan of a broken file: exit %d\n%s", code, out)
	}
	if s := p1.LogSince(n); strings.Contains(s, "vrrp reconfigured") || strings.Contains(s, "vrrp transition") {
		t.Errorf("a broken file changed something:\n%s", s)
	}
}
