package scenarios

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
)

func statusConfig(rs1Weight int, withRS1 bool) string {
	var b strings.Builder
	b.WriteString(`
node "d1" {
  priority = 150
}

node "d2" {
  priority = 100
}

metrics {
  listen = "127.0.0.1:9115"
}

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.0.0.100/24"]
  advert_interval = "300ms"
}

vrrp "gateway" {
  vrid            = 52
  interface       = "eth1"
  addresses       = ["192.168.100.1/24"]
  advert_interval = "300ms"
}

sync_group "lb" {
  instances = ["public", "gateway"]
}

virtual_server "echo" {
  address   = "10.0.0.100:9000"
  scheduler = "wrr"

  check "tcp" {
    interval = "500ms"
    timeout  = "500ms"
  }
`)
	if withRS1 {
		fmt.Fprintf(&b, "  real_server \"rs1\" {\n    address = \"192.168.100.11\"\n    weight  = %d\n  }\n", rs1Weight)
	}
	b.WriteString(`  real_server "rs2" { address = "192.168.100.12" }
  real_server "rs3" { address = "192.168.100.13" }
}
`)
	return b.String()
}

// statusDoc is the part of `tandem status --json` the test reads.
type statusDoc struct {
	Schema, Node string
	ConfigHash   string `json:"config_hash"`
	VRRP         []struct {
		Name, State, Master string
		Priority            int
		MasterPriority      int    `json:"master_priority"`
		AdvertsSent         uint64 `json:"adverts_sent"`
		AdvertsReceived     uint64 `json:"adverts_received"`
		BecameMaster        uint64 `json:"became_master"`
	}
	VirtualServers []struct {
		Name, Service string
		Up            bool
		InKernel      bool `json:"in_kernel"`
		RealServers   []struct {
			Name, Address, Health string
			Weight                int
			ConfiguredWeight      int    `json:"configured_weight"`
			ActiveConns           uint32 `json:"active_conns"`
			InactiveConns         uint32 `json:"inactive_conns"`
			Override              *struct{ Mode string }
			Removed               bool
			Stats                 *struct{ Conns uint64 }
		} `json:"real_servers"`
		Stats *struct {
			Conns   uint64
			InBytes uint64 `json:"in_bytes"`
		}
	} `json:"virtual_servers"`
	Foreign []struct{ Service string }
}

func (s *statusDoc) rs(name string) (weight int, health, override string) {
	for _, r := range s.VirtualServers[0].RealServers {
		if r.Name == name {
			o := ""
			if r.Override != nil {
				o = r.Override.Mode
			}
			return r.Weight, r.Health, o
		}
	}
	return -2, "absent", ""
}

func readStatus(t *testing.T, ns *netlab.NS) *statusDoc {
	t.Helper()
	out, code := tandemCmd(t, ns, "status", "--json")
	if code != 0 {
		t.Fatalf("tandem status --json: exit %d\n%s", code, out)
	}
	var s statusDoc
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("tandem status --json: %v\n%s", err, out)
	}
	return &s
}

