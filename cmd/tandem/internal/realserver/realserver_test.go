package realserver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
)

// fakeRSHost is an rsHost in memory.
type fakeRSHost struct {
	local   []netip.Addr
	addrs   map[string][]netip.Prefix // by device
	up      map[string]bool           // devices that exist, and whether up
	sysctls map[string]string
	writes  int
}

func newFakeRSHost() *fakeRSHost {
	return &fakeRSHost{
		local: []netip.Addr{netip.MustParseAddr("203.0.113.31")},
		addrs: map[string][]netip.Prefix{},
		up:    map[string]bool{"lo": true, "eth0": true, "tunl0": false},
		sysctls: map[string]string{
			"net/ipv4/conf/all/arp_ignore":   "0",
			"net/ipv4/conf/all/arp_announce": "0",
			"net/ipv4/conf/all/rp_filter":    "1",
			"net/ipv4/conf/tunl0/rp_filter":  "1",
		},
	}
}

func (f *fakeRSHost) dev(d string) error {
	if _, ok := f.up[d]; !ok {
		return fmt.Errorf("link %s not found", d)
	}
	return nil
}
func (f *fakeRSHost) LocalAddrs() ([]netip.Addr, error) { return f.local, nil }
func (f *fakeRSHost) HasAddr(d string, p netip.Prefix) (bool, error) {
	return slices.Contains(f.addrs[d], p), f.dev(d)
}
func (f *fakeRSHost) AddAddr(d string, p netip.Prefix) error {
	f.writes++
	f.addrs[d] = append(f.addrs[d], p)
	return f.dev(d)
}
func (f *fakeRSHost) DelAddr(d string, p netip.Prefix) error {
	f.writes++
	f.addrs[d] = slices.DeleteFunc(f.addrs[d], func(q netip.Prefix) bool { return q == p })
	return f.dev(d)
}
func (f *fakeRSHost) IsUp(d string) (bool, error) { return f.up[d], f.dev(d) }
func (f *fakeRSHost) SetUp(d string, up bool) error {
	f.writes++
	f.up[d] = up
	return f.dev(d)
}
func (f *fakeRSHost) Sysctl(k string) (string, error) {
	v, ok := f.sysctls[k]
	if !ok {
		return "", os.ErrNotExist
	}
	return v, nil
}
func (f *fakeRSHost) SetSysctl(k, v string) error {
	f.writes++
	f.sysctls[k] = v
	return nil
}

func runRS(t *testing.T, h *fakeRSHost, args ...string) (string, int) {
	t.Helper()
	var out, errb strings.Builder
	code := realServer(args, &out, &errb, func() (rsHost, error) { return h, nil })
	return out.String() + errb.String(), code
}

func TestRealServerDR(t *testing.T) {
	h := newFakeRSHost()
	h.addrs["eth0"] = []netip.Prefix{netip.MustParsePrefix("203.0.113.31/24")}
	state := filepath.Join(t.TempDir(), "rs.json")
	out, code := runRS(t, h, "-c", "../../../../conf/testdata/dr.hcl", "--state", state)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	t.Logf("first run:\n%s", out)
	if !slices.Contains(h.addrs["lo"], netip.MustParsePrefix("203.0.113.20/32")) {
		t.Errorf("VIP not on lo: %v", h.addrs)
	}
	if h.sysctls["net/ipv4/conf/all/arp_ignore"] != "1" || h.sysctls["net/ipv4/conf/all/arp_announce"] != "2" {
		t.Errorf("arp sysctls: %v", h.sysctls)
	}
	if h.sysctls["net/ipv4/conf/all/rp_filter"] != "1" {
		t.Error("DR changed rp_filter")
	}

	w := h.writes
	out, code = runRS(t, h, "-c", "../../../../conf/testdata/dr.hcl", "--state", state)
	if code != 0 || h.writes != w || !strings.Contains(out, "nothing changed") {
		t.Errorf("second run: exit %d, %d writes: %s", code, h.writes-w, out)
	}

	// Someone changes arp_announce by hand; undo leaves it, restores the
	// rest, and removes the VIP only.
	h.sysctls["net/ipv4/conf/all/arp_announce"] = "1"
	out, code = runRS(t, h, "--undo", "--state", state)
	if code != 0 {
		t.Fatalf("undo: exit %d: %s", code, out)
	}
	t.Logf("undo:\n%s", out)
	if len(h.addrs["lo"]) != 0 || len(h.addrs["eth0"]) != 1 {
		t.Errorf("after undo: %v", h.addrs)
	}
	if h.sysctls["net/ipv4/conf/all/arp_ignore"] != "0" || h.sysctls["net/ipv4/conf/all/arp_announce"] != "1" {
		t.Errorf("after undo: %v", h.sysctls)
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file left after a full undo: %v", err)
	}
	if out, _ := runRS(t, h, "--undo", "--state", state); !strings.Contains(out, "nothing to undo") {
		t.Errorf("second undo: %s", out)
	}
}

