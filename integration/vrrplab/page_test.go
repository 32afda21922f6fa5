package vrrplab

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/browser"
	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

// pageConfig is the pair with a metrics listener and a virtual server
// whose real servers are the directors' own port 80 (up) and an address
// nobody holds (down). tandem runs --no-ipvs here: health and VRRP are
// real, the table is the lab VM's business.
const pageExtra = `
metrics {
  listen = "127.0.0.1:9115"
}

virtual_server "web" {
  address = "10.77.0.10:80"

  check "tcp" {
    interval = "200ms"
    timeout  = "150ms"
  }

  real_server "d1" { address = "10.77.0.1:80" }
  real_server "d2" { address = "10.77.0.2:80" }
  real_server "gone" { address = "10.77.0.99:80" }
}
`

// nsGet fetches url from inside ns.
func nsGet(t *testing.T, ns *netlab.NS, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: ns.DialContext}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}

// metricValue returns the value of the exposed series line that starts
// with prefix, or -1.
func metricValue(body, prefix string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, prefix+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestMetricsScrape: a running pair's /metrics, scraped from its
// listener, passes `promtool check metrics` (Prometheus's own linter) and
// holds the values status shows: VRRP states, health, the file's hash.
func TestMetricsScrape(t *testing.T) {
	l := lab(t, "tvl-met")
	cfg := cluster(t, "", pageExtra)
	p1, _ := startPair(t, l, cfg)
	d1, d2 := l.Director("d1"), l.Director("d2")
	p1.WaitLog(`health check state changed.*10\.77\.0\.99:80.*to=down`, 0, 5*time.Second)
	p1.WaitLog(`health check state changed.*10\.77\.0\.2:80.*to=up`, 0, 5*time.Second)

	body := nsGet(t, d1.NS, "http://127.0.0.1:9115/metrics")
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run scripts/setup (it installs Debian's prometheus package)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	var st struct {
		ConfigHash string `json:"config_hash"`
	}
	must(t, json.Unmarshal([]byte(nsGet(t, d1.NS, "http://127.0.0.1:9115/status.json")), &st))
	for series, want := range map[string]float64{
		`tandem_vrrp_state{interface="eth0",state="MASTER",vrid="51",vrrp_instance="public"}`: 1,
		`tandem_vrrp_state{interface="eth0",state="BACKUP",vrid="51",vrrp_instance="public"}`: 0,
		`tandem_vrrp_became_master_total{interface="eth0",vrid="51",vrrp_instance="public"}`:  1,
		`tandem_real_server_health{virtual_server="web",real_server="gone",health="down"}`:    1,
		`tandem_real_server_health{virtual_server="web",real_server="d2",health="up"}`:        1,
		`tandem_virtual_server_healthy_weight{virtual_server="web"}`:                          2,
		`tandem_ipvs_kernel_read_ok`: 0, // --no-ipvs
		`tandem_config_info{file="` + cfg + `",hash="` + st.ConfigHash + `",node="d1"}`: 1,
	} {
		if got := metricValue(body, series); got != want {
			t.Errorf("d1: %s = %v, want %v", series, got, want)
		}
	}
	if got := metricValue(body, `tandem_health_probe_duration_seconds_count{kind="tcp",result="failure"}`); got < 1 {
		t.Errorf("d1: no failed tcp probe in the histogram (%v)", got)
	}
	body2 := nsGet(t, d2.NS, "http://127.0.0.1:9115/metrics")
	if got := metricValue(body2, `tandem_vrrp_state{interface="eth0",state="BACKUP",vrid="51",vrrp_instance="public"}`); got != 1 {
		t.Errorf("d2: BACKUP = %v", got)
	}
	if got := metricValue(body2, `tandem_vrrp_adverts_received_total{interface="eth0",vrid="51",vrrp_instance="public"}`); got < 1 {
		t.Errorf("d2: adverts received = %v", got)
	}
	// Both directors run the same file: the same hash.
	if !strings.Contains(body2, `hash="`+st.ConfigHash+`"`) {
		t.Errorf("d2 shows another config hash than d1's %s", st.ConfigHash)
	}
	// The dashboard the listener serves is Grafana JSON.
	var dash struct{ Title string }
	must(t, json.Unmarshal([]byte(nsGet(t, d1.NS, "http://127.0.0.1:9115/grafana-dashboard.json")), &dash))
	if dash.Title != "tandem" {
		t.Errorf("dashboard title %q", dash.Title)
	}
}

// stableFields are the page's fields that do not move between two reads
// a second apart (counters, ages and probe times do).
var stableFields = map[string]bool{
	"node": true, "file": true, "config_hash": true, "schema": true, "version": true,
	"name": true, "state": true, "priority": true, "configured_priority": true, "master": true,
	"master_priority": true, "interface": true, "vrid": true, "addresses": true,
	"service": true, "scheduler": true, "forward": true, "up": true, "healthy_weight": true,
	"quorum": true, "sorry": true, "address": true, "configured_weight": true, "weight": true,
	"health": true, "check": true, "ipvs.managed": true,
}

// TestStatusPage: the status page of a running pair, as headless
// Chromium renders it, shows in its DOM the values of `tandem status
// --json` read beside it (the stable ones, at every data-field of the page's
// contract): each director's VRRP state and master, each real server's
// health. A screenshot is kept (TANDEM_SCREENSHOT_DIR, or the system's
// temporary directory; its path is in the test log).
func TestStatusPage(t *testing.T) {
	if _, err := browser.Find(); err != nil {
		t.Fatalf("%v: run scripts/setup (it installs Debian's chromium)", err)
	}
	l := lab(t, "tvl-page")
	cfg := cluster(t, "", pageExtra)
	p1, p2 := startPair(t, l, cfg)
	p1.WaitLog(`health check state changed.*10\.77\.0\.99:80.*to=down`, 0, 5*time.Second)
	p2.WaitLog(`health check state changed.*10\.77\.0\.99:80.*to=down`, 0, 5*time.Second)
	for _, c := range []struct {
		d                   *Director
		state, master, prio string
	}{
		{l.Director("d1"), "MASTER", "self", "150"},
		{l.Director("d2"), "BACKUP", "10.77.0.1", "100"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		b := browser.Browser{NetNS: c.d.NS.Name}
		start := time.Now()
		dom, err := b.DumpDOM(ctx, "http://127.0.0.1:9115/?refresh=0")
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", c.d.Name, err)
		}
		t.Logf("%s: Chromium loaded the page in %v", c.d.Name, time.Since(start).Round(time.Millisecond))
		fields, err := browser.Fields(dom)
		if err != nil {
			t.Fatal(err)
		}
		// The page against `tandem status --json` read right after it.
		out, code := runTandem(t, l, c.d, "status", "--json")
		if code != 0 {
			t.Fatalf("%s: tandem status --json: exit %d\n%s", c.d.Name, code, out)
		}
		var doc map[string]any
		dec := json.NewDecoder(strings.NewReader(out))
		dec.UseNumber()
		must(t, dec.Decode(&doc))
		text, code := runTandem(t, l, c.d, "status")
		if code != 0 || !regexp.MustCompile(`(?m)^public\s+`+c.state+`\s+`+c.prio+`\s+`+regexp.QuoteMeta(c.master)).MatchString(text) ||
			!regexp.MustCompile(`(?m)^  -> 10\.77\.0\.99:80\s+Masq\s+-\(1\)\s+0\s+0\s+down\s+\[gone\]`).MatchString(text) {
			t.Errorf("%s: tandem status (exit %d):\n%s", c.d.Name, code, text)
		}
		stable := map[string]map[string]browser.Field{}
		n := 0
		for scope, fs := range fields {
			for name, f := range fs {
				if stableFields[name] {
					if stable[scope] == nil {
						stable[scope] = map[string]browser.Field{}
					}
					stable[scope][name] = f
					n++
				}
			}
		}
		if n < 25 {
			t.Errorf("%s: only %d stable data-fields on the page", c.d.Name, n)
		}
		for _, m := range browser.Mismatches(stable, doc) {
			t.Errorf("%s: %s", c.d.Name, m)
		}
		for _, w := range []struct{ scope, field, value string }{
			{"", "node", c.d.Name},
			{"vrrp/public", "state", c.state},
			{"vrrp/public", "master", c.master},
			{"vrrp/public", "priority", c.prio},
			{"vs/web", "up", "true"},
			{"vs/web/rs/gone", "health", "down"},
			{"vs/web/rs/d1", "health", "up"},
			{"vs/web/rs/d2", "health", "up"},
		} {
			if got := fields[w.scope][w.field].Value; got != w.value {
				t.Errorf("%s: the page shows %s %s = %q, want %q", c.d.Name, w.scope, w.field, got, w.value)
			}
		}
		dir := os.Getenv("TANDEM_SCREENSHOT_DIR")
		if dir == "" {
			dir = os.TempDir()
		}
		shot := filepath.Join(dir, fmt.Sprintf("tandem-status-page-%s.png", c.d.Name))
		ctx, cancel = context.WithTimeout(context.Background(), 2*time.Minute)
		err = b.Screenshot(ctx, "http://127.0.0.1:9115/?refresh=0", shot, 1366, 900)
		cancel()
		if err != nil {
			t.Fatalf("%s: screenshot: %v", c.d.Name, err)
		}
		f, err := os.Open(shot)
		must(t, err)
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != 1366 {
			t.Errorf("%s: screenshot %s: %v", c.d.Name, shot, err)
		}
		t.Logf("%s: screenshot of the status page: %s", c.d.Name, shot)
	}
}
