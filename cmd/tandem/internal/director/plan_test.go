package director

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

const planHCL = `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "web" {
  address   = "203.0.113.10:80"
  scheduler = "rr"
  real_server "a" { address = "192.168.100.11" }
  real_server "b" { address = "192.168.100.12" }
  real_server "c" { address = "192.168.100.13" }
}
virtual_server "soft" {
  address    = "203.0.113.10:443"
  on_failure = "drain"
  real_server "a" { address = "192.168.100.11" }
  real_server "b" { address = "192.168.100.12" }
}
virtual_server "old" {
  address = "203.0.113.10:25"
  real_server "a" { address = "192.168.100.11" }
}
virtual_server "checked" {
  address = "203.0.113.10:22"
  check "tcp" {}
  real_server "a" { address = "192.168.100.11" }
  real_server "b" { address = "192.168.100.12" }
}
`

// TestPlanApply: a reload's plan lists every kind of IPVS write and of
// check change, and applying it writes exactly what it lists, through the
// update path (no dump of the table).
func TestPlanApply(t *testing.T) {
	c1 := parseHealthConf(t, planHCL)
	d, k, _ := testDaemon(t, c1, nil)
	ctx := context.Background()

	// Every kind of write: web's scheduler (update service), a's weight
	// (update destination), b gone (delete destination), d new (add
	// destination); soft's b gone (drain); old gone, new added (delete and
	// add service); checked's b replaced by e (a check removed, one added).
	edited := `
director { static_vips = ["203.0.113.10"] }
node "d" {}
virtual_server "web" {
  address   = "203.0.113.10:80"
  scheduler = "wrr"
  real_server "a" {
    address = "192.168.100.11"
    weight  = 5
  }
  real_server "c" { address = "192.168.100.13" }
  real_server "d" { address = "192.168.100.14" }
}
virtual_server "soft" {
  address    = "203.0.113.10:443"
  on_failure = "drain"
  real_server "a" { address = "192.168.100.11" }
}
virtual_server "new" {
  address = "203.0.113.10:26"
  real_server "a" { address = "192.168.100.11" }
}
virtual_server "checked" {
  address = "203.0.113.10:22"
  check "tcp" {}
  real_server "a" { address = "192.168.100.11" }
  real_server "e" { address = "192.168.100.15" }
}
`
	c2 := parseHealthConf(t, edited)
	dumps := k.Dumps()
	p := d.plan(c2, &c2.Nodes[0], "t.hcl")
	var out bytes.Buffer
	p.Write(&out)
	t.Logf("plan:\n%s", out.String())

	var got []string
	for _, ch := range p.Changes {
		got = append(got, ch.Area+" "+ch.Kind+" "+ch.What)
	}
	want := []string{
		"ipvs add service TCP 203.0.113.10:26 (scheduler wlc, flags none, timeout 0s, netmask /32)",
		"ipvs update service TCP 203.0.113.10:80 (scheduler wrr, flags none, timeout 0s, netmask /32)",
		"ipvs add destination 192.168.100.11:26 to TCP 203.0.113.10:26 (Masq, weight 1, thresholds 0..0)",
		"ipvs update destination 192.168.100.11:80 in TCP 203.0.113.10:80 (Masq, weight 5, thresholds 0..0)",
		"ipvs add destination 192.168.100.14:80 to TCP 203.0.113.10:80 (Masq, weight 1, thresholds 0..0)",
		"ipvs drain destination 192.168.100.12:443 in TCP 203.0.113.10:443 (Masq, weight 0, thresholds 0..0); removed from the file: deleted once its connections end",
		"ipvs delete destination 192.168.100.12:80 from TCP 203.0.113.10:80",
		"ipvs delete service TCP 203.0.113.10:25",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("plan lacks %q", w)
		}
	}
	if n := p.Count("ipvs", ""); n != len(want) || p.Writes != len(want) {
		t.Errorf("%d ipvs changes, %d writes; want %d", n, p.Writes, len(want))
	}
	if p.Count("check", "added") != 1 || p.Count("check", "removed") != 1 || p.Kept.Checks != 1 {
		t.Errorf("checks: %d added, %d removed, %d kept; want 1, 1, 1", p.Count("check", "added"), p.Count("check", "removed"), p.Kept.Checks)
	}
	if p.Kept.Services != 1 { // checked: its new real server enters on its first success
		t.Errorf("kept services %d, want 1", p.Kept.Services)
	}

	writes := len(k.Writes())
	if err := d.applyPlan(ctx, p); err != nil {
		t.Fatal(err)
	}
	if n := len(k.Writes()) - writes; n != p.Writes {
		t.Errorf("the reload wrote %d, the plan said %d", n, p.Writes)
	}
	if k.Dumps() != dumps {
		t.Errorf("the reload dumped the table %d time(s), want none", k.Dumps()-dumps)
	}
	soft := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:443"))
	if got := kernelDests(t, k, soft); got != "192.168.100.11:443/1 192.168.100.12:443/0" {
		t.Errorf("soft: %s; want b drained", got)
	}
	// The same file again: nothing to do.
	p = d.plan(c2, &c2.Nodes[0], "t.hcl")
	if !p.Empty() || p.Writes != 0 {
		t.Errorf("plan of the running file: %s", p.Summary())
	}
}

