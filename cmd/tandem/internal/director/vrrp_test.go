package director

import (
	"net/netip"
	"reflect"
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

func TestInPlaceChanges(t *testing.T) {
	base := func(prios ...uint8) vrrp.Options {
		var o vrrp.Options
		for i, p := range prios {
			o.Instances = append(o.Instances, vrrp.Instance{Name: string(rune('a' + i)), Interface: "eth0",
				Config:    vrrp.Config{VRID: uint8(i + 1), Priority: p},
				Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24")}})
		}
		return o
	}
	if got, ok := inPlaceChanges(base(150, 100), base(160, 100)); !ok || len(got) != 1 || got[0].name != "a" || got[0].priority != 160 || got[0].addresses != nil {
		t.Errorf("one priority: %+v %v", got, ok)
	}
	more := base(150, 100)
	more.Instances[1].Addresses = append(more.Instances[1].Addresses, netip.MustParsePrefix("192.0.2.11/24"))
	if got, ok := inPlaceChanges(base(150, 100), more); !ok || len(got) != 1 || got[0].name != "b" || len(got[0].addresses) != 2 || got[0].priority != 0 {
		t.Errorf("an added address: %+v %v", got, ok)
	}
	v6 := base(150)
	v6.Instances[0].Addresses = []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")}
	if _, ok := inPlaceChanges(base(150), v6); ok {
		t.Error("another family in place")
	}
	if _, ok := inPlaceChanges(base(150), base(255)); ok {
		t.Error("to the owner priority in place")
	}
	if _, ok := inPlaceChanges(base(150), base(150, 100)); ok {
		t.Error("an added instance in place")
	}
	other := base(160)
	other.Instances[0].Interface = "eth1"
	if _, ok := inPlaceChanges(base(150), other); ok {
		t.Error("a priority and an interface in place")
	}
}