// scrapeMetrics reads the metrics listener inside ns.
func scrapeMetrics(t *testing.T, ns *netlab.NS) string {
	t.Helper()
	resp, err := httpClient(ns).Get("http://127.0.0.1:9115/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	return string(b)
}

// sample returns the value of the series whose line starts with prefix
// ("name{labels}" as exposed), or -1.
func sample(body, prefix string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, prefix+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// TestStatusAndMaintenance: `tandem status` (text, --json, --stats,
// --rate) against two running directors, checked against ipvsadm; then
// drain, disable and enable of real servers under a client loop, seen in
// the kernel's table and in status, kept across a reload and a restart,
// dropped by a reload that removes the real server; and the metrics
// endpoint, whose values match status and ipvsadm.
func TestStatusAndMaintenance(t *testing.T) {
	vmOnly(t)
	l := &syncLab{lan: newLAN(t, "st", "br0", "br1"), mode: "nat"}
	l.client = l.lan.host("client")
	l.lan.plug(l.client, "eth0", "br0", "10.0.0.2/24")
	for i := range l.d {
		d := l.lan.host(fmt.Sprintf("d%d", i+1))
		l.lan.plug(d, "eth0", "br0", fmt.Sprintf("10.0.0.%d/24", 1+2*i))
		l.lan.plug(d, "eth1", "br1", fmt.Sprintf("192.168.100.%d/24", 2+i))
		l.d[i] = d
	}
	for i := 1; i <= 3; i++ {
		rs := l.lan.host(fmt.Sprintf("rs%d", i))
		l.lan.plug(rs, "eth0", "br1", fmt.Sprintf("192.168.100.%d/24", 10+i))
		must(t, rs.DefaultRoute("192.168.100.1"))
		serveEcho(t, rs, ":9000", fmt.Sprintf("rs%d", i))
	}
	d1 := l.d[0]
	// A foreign service, which tandem must show and leave alone.
	ipvsadm(t, d1, "-A", "-u", "10.0.0.1:53", "-s", "rr")
	ipvsadm(t, d1, "-a", "-u", "10.0.0.1:53", "-r", "192.168.100.50:53", "-m", "-w", "7")

	// No daemon: one line, exit 1.
	if out, code := tandemCmd(t, d1, "status"); code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 ||
		!strings.Contains(out, "no tandem run answers") {
		t.Errorf("status without a daemon: exit %d\n%s", code, out)
	}

	cfg := writeConfig(t, statusConfig(1, true))
	p1 := startTandem(t, d1, "run", "-c", cfg, "--node", "d1")
	p1.waitLog(`vrrp transition.*instance=public.*to=MASTER`, 0, 10*time.Second)
	p2 := startTandem(t, l.d[1], "run", "-c", cfg, "--node", "d2")
	p2.waitLog(`vrrp transition.*instance=public.*to=BACKUP`, 0, 10*time.Second)
	for _, d := range l.d {
		waitIPVS(t, d, `192\.168\.100\.11:9000 Masq 1 .*192\.168\.100\.12:9000 Masq 1 .*192\.168\.100\.13:9000 Masq 1`, 10*time.Second, "-Ln")
	}
	loop := startClientLoop(l.client, syncVIP+":9000", 20*time.Millisecond, 5000)
	time.Sleep(2500 * time.Millisecond) // connections, and the kernel's 2 s statistics

	// The text form.
	out, code := tandemCmd(t, d1, "status")
	say(t, "d1$ tandem status\n%s", strings.TrimRight(out, "\n"))
	for _, re := range []string{
		`(?m)^public\s+MASTER\s+150\s+self\s`,
		`(?m)^gateway\s+MASTER\s+150\s+self\s`,
		`(?m)^TCP\s+10\.0\.0\.100:9000 wrr\s.*\[echo\] up 3/1`,
		`(?m)^  -> 192\.168\.100\.11:9000\s+Masq\s+1\s+\d+\s+\d+\s+up\s+\[rs1\]`,
		`(?m)^UDP 10\.0\.0\.1:53 rr`,
		`(?m)^  -> 192\.168\.100\.50:53\s+Masq\s+7`,
	} {
		if code != 0 || !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("tandem status (exit %d): no %s", code, re)
		}
	}
	out2, _ := tandemCmd(t, l.d[1], "status")
	if !regexp.MustCompile(`(?m)^public\s+BACKUP\s+100\s+10\.0\.0\.1 \(150\)\s`).MatchString(out2) {
		t.Errorf("d2's status does not show d1 as master:\n%s", out2)
	}
	for _, flag := range []string{"--stats", "--rate"} {
		out, code := tandemCmd(t, d1, "status", flag)
		say(t, "d1$ tandem status %s\n%s", flag, strings.TrimRight(out, "\n"))
		head := map[string]string{"--stats": `Conns\s+InPkts\s+OutPkts\s+InBytes\s+OutBytes`, "--rate": `CPS\s+InPPS\s+OutPPS\s+InBPS\s+OutBPS`}[flag]
		if code != 0 || !regexp.MustCompile(head).MatchString(out) || !regexp.MustCompile(`(?m)^  -> 192\.168\.100\.12:9000\s+\[rs2\]\s+[1-9]`).MatchString(out) {
			t.Errorf("tandem status %s (exit %d): want the %s columns and rs2's counters", flag, code, head)
		}
	}

	// keepalived's SIGUSR1 habit: the status text in a file, the daemon
	// running on.
	must(t, p1.cmd.Process.Signal(syscall.SIGUSR1))
	line, _ := p1.waitLog(`msg="status written" file=\S+\.data`, 0, 5*time.Second)
	data, err := os.ReadFile(regexp.MustCompile(`file=(\S+)`).FindStringSubmatch(line)[1])
	if err != nil || !regexp.MustCompile(`(?m)^public\s+MASTER`).Match(data) || !strings.Contains(string(data), "10.0.0.100:9000") {
		t.Errorf("SIGUSR1's file: %v\n%s", err, data)
	}

	// --json against ipvsadm.
	st := readStatus(t, d1)
	if st.Schema != "tandem/status/v1" || st.Node != "d1" || len(st.ConfigHash) != 64 || len(st.Foreign) != 1 || st.Foreign[0].Service != "UDP 10.0.0.1:53" {
		t.Errorf("status header: %+v", st)
	}
	if st.VRRP[0].State != "MASTER" || st.VRRP[0].AdvertsSent == 0 || st.VRRP[0].BecameMaster != 1 {
		t.Errorf("d1's public: %+v", st.VRRP[0])
	}
	if st2 := readStatus(t, l.d[1]); st2.VRRP[0].State != "BACKUP" || st2.VRRP[0].Master != "10.0.0.1" ||
		st2.VRRP[0].MasterPriority != 150 || st2.VRRP[0].AdvertsReceived == 0 || st2.ConfigHash != st.ConfigHash {
		t.Errorf("d2's public: %+v (hash %s vs %s)", st2.VRRP[0], st2.ConfigHash, st.ConfigHash)
	}
	vs := st.VirtualServers[0]
	if vs.Service != "TCP 10.0.0.100:9000" || !vs.InKernel || !vs.Up || vs.Stats == nil || vs.Stats.Conns == 0 {
		t.Errorf("echo: %+v", vs)
	}
	kernel := ipvsadm(t, d1, "-Ln", "-t", "10.0.0.100:9000")
	for _, r := range vs.RealServers {
		m := regexp.MustCompile(regexp.QuoteMeta(r.Address) + `\s+Masq\s+(\d+)\s+(\d+)\s+(\d+)`).FindStringSubmatch(kernel)
		if m == nil || m[1] != strconv.Itoa(r.Weight) || r.Health != "up" || r.Stats == nil || r.Stats.Conns == 0 {
			t.Errorf("%s: status %+v, ipvsadm %q", r.Name, r, m)
		}
	}

	// Metrics: the values status shows.
	body := scrapeMetrics(t, d1)
	for series, want := range map[string]float64{
		`tandem_vrrp_state{interface="eth0",state="MASTER",vrid="51",vrrp_instance="public"}`:              1,
		`tandem_vrrp_priority{interface="eth0",vrid="51",vrrp_instance="public"}`:                          150,
		`tandem_vrrp_became_master_total{interface="eth0",vrid="51",vrrp_instance="public"}`:               1,
		`tandem_real_server_health{virtual_server="echo",real_server="rs1",health="up"}`:                   1,
		`tandem_ipvs_destination_weight{virtual_server="UDP 10.0.0.1:53",real_server="192.168.100.50:53"}`: 7,
		`tandem_ipvs_destination_weight{virtual_server="echo",real_server="rs2"}`:                          1,
		`tandem_virtual_server_up{virtual_server="echo"}`:                                                  1,
		`tandem_config_info{file="` + cfg + `",hash="` + st.ConfigHash + `",node="d1"}`:                    1,
		`tandem_last_reload_successful`:                                                                    1,
		`tandem_ipvs_kernel_read_ok`:                                                                       1,
	} {
		if got := sample(body, series); got != want {
			t.Errorf("metrics: %s = %v, want %v", series, got, want)
		}
	}
	for _, prefix := range []string{
		`tandem_ipvs_service_connections_total{virtual_server="echo"}`,
		`tandem_ipvs_service_in_bytes_total{virtual_server="echo"}`,
		`tandem_ipvs_destination_out_packets_total{virtual_server="echo",real_server="rs3"}`,
		`tandem_health_probe_duration_seconds_count{kind="tcp",result="success"}`,
		`tandem_vrrp_adverts_sent_total{interface="eth0",vrid="51",vrrp_instance="public"}`,
	} {
		if got := sample(body, prefix); got <= 0 {
			t.Errorf("metrics: %s = %v, want > 0", prefix, got)
		}
	}
	if !strings.Contains(body, "tandem_build_info{") || !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, "process_resident_memory_bytes ") {
		t.Error("metrics: no build info, go or process collectors")
	}

	// Maintenance.
	maint := func(args ...string) string {
		t.Helper()
		out, code := tandemCmd(t, d1, args...)
		say(t, "d1$ tandem %s\n%s", strings.Join(args, " "), strings.TrimRight(out, "\n"))
		if code != 0 {
			t.Fatalf("tandem %s: exit %d", strings.Join(args, " "), code)
		}
		return out
	}
	maint("drain", "echo", "rs1")
	waitIPVS(t, d1, `192\.168\.100\.11:9000 Masq 0 `, 5*time.Second, "-Ln")
	if w, h, o := readStatus(t, d1).rs("rs1"); w != 0 || h != "draining" || o != "drain" {
		t.Errorf("rs1 after drain: weight %d, %s, override %q", w, h, o)
	}
	if got := sample(scrapeMetrics(t, d1), `tandem_real_server_maintenance{virtual_server="echo",real_server="rs1",mode="drain"}`); got != 1 {
		t.Errorf("metrics: rs1's maintenance = %v", got)
	}
	// disable waits for the connections (TIME_WAIT entries included) to end.
	maint("disable", "10.0.0.100:9000", "192.168.100.12")
	waitIPVS(t, d1, `192\.168\.100\.12:9000 Masq 0 `, 5*time.Second, "-Ln")
	if w, h, o := readStatus(t, d1).rs("rs2"); w != 0 || h != "draining" || o != "disable" {
		t.Errorf("rs2 while disabling: weight %d, %s, override %q", w, h, o)
	}
	maint("disable", "--now", "echo", "rs2")
	time.Sleep(500 * time.Millisecond)
	if k := ipvsadm(t, d1, "-Ln"); strings.Contains(k, "192.168.100.12:9000") {
		t.Errorf("rs2 still in the table after disable --now:\n%s", k)
	}
	if w, h, _ := readStatus(t, d1).rs("rs2"); w != -1 || h != "maintenance" {
		t.Errorf("rs2 after disable --now: weight %d, %s", w, h)
	}
	if out, code := tandemCmd(t, d1, "drain", "echo", "rs9"); code != 1 || !strings.Contains(out, `real server "rs9": not found`) {
		t.Errorf("drain of an unknown real server: exit %d\n%s", code, out)
	}

	// Kept across a reload (rs1's weight changes: drained still) and a restart.
	must(t, os.WriteFile(cfg, []byte(statusConfig(3, true)), 0o644))
	if out, code := tandemCmd(t, d1, "reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	time.Sleep(500 * time.Millisecond)
	check := func(when string) {
		t.Helper()
		k := ipvsadm(t, d1, "-Ln")
		if !regexp.MustCompile(`192\.168\.100\.11:9000 +Masq +0 `).MatchString(k) || strings.Contains(k, "192.168.100.12:9000") {
			t.Errorf("%s: rs1 not drained or rs2 back:\n%s", when, k)
		}
		s := readStatus(t, d1)
		if _, _, o := s.rs("rs1"); o != "drain" {
			t.Errorf("%s: rs1's override %q", when, o)
		}
		if _, h, o := s.rs("rs2"); o != "disable" || h != "maintenance" {
			t.Errorf("%s: rs2 %s, override %q", when, h, o)
		}
	}
	check("after a reload")
	ok, byRS, fails := loop.finish()
	say(t, "client during drain, disable and reload: %d requests answered (%v), %d failed", ok, byRS, len(fails))
	if len(fails) > 0 {
		t.Errorf("%d requests failed during maintenance: %v", len(fails), fails[:min(len(fails), 5)])
	}
	// A restart hands the VIPs to d2 and back (overrides are each
	// director's own): no client loop across it.
	must(t, p1.stop())
	p1 = startTandem(t, d1, "run", "-c", cfg, "--node", "d1")
	p1.waitLog(`maintenance overrides restored.*overrides=2`, 0, 10*time.Second)
	p1.waitLog(`vrrp transition.*instance=public.*to=MASTER`, 0, 10*time.Second)
	check("after a restart")

	// enable: back to the checks.
	maint("enable", "echo", "rs1")
	maint("enable", "echo", "rs2")
	waitIPVS(t, d1, `192\.168\.100\.11:9000 Masq 3 .*192\.168\.100\.12:9000 Masq 1 `, 10*time.Second, "-Ln")
	if w, h, o := readStatus(t, d1).rs("rs2"); w != 1 || h != "up" || o != "" {
		t.Errorf("rs2 after enable: weight %d, %s, override %q", w, h, o)
	}
	// A reload that removes a real server drops its override.
	maint("drain", "echo", "rs1")
	must(t, os.WriteFile(cfg, []byte(statusConfig(3, false)), 0o644))
	if out, code := tandemCmd(t, d1, "reload"); code != 0 {
		t.Fatalf("reload: exit %d\n%s", code, out)
	}
	p1.waitLog(`maintenance override dropped.*192\.168\.100\.11:9000`, 0, 5*time.Second)
	// rs1 was drained: it stays at weight 0, shown as removed, until
	// its connections end.
	if s := readStatus(t, d1); len(s.VirtualServers[0].RealServers) != 3 || !s.VirtualServers[0].RealServers[2].Removed ||
		s.VirtualServers[0].RealServers[2].Override != nil || s.VirtualServers[0].RealServers[2].Weight != 0 {
		t.Errorf("after rs1 left the file: %+v", s.VirtualServers[0].RealServers)
	}
}