// TestOfflinePlan: planned against a kernel table with a foreign service,
// a start adopts what it finds and leaves the foreign service alone.
func TestOfflinePlan(t *testing.T) {
	c := parseHealthConf(t, planHCL)
	web := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	foreign := ipvs.VirtualService(ipvs.TCP, netip.MustParseAddrPort("198.51.100.1:80"))
	kernel := ipvs.NewTable(
		ipvs.Service{Key: web, Scheduler: "rr", Destinations: []ipvs.Destination{
			{Addr: netip.MustParseAddr("192.168.100.11"), Port: 80, Weight: 1},
			{Addr: netip.MustParseAddr("192.168.100.12"), Port: 80, Weight: 1},
			{Addr: netip.MustParseAddr("192.168.100.13"), Port: 80, Weight: 1},
		}},
		ipvs.Service{Key: foreign, Scheduler: "rr"},
	)
	p := OfflinePlan(c, &c.Nodes[0], "t.hcl", kernel)
	var out bytes.Buffer
	p.Write(&out)
	t.Logf("plan:\n%s", out.String())
	if p.Kept.Services != 1 {
		t.Errorf("kept %d services, want web", p.Kept.Services)
	}
	// soft, old: a service and 2 + 1 destinations; checked: a service, its
	// real servers enter on their first success.
	if p.Count("ipvs", "add service") != 3 || p.Count("ipvs", "add destination") != 3 || p.Writes != 6 {
		t.Errorf("ipvs: %d services, %d destinations added, %d writes; want 3, 3, 6",
			p.Count("ipvs", "add service"), p.Count("ipvs", "add destination"), p.Writes)
	}
	if len(p.Foreign) != 1 || !strings.Contains(out.String(), "198.51.100.1:80 (not in the file: never touched)") {
		t.Errorf("foreign: %v", p.Foreign)
	}
	if p.Count("check", "added") != 2 {
		t.Errorf("checks added %d, want 2", p.Count("check", "added"))
	}
}

// TestReloadSnapshot: the snapshot follows a reload, and a rejected one
// keeps the running config in it.
func TestReloadSnapshot(t *testing.T) {
	c1 := parseHealthConf(t, planHCL)
	d, _, _ := testDaemon(t, c1, nil)
	ctx := context.Background()
	d.publish()
	s1 := d.Snapshot()
	if s1.Config != c1 || len(s1.Services) != 4 || s1.Node != "d" {
		t.Fatalf("first snapshot: %+v", s1)
	}
	c2 := parseHealthConf(t, strings.Replace(planHCL, `scheduler = "rr"`, `scheduler = "wrr"`, 1))
	d.cfg.Load = func(string) (*conf.Cluster, *conf.Node, error) { return c2, &c2.Nodes[0], nil }
	if _, err := d.reload(ctx); err != nil {
		t.Fatal(err)
	}
	d.publish()
	s2 := d.Snapshot()
	if s2.Config != c2 || s2.Reloads.OK != 1 || s2.Generation <= s1.Generation || s1.Config != c1 {
		t.Errorf("after a reload: %+v (the first: %+v)", s2, s1)
	}
	d.cfg.Load = func(string) (*conf.Cluster, *conf.Node, error) { return nil, nil, errors.New("bad file") }
	if _, err := d.reload(ctx); err == nil {
		t.Fatal("a bad file reloaded")
	}
	d.publish()
	if s3 := d.Snapshot(); s3.Config != c2 || s3.Reloads.Failed != 1 || s3.Reloads.LastError != "bad file" {
		t.Errorf("after a rejected reload: %+v", s3)
	}
}

