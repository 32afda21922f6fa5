package metrics

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// sample is a status with every kind of series in it.
func sample() *status.Status {
	since := time.Date(2026, 12, 4, 6, 0, 0, 0, time.UTC)
	st := &status.Status{
		Schema: status.Schema, Version: "test", Node: "d1", File: "/etc/tandem/cluster.hcl",
		ConfigHash: strings.Repeat("ab", 32), Loaded: since, Started: since,
		Reloads: status.Reloads{OK: 2, Failed: 1, Last: &since, LastError: "bad file"},
		VRRP: []status.Instance{{
			Name: "public", Interface: "eth0", VRID: 51, State: "MASTER", Since: &since, Priority: 150, ConfiguredPriority: 150,
			Master: "self", Transitions: 3, BecameMaster: 2, ReleasedMaster: 1, AdvertsSent: 100, AdvertsReceived: 5,
			Dropped: map[string]uint64{"auth_failed": 4, "bad_ttl": 0},
			Track:   []status.Track{{Kind: "script", Name: "chk", OK: false, Weight: -20}},
		}},
		VRRPDropped: map[string]uint64{"unknown_vrid": 9, "malformed": 1},
		VirtualServers: []status.VirtualServer{{
			Name: "web", Service: "TCP 203.0.113.10:80", Protocol: "tcp", Up: true, HealthyWeight: 2, Quorum: 1, InKernel: true,
			Stats: &status.Stats{Conns: 10, InPackets: 100, OutPackets: 90, InBytes: 1000, OutBytes: 9000},
			RealServers: []status.RealServer{
				{Name: "rs1", Address: "192.168.100.11:80", ConfiguredWeight: 1, Weight: 1, ActiveConns: 3, InactiveConns: 1,
					Health: "up", Check: "http", LastProbe: &since, LastProbeSeconds: 0.002, CheckTransitions: 1,
					Stats: &status.Stats{Conns: 6}},
				{Name: "rs2", Address: "192.168.100.12:80", ConfiguredWeight: 1, Weight: 0, Health: "draining",
					Override: &status.Override{Mode: "drain", Since: since}, Stats: &status.Stats{Conns: 4}},
				{Name: "rs3", Address: "192.168.100.13:80", ConfiguredWeight: 2, Weight: -1, Health: "down", Check: "tcp",
					LastError: "connection refused", LastProbe: &since, CheckTransitions: 2},
			},
		}},
		Foreign: []status.Foreign{{Service: "UDP 198.51.100.1:53", Scheduler: "rr", Stats: &status.Stats{},
			RealServers: []status.ForeignDest{{Address: "10.0.0.1:53", Forward: "nat", Weight: 3, Stats: &status.Stats{}}}}},
		IPVS: status.IPVS{Managed: true, Reconciles: 7, ReconcileWrites: 12, ReconcileErrors: 1, LastReconcileSeconds: 0.0012},
	}
	return st
}

func TestMetrics(t *testing.T) {
	st := sample()
	m := New(func(context.Context) (*status.Status, error) { return st, nil }, "test")
	m.ObserveProbe("http", 2*time.Millisecond, true)
	m.ObserveProbe("tcp", time.Second, false)

	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	for _, c := range []struct {
		name, want string
	}{
		{"tandem_vrrp_state", `tandem_vrrp_state{interface="eth0",state="MASTER",vrid="51",vrrp_instance="public"} 1`},
		{"tandem_vrrp_state", `tandem_vrrp_state{interface="eth0",state="BACKUP",vrid="51",vrrp_instance="public"} 0`},
		{"tandem_vrrp_became_master_total", `tandem_vrrp_became_master_total{interface="eth0",vrid="51",vrrp_instance="public"} 2`},
		{"tandem_vrrp_adverts_dropped_total", `tandem_vrrp_adverts_dropped_total{interface="eth0",reason="auth_failed",vrid="51",vrrp_instance="public"} 4`},
		{"tandem_vrrp_track_ok", `tandem_vrrp_track_ok{interface="eth0",kind="script",name="chk",vrid="51",vrrp_instance="public"} 0`},
		{"tandem_vrrp_packets_dropped_total", `tandem_vrrp_packets_dropped_total{reason="unknown_vrid"} 9`},
		{"tandem_ipvs_service_in_bytes_total", `tandem_ipvs_service_in_bytes_total{service="TCP 203.0.113.10:80",virtual_server="web"} 1000`},
		{"tandem_ipvs_destination_active_connections", `tandem_ipvs_destination_active_connections{address="192.168.100.11:80",real_server="rs1",service="TCP 203.0.113.10:80",virtual_server="web"} 3`},
		{"tandem_ipvs_destination_weight", `tandem_ipvs_destination_weight{address="10.0.0.1:53",real_server="",service="UDP 198.51.100.1:53",virtual_server=""} 3`},
		{"tandem_real_server_health", `tandem_real_server_health{address="192.168.100.13:80",health="down",real_server="rs3",service="TCP 203.0.113.10:80",virtual_server="web"} 1`},
		{"tandem_real_server_up", `tandem_real_server_up{address="192.168.100.12:80",real_server="rs2",service="TCP 203.0.113.10:80",virtual_server="web"} 0`},
		{"tandem_real_server_maintenance", `tandem_real_server_maintenance{address="192.168.100.12:80",mode="drain",real_server="rs2",service="TCP 203.0.113.10:80",virtual_server="web"} 1`},
		{"tandem_reloads_total", `tandem_reloads_total{result="failure"} 1`},
		{"tandem_last_reload_successful", `tandem_last_reload_successful 0`},
		{"tandem_config_info", `tandem_config_info{file="/etc/tandem/cluster.hcl",hash="` + st.ConfigHash + `",node="d1"} 1`},
		{"tandem_ipvs_reconcile_writes_total", `tandem_ipvs_reconcile_writes_total 12`},
		{"tandem_health_probe_duration_seconds", `tandem_health_probe_duration_seconds_count{kind="tcp",result="failure"} 1`},
	} {
		if !strings.Contains(scrape(t, m), c.want+"\n") {
			t.Errorf("%s: no line %s", c.name, c.want)
		}
	}
	// Every family Names lists is exported.
	body := scrape(t, m)
	for _, n := range Names() {
		if !strings.Contains(body, "# TYPE "+n+" ") {
			t.Errorf("%s is in Names but not exported", n)
		}
	}
	if !slices.Contains(Names(), "tandem_build_info") || len(Names()) < 40 {
		t.Errorf("Names: %v", Names())
	}
	// promtool, as Prometheus's own check (Debian's prometheus package;
	// scripts/setup installs it).
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run scripts/setup (it installs Debian's prometheus package)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// A status that cannot be built is an error for that scrape, not a
// crash, and the rest (build info, the histogram) is still served.
func TestMetricsError(t *testing.T) {
	m := New(func(context.Context) (*status.Status, error) { return nil, errors.New("not running") }, "test")
	body := scrape(t, m)
	if !strings.Contains(body, "tandem_build_info{") {
		t.Errorf("no build info when status fails:\n%s", body)
	}
	if bytes.Contains([]byte(body), []byte("tandem_vrrp_state")) {
		t.Error("vrrp series without a status")
	}
}
