package director

import (
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/vrrp"
)

func TestVRRPOptions(t *testing.T) {
	c, _, diags := conf.Load("../../../../conf/testdata/full.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d1, err := c.Node("director1")
	if err != nil {
		t.Fatal(err)
	}
	d2, err := c.Node("director2")
	if err != nil {
		t.Fatal(err)
	}
	o1, o2 := vrrpOptions(c, d1), vrrpOptions(c, d2)
	want := vrrp.Instance{
		Name:      "public",
		Interface: "eth0",
		Config: vrrp.Config{
			VRID: 51, Version: 2, Priority: 150, AdvertInterval: time.Second, Preempt: true,
		},
		Addresses:       []netip.Prefix{netip.MustParsePrefix("203.0.113.10/24")},
		UnicastPeers:    []netip.Addr{netip.MustParseAddr("198.51.100.2")},
		AuthPass:        "secret",
		TrackInterfaces: []string{"eth1"},
		TrackScripts:    []string{"db_alive"},
		GARP:            vrrp.DefaultGARP,
		Notify:          []string{"/usr/local/bin/notify"},
	}
	if diff := cmp.Diff(want, o1.Instances[0], cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("director1's public (-want +got):\n%s", diff)
	}
	if p := o2.Instances[0].Config.Priority; p != 120 {
		t.Errorf("director2's public priority %d, want the override 120", p)
	}
	if len(o1.Instances) != 2 || len(o1.SyncGroups) != 1 || len(o1.TrackScripts) != 1 {
		t.Errorf("options: %d instances, %d groups, %d scripts", len(o1.Instances), len(o1.SyncGroups), len(o1.TrackScripts))
	}
	if s := o1.TrackScripts[0]; s.Weight != -20 || s.Fall != 2 || s.Interval != 2*time.Second {
		t.Errorf("track script %+v", s)
	}
	// Reload compares options: the same file gives equal options.
	if !reflect.DeepEqual(o1, vrrpOptions(c, d1)) {
		t.Error("two builds of the same file differ")
	}
}

// TestVRRPPlan: the plan names what a reload does to each instance, as
// the runner will do it.
func TestVRRPPlan(t *testing.T) {
	base := func(prios ...uint8) vrrp.Options {
		var o vrrp.Options
		for i, p := range prios {
			o.Instances = append(o.Instances, vrrp.Instance{Name: string(rune('a' + i)), Interface: "eth0",
				Config:    vrrp.Config{VRID: uint8(i + 1), Priority: p},
				Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}})
		}
		return o
	}
	next := base(150, 160, 100, 90)
	next.Instances[1].Config.Priority = 170                                                                   // b: in place
	next.Instances[2].Config.VRID = 9                                                                         // c: restarted
	next.Instances[3].Addresses = append(next.Instances[3].Addresses, netip.MustParsePrefix("192.0.2.11/24")) // d: in place
	next.Instances = append(next.Instances, base(1, 1, 1, 1, 120).Instances[4])                               // e: added
	old := base(150, 160, 100, 90, 50, 40)                                                                    // f: removed (e was another)
	old.Instances = slices.Delete(old.Instances, 4, 5)
	p := &Plan{}
	p.vrrpChanges(old, next)
	var got []string
	for _, ch := range p.Changes {
		got = append(got, ch.Kind+" "+ch.What)
	}
	want := []string{
		"kept a",
		"changed in place b: priority 160 -> 170",
		"restarted c: vrid 3 -> 9",
		"changed in place d: addresses +192.0.2.11/24",
		"added e",
		"removed f",
	}
	if !slices.Equal(got, want) {
		t.Errorf("plan:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if p.Kept.VRRP != 1 {
		t.Errorf("kept %d, want 1", p.Kept.VRRP)
	}
}