func TestRealServerTUNFlags(t *testing.T) {
	h := newFakeRSHost()
	// A VIP already on tunl0 before tandem: kept by undo.
	h.addrs["tunl0"] = []netip.Prefix{netip.MustParsePrefix("198.51.100.9/32")}
	state := filepath.Join(t.TempDir(), "rs.json")
	out, code := runRS(t, h, "--mode", "tun", "--vip", "198.51.100.10,198.51.100.9", "--state", state)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if !h.up["tunl0"] || len(h.addrs["tunl0"]) != 2 {
		t.Errorf("tunl0 up %v, addresses %v", h.up["tunl0"], h.addrs["tunl0"])
	}
	if h.sysctls["net/ipv4/conf/tunl0/rp_filter"] != "0" || h.sysctls["net/ipv4/conf/all/rp_filter"] != "2" {
		t.Errorf("rp_filter: %v", h.sysctls)
	}
	// Fewer VIPs: the dropped one tandem added goes.
	out, code = runRS(t, h, "--mode", "tun", "--vip", "198.51.100.9", "--state", state)
	if code != 0 || len(h.addrs["tunl0"]) != 1 || !strings.Contains(out, "removed 198.51.100.10/32") {
		t.Errorf("narrowed: exit %d, %v: %s", code, h.addrs["tunl0"], out)
	}
	if _, code := runRS(t, h, "--undo", "--state", state); code != 0 {
		t.Fatal("undo failed")
	}
	if h.up["tunl0"] || !slices.Equal(h.addrs["tunl0"], []netip.Prefix{netip.MustParsePrefix("198.51.100.9/32")}) {
		t.Errorf("after undo: up %v, %v", h.up["tunl0"], h.addrs["tunl0"])
	}
	if h.sysctls["net/ipv4/conf/all/rp_filter"] != "1" {
		t.Errorf("rp_filter not restored: %v", h.sysctls)
	}

	delete(h.up, "tunl0")
	out, code = runRS(t, h, "--mode", "tun", "--vip", "198.51.100.10", "--state", state)
	if code == 0 || !strings.Contains(out, "modprobe ipip") {
		t.Errorf("without tunl0: exit %d: %s", code, out)
	}
}

func TestRealServerUsage(t *testing.T) {
	h := newFakeRSHost()
	for _, args := range [][]string{
		{},
		{"--mode", "nat", "--vip", "192.0.2.1"},
		{"--mode", "dr"},
		{"-c", "x.hcl", "--mode", "dr", "--vip", "192.0.2.1"},
		{"--undo", "--mode", "dr"},
	} {
		if out, code := runRS(t, h, append(args, "--state", filepath.Join(t.TempDir(), "s"))...); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, out)
		}
	}
	if h.writes != 0 {
		t.Errorf("usage errors wrote %d times", h.writes)
	}
}

func TestRSFromCluster(t *testing.T) {
	c, _, diags := conf.Load("../../../../conf/testdata/dr.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	web2 := []netip.Addr{netip.MustParseAddr("203.0.113.32")}
	got, err := rsFromCluster(c, web2, nil)
	if err != nil || len(got) != 1 || got[0] != (rsVIP{Addr: netip.MustParseAddr("203.0.113.20"), Mode: conf.DR}) {
		t.Errorf("web2: %v, %v", got, err)
	}
	if got, err := rsFromCluster(c, nil, []string{"web1"}); err != nil || len(got) != 1 {
		t.Errorf("--name web1: %v, %v", got, err)
	}
	if _, err := rsFromCluster(c, []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil); err == nil {
		t.Error("a host that is no real server matched")
	}
	// A NAT real server needs nothing.
	n, _, diags := conf.Load("../../../../conf/testdata/example.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for i := range n.VirtualServers {
		for _, rs := range n.VirtualServers[i].RealServers {
			if rs.Forward == conf.NAT {
				got, err := rsFromCluster(n, []netip.Addr{rs.Address.Addr()}, nil)
				if err != nil || len(got) != 0 {
					t.Errorf("NAT real server %s: %v, %v", rs.Name, got, err)
				}
				return
			}
		}
	}
}
