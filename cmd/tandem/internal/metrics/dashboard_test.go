package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDashboard: every query of the Grafana dashboard is valid PromQL
// (promtool check rules) and names only series tandem exports, and every
// family tandem exports is on it.
func TestDashboard(t *testing.T) {
	var dash struct {
		Title  string
		Panels []struct {
			Title   string
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(Dashboard, &dash); err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, n := range Names() {
		exported[n] = true
	}
	exported["tandem_health_probe_duration_seconds_bucket"] = true
	exported["tandem_health_probe_duration_seconds_count"] = true
	exported["tandem_health_probe_duration_seconds_sum"] = true
	series := regexp.MustCompile(`\btandem_[a-z0-9_]+`)
	used := map[string]bool{}
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	n := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := series.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no tandem series", p.Title, tg.Expr)
			}
			for _, name := range names {
				if !exported[name] {
					t.Errorf("panel %q: query %q names %s, which tandem does not export", p.Title, tg.Expr, name)
				}
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")] = true
			}
			// The dashboard's variables, as Grafana substitutes them.
			expr := strings.ReplaceAll(tg.Expr, "$job", ".*")
			n++
			fmt.Fprintf(&rules, "  - record: dashboard:q%d\n    expr: %q\n", n, expr)
		}
	}
	for _, name := range Names() {
		if !used[name] {
			t.Errorf("%s is exported but on no panel", name)
		}
	}
	if n < 20 {
		t.Errorf("only %d queries", n)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run scripts/setup (it installs Debian's prometheus package)")
	}
	f := filepath.Join(t.TempDir(), "rules.yml")
	os.WriteFile(f, []byte(rules.String()), 0o644)
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules (the dashboard's queries): %v\n%s", err, out)
	}
}