// TestPlanMetrics: the plan lists a move of the metrics listener, and a
// reload calls OnConfig with the new file (the binary moves the
// listener there).
func TestPlanMetrics(t *testing.T) {
	c1 := parseHealthConf(t, planHCL)
	d, _, _ := testDaemon(t, c1, nil)
	var got []string
	d.cfg.OnConfig = func(c *conf.Cluster, n *conf.Node) {
		ap, ok := c.MetricsListen(n)
		got = append(got, fmt.Sprint(ap, ok))
	}
	for _, step := range []struct{ extra, change string }{
		{"metrics {\n  listen = \"127.0.0.1:9115\"\n}\n", "metrics added listen 127.0.0.1:9115"},
		{"metrics {\n  listen = \"127.0.0.1:9116\"\n}\n", "metrics changed listen 127.0.0.1:9115 -> 127.0.0.1:9116"},
		{"", "metrics removed listen 127.0.0.1:9116"},
	} {
		c := parseHealthConf(t, planHCL+step.extra)
		p := d.plan(c, &c.Nodes[0], "t.hcl")
		var b bytes.Buffer
		p.Write(&b)
		if !strings.Contains(strings.Join(strings.Fields(b.String()), " "), step.change) || !strings.Contains(p.Summary(), "the metrics listener") {
			t.Errorf("plan:\n%s\nwant %q", b.String(), step.change)
		}
		if err := d.applyPlan(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if want := "127.0.0.1:9115 true,127.0.0.1:9116 true,invalid AddrPort false"; strings.Join(got, ",") != want {
		t.Errorf("OnConfig saw %v, want %s", got, want)
	}
}

// TestPlanCanonicalOrder: a reload that adds a real server below others
// in an mh service plans (and applies) the re-adds that keep the kernel's
// list in canonical order.
func TestPlanCanonicalOrder(t *testing.T) {
	src := func(rs ...string) string {
		s := "director { static_vips = [\"203.0.113.10\"] }\nnode \"d\" {}\nvirtual_server \"web\" {\n  address = \"203.0.113.10:80\"\n  scheduler = \"mh\"\n  forward = \"dr\"\n"
		for _, a := range rs {
			s += fmt.Sprintf("  real_server %q { address = %q }\n", a, a)
		}
		return s + "}\n"
	}
	c1 := parseHealthConf(t, src("10.0.0.21", "10.0.0.23"))
	d, k, _ := testDaemon(t, c1, nil)
	c2 := parseHealthConf(t, src("10.0.0.21", "10.0.0.22", "10.0.0.23"))
	p := d.plan(c2, &c2.Nodes[0], "t.hcl")
	var got []string
	for _, ch := range p.Changes {
		if ch.Area == "ipvs" {
			got = append(got, ch.Kind+" "+strings.Fields(ch.What)[0])
		}
	}
	want := []string{"delete destination 10.0.0.23:80", "add destination 10.0.0.22:80", "add destination 10.0.0.23:80"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("plan: %v, want %v", got, want)
	}
	if err := d.applyPlan(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	tb, err := k.Dump()
	if err != nil {
		t.Fatal(err)
	}
	var list []string
	for _, dst := range tb[serviceKey(&c2.VirtualServers[0])].Destinations {
		list = append(list, dst.Addr.String())
	}
	if strings.Join(list, " ") != "10.0.0.23 10.0.0.22 10.0.0.21" {
		t.Errorf("kernel list after the reload: %v, want newest (largest) first", list)
	}
}
