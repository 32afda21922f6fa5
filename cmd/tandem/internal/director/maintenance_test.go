package director

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// TestMaintenance: drain, disable (waiting for connections, and --now),
// enable, seen in the kernel table and in status; kept across a reload
// and a restart (the state file); dropped by a reload that removes the
// real server.
func TestMaintenance(t *testing.T) {
	c := parseHealthConf(t, planHCL)
	d, k, logb := testDaemon(t, c, nil)
	d.cfg.StatePath = filepath.Join(t.TempDir(), "tandem.overrides.json")
	ctx := context.Background()
	web := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	b := netip.MustParseAddrPort("192.168.100.12:80")
	rsHealth := func(vsName, rs string) status.RealServer {
		t.Helper()
		d.publish()
		st, err := d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, vs := range st.VirtualServers {
			for _, r := range vs.RealServers {
				if vs.Name == vsName && r.Name == rs {
					return r
				}
			}
		}
		t.Fatalf("no %s/%s in status", vsName, rs)
		return status.RealServer{}
	}

	res, err := d.maintain(ctx, MaintenanceRequest{VirtualServer: "web", RealServer: "b", Mode: ModeDrain})
	if err != nil || !res.Changed || res.Weight != 0 {
		t.Fatalf("drain: %+v, %v", res, err)
	}
	if got := kernelDests(t, k, web); got != "192.168.100.11:80/1 192.168.100.12:80/0 192.168.100.13:80/1" {
		t.Errorf("after drain: %s", got)
	}
	if r := rsHealth("web", "b"); r.Health != status.Draining || r.Override == nil || r.Override.Mode != "drain" || r.Weight != 0 || r.ConfiguredWeight != 1 {
		t.Errorf("status after drain: %+v", r)
	}
	// Again: nothing changes.
	if res, _ := d.maintain(ctx, MaintenanceRequest{VirtualServer: "web", RealServer: "b", Mode: ModeDrain}); res.Changed {
		t.Errorf("a second drain changed something: %+v", res)
	}

	// disable with connections: weight 0 until they end, then out.
	k.SetConns(web, b, ipvs.Conns{Active: 2})
	if res, err := d.maintain(ctx, MaintenanceRequest{VirtualServer: "203.0.113.10:80", RealServer: "192.168.100.12", Mode: ModeDisable}); err != nil || res.Weight != 0 {
		t.Fatalf("disable: %+v, %v", res, err)
	}
	d.pollDraining(ctx)
	if got := kernelDests(t, k, web); !strings.Contains(got, "192.168.100.12:80/0") {
		t.Errorf("disabled with connections: %s; want b kept at weight 0", got)
	}
	if r := rsHealth("web", "b"); r.Health != status.Draining || r.ActiveConns != 2 {
		t.Errorf("status while disabling: %+v", r)
	}
	k.SetConns(web, b, ipvs.Conns{})
	d.pollDraining(ctx)
	if got := kernelDests(t, k, web); got != "192.168.100.11:80/1 192.168.100.13:80/1" {
		t.Errorf("disabled without connections: %s; want b out", got)
	}
	if r := rsHealth("web", "b"); r.Health != status.Maintenance || r.Weight != -1 {
		t.Errorf("status once disabled: %+v", r)
	}

	// It survives a reload that keeps b, and a restart.
	c2 := parseHealthConf(t, strings.Replace(planHCL, `scheduler = "rr"`, `scheduler = "wrr"`, 1))
	d.cfg.Load = func(string) (*conf.Cluster, *conf.Node, error) { return c2, &c2.Nodes[0], nil }
	if _, err := d.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if got := kernelDests(t, k, web); got != "192.168.100.11:80/1 192.168.100.13:80/1" {
		t.Errorf("after a reload: %s; want b still out", got)
	}
	d2, k2, _ := testDaemon(t, c2, nil)
	d2.cfg.StatePath = d.cfg.StatePath
	d2.loadOverrides()
	d2.apply(ctx, d2.desiredFrom(c2, nil), true)
	if got := kernelDests(t, k2, web); got != "192.168.100.11:80/1 192.168.100.13:80/1" {
		t.Errorf("after a restart: %s; want b still out", got)
	}

	// enable: back to the checks' verdict (unchecked: in).
	if res, err := d.maintain(ctx, MaintenanceRequest{VirtualServer: "web", RealServer: "b", Mode: ModeEnable}); err != nil || res.Weight != 1 {
		t.Fatalf("enable: %+v, %v", res, err)
	}
	if r := rsHealth("web", "b"); r.Health != status.Unchecked || r.Override != nil || r.Weight != 1 {
		t.Errorf("status after enable: %+v", r)
	}

	// disable --now: out at once, connections or not.
	k.SetConns(web, b, ipvs.Conns{Active: 5})
	if res, err := d.maintain(ctx, MaintenanceRequest{VirtualServer: "tcp/203.0.113.10:80", RealServer: "b", Mode: ModeDisable, Now: true}); err != nil || res.Weight != -1 {
		t.Fatalf("disable --now: %+v, %v", res, err)
	}
	// A reload that removes b drops its override.
	c3 := parseHealthConf(t, strings.Replace(planHCL, `  real_server "b" { address = "192.168.100.12" }
  real_server "c"`, `  real_server "c"`, 1))
	d.cfg.Load = func(string) (*conf.Cluster, *conf.Node, error) { return c3, &c3.Nodes[0], nil }
	if _, err := d.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if len(d.overrides) != 0 || !strings.Contains(logb.String(), "maintenance override dropped") {
		t.Errorf("overrides after b left the file: %v", d.overrides)
	}

	// Names that match nothing, or too much.
	for _, req := range []MaintenanceRequest{
		{VirtualServer: "nope", RealServer: "a", Mode: ModeDrain},
		{VirtualServer: "web", RealServer: "zz", Mode: ModeDrain},
		{VirtualServer: "fwmark:7", RealServer: "a", Mode: ModeDrain},
	} {
		if _, err := d.maintain(ctx, req); !errors.Is(err, ErrNotFound) {
			t.Errorf("%+v: %v, want not found", req, err)
		}
	}
	if _, err := d.Maintain(ctx, MaintenanceRequest{VirtualServer: "web", RealServer: "a", Mode: "maint"}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("mode maint: %v", err)
	}
}

