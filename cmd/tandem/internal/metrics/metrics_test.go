package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
		IPVS:         status.IPVS{Managed: true, Reconciles: 7, ReconcileWrites: 12, ReconcileErrors: 1, LastReconcileSeconds: 0.0012},
		HealthChecks: &status.HealthChecks{MassTimeout: true, MassTimeoutSince: &since, LateProbes: 5, HeldTimeouts: 17},
		BGP: &status.BGP{LocalAS: 65010, RouterID: "10.0.0.11", PlacementHash: "0123456789ab",
			Placements: []status.BGPPlacement{{Node: "d2", Hash: "0123456789ab", Same: true}, {Node: "d3", Error: "refused"}},
			Routes:     []status.BGPRoute{{Prefix: "203.0.113.10/32", Announced: true, Reason: "ready"}, {Prefix: "203.0.113.11/32", Reason: "draining"}},
			Peers:      []status.BGPPeer{{Address: "10.0.0.1", AS: 65000, State: "established", Since: &since, Announced: 1}}},
	}
	st.VirtualServers[0].Panic, st.VirtualServers[0].PanicThreshold = true, "50%"
	st.VirtualServers[0].Held = &status.Held{Reason: "mass timeout", Since: since, TimingOut: 8, Checked: 10}
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
	body := scrape(t, m)
	for _, want := range []string{
		`tandem_vrrp_state{interface="eth0",state="MASTER",vrid="51",vrrp_instance="public"} 1`,
		`tandem_vrrp_state{interface="eth0",state="BACKUP",vrid="51",vrrp_instance="public"} 0`,
		`tandem_vrrp_became_master_total{interface="eth0",vrid="51",vrrp_instance="public"} 2`,
		`tandem_vrrp_adverts_dropped_total{interface="eth0",reason="auth_failed",vrid="51",vrrp_instance="public"} 4`,
		`tandem_vrrp_track_ok{interface="eth0",kind="script",name="chk",vrid="51",vrrp_instance="public"} 0`,
		`tandem_vrrp_packets_dropped_total{reason="unknown_vrid"} 9`,
		`tandem_virtual_server_info{virtual_server="web",service="TCP 203.0.113.10:80",scheduler="",forward="",owned="true"} 1`,
		`tandem_virtual_server_info{virtual_server="UDP 198.51.100.1:53",service="UDP 198.51.100.1:53",scheduler="rr",forward="",owned="false"} 1`,
		`tandem_ipvs_service_in_bytes_total{virtual_server="web"} 1000`,
		`tandem_real_server_info{virtual_server="web",real_server="rs3",address="192.168.100.13:80",forward="",check="tcp"} 1`,
		`tandem_ipvs_destination_active_connections{virtual_server="web",real_server="rs1"} 3`,
		`tandem_ipvs_destination_connections_total{virtual_server="web",real_server="rs2"} 4`,
		`tandem_ipvs_destination_weight{virtual_server="UDP 198.51.100.1:53",real_server="10.0.0.1:53"} 3`,
		`tandem_real_server_health{virtual_server="web",real_server="rs3",health="down"} 1`,
		`tandem_real_server_maintenance{virtual_server="web",real_server="rs2",mode="drain"} 1`,
		`tandem_real_server_check_transitions_total{virtual_server="web",real_server="rs3"} 2`,
		`tandem_reloads_total{result="failure"} 1`,
		`tandem_last_reload_successful 0`,
		`tandem_config_info{file="/etc/tandem/cluster.hcl",hash="` + st.ConfigHash + `",node="d1"} 1`,
		`tandem_ipvs_reconcile_writes_total 12`,
		`tandem_health_probe_duration_seconds_count{kind="tcp",result="failure"} 1`,
		`tandem_healthcheck_overloaded 0`,
		`tandem_healthcheck_mass_timeout 1`,
		`tandem_healthcheck_probes_late_total 5`,
		`tandem_healthcheck_timeouts_held_total 17`,
		`tandem_virtual_server_verdicts_held{virtual_server="web",reason="mass timeout"} 8`,
		`tandem_virtual_server_panic{virtual_server="web"} 1`,
		`tandem_bgp_peer_up{peer="10.0.0.1",peer_as="65000"} 1`,
		`tandem_bgp_route_announced{prefix="203.0.113.11/32"} 0`,
		`tandem_bgp_placement_info{hash="0123456789ab"} 1`,
		`tandem_bgp_placement_mismatch{node="d2"} 0`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("no line %s", want)
		}
	}
	// rs3 is not in the kernel: no kernel series for it.
	if strings.Contains(body, `tandem_ipvs_destination_weight{virtual_server="web",real_server="rs3"}`) {
		t.Error("kernel series for a real server the kernel does not hold")
	}
	// A hostile name is escaped.
	st.VirtualServers[0].Name = "we\"b\\\n"
	if b := scrape(t, m); !strings.Contains(b, `tandem_virtual_server_up{virtual_server="we\"b\\\n"} 1`) {
		t.Error("virtual server name not escaped")
	}
	st.VirtualServers[0].Name = "web"
	// Every family Names lists is exported.
	for _, n := range Names() {
		if !strings.Contains(body, "# TYPE "+n+" ") {
			t.Errorf("%s is in Names but not exported", n)
		}
	}
	if !slices.Contains(Names(), "tandem_build_info") || len(Names()) < 45 {
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

// BenchmarkScrape is one scrape of 1 000 virtual servers × 10 real
// servers (in-process: the status document is built once, outside).
func BenchmarkScrape(b *testing.B) {
	st := sample()
	vs0 := st.VirtualServers[0]
	st.VirtualServers = nil
	for i := range 1000 {
		vs := vs0
		vs.Name = fmt.Sprintf("vs%d", i)
		vs.Service = fmt.Sprintf("TCP 10.1.%d.%d:80", i/250, i%250+1)
		vs.RealServers = nil
		for j := range 10 {
			rs := vs0.RealServers[0]
			rs.Name = fmt.Sprintf("rs%d", j)
			rs.Address = fmt.Sprintf("192.168.%d.%d:8080", i%200, j+1)
			vs.RealServers = append(vs.RealServers, rs)
		}
		st.VirtualServers = append(st.VirtualServers, vs)
	}
	m := New(func(context.Context) (*status.Status, error) { return st, nil }, "bench")
	h := m.Handler()
	var n int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		n = rec.Body.Len()
	}
	b.ReportMetric(float64(n), "bytes/scrape")
}