// TestStatusDocument: the status of a running table: services in the
// file's order with the kernel's weights and counters, quorum, a
// foreign service, and a drained server removed from the file.
func TestStatusDocument(t *testing.T) {
	c := parseHealthConf(t, planHCL)
	foreign := ipvs.VirtualService(ipvs.UDP, netip.MustParseAddrPort("198.51.100.1:53"))
	d, k, _ := testDaemon(t, c, ipvs.NewTable(ipvs.Service{Key: foreign, Scheduler: "rr",
		Destinations: []ipvs.Destination{{Addr: netip.MustParseAddr("10.0.0.1"), Port: 53, Weight: 3}}}))
	soft := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:443"))
	k.SetConns(soft, netip.MustParseAddrPort("192.168.100.11:443"), ipvs.Conns{Active: 7, Inactive: 3})
	d.publish()
	st, err := d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Schema != status.Schema || st.Node != "d" || st.ConfigHash != c.Hash || len(st.ConfigHash) != 64 || !st.IPVS.Managed {
		t.Errorf("header: %+v", st)
	}
	var names []string
	for _, vs := range st.VirtualServers {
		names = append(names, vs.Name)
	}
	if strings.Join(names, ",") != "web,soft,old,checked" {
		t.Errorf("virtual servers %v, want the file's order", names)
	}
	s := st.VirtualServers[1]
	if s.Service != "TCP 203.0.113.10:443" || !s.InKernel || !s.Up || s.HealthyWeight != 2 || len(s.RealServers) != 2 {
		t.Errorf("soft: %+v", s)
	}
	if r := s.RealServers[0]; r.ActiveConns != 7 || r.InactiveConns != 3 || r.Weight != 1 || r.Forward != "nat" || r.Health != status.Unchecked {
		t.Errorf("soft/a: %+v", r)
	}
	// Checked, no verdict yet, not adopted: out, unknown.
	if r := st.VirtualServers[3].RealServers[0]; r.Health != status.Unknown || r.Weight != -1 || r.Check != "" && r.Check != "tcp" {
		t.Errorf("checked/a: %+v", r)
	}
	if len(st.Foreign) != 1 || st.Foreign[0].Service != "UDP 198.51.100.1:53" || st.Foreign[0].RealServers[0].Weight != 3 {
		t.Errorf("foreign: %+v", st.Foreign)
	}
}
