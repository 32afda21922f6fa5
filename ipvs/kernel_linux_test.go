package ipvs

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
)

// TestEncodeLikeMoby checks the request encoder byte for byte against the
// layout of moby/ipvs's fillService and fillDestination (rebuilt here with
// the same vishvananda/netlink/nl calls), plus the destination family
// attribute tandem adds.
func TestEncodeLikeMoby(t *testing.T) {
	be16 := func(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
	for _, s := range []Service{
		{Key: web, Scheduler: "wrr"},
		{Key: web, Scheduler: "sh", Flags: FlagPersistent | FlagSched1, Timeout: 300 * time.Second, Netmask: 24, PEName: "sip"},
		{Key: dns6, Scheduler: "rr", Flags: FlagPersistent, Timeout: time.Second, Netmask: 64},
		{Key: FWMarkService(IPv6, 5), Scheduler: "mh"},
	} {
		k := s.Key.canonical()
		want := nl.NewRtAttr(ipvsCmdAttrService, nil)
		want.AddRtAttr(ipvsSvcAttrAF, nl.Uint16Attr(uint16(k.Family)))
		if k.IsFWMark() {
			want.AddRtAttr(ipvsSvcAttrFWMark, nl.Uint32Attr(k.FWMark))
		} else {
			want.AddRtAttr(ipvsSvcAttrProtocol, nl.Uint16Attr(uint16(k.Protocol)))
			want.AddRtAttr(ipvsSvcAttrAddr, k.Addr.AsSlice())
			want.AddRtAttr(ipvsSvcAttrPort, be16(k.Port))
		}
		want.AddRtAttr(ipvsSvcAttrSchedName, nl.ZeroTerminated(s.Scheduler))
		if s.PEName != "" {
			want.AddRtAttr(ipvsSvcAttrPEName, nl.ZeroTerminated(s.PEName))
		}
		want.AddRtAttr(ipvsSvcAttrFlags, append(nl.Uint32Attr(uint32(s.Flags)), 0xff, 0xff, 0xff, 0xff))
		want.AddRtAttr(ipvsSvcAttrTimeout, nl.Uint32Attr(uint32(s.Timeout/time.Second)))
		want.AddRtAttr(ipvsSvcAttrNetmask, nl.Uint32Attr(serviceNetmask(k.Family, s.Netmask)))
		wb := want.Serialize()
		if got := appendService(nil, s, true); !bytes.Equal(got, wb) {
			t.Errorf("%s:\n got % x\nwant % x", s.Key, got, wb)
		}
	}

	d := Destination{Addr: rs1, Port: 8080, Forward: Route, Weight: 7, UpperThreshold: 10, LowerThreshold: 2}
	want := nl.NewRtAttr(ipvsCmdAttrDest, nil)
	want.AddRtAttr(ipvsDestAttrAddr, rs1.AsSlice())
	want.AddRtAttr(ipvsDestAttrPort, be16(8080))
	want.AddRtAttr(ipvsDestAttrFwdMethod, nl.Uint32Attr(uint32(Route)))
	want.AddRtAttr(ipvsDestAttrWeight, nl.Uint32Attr(7))
	want.AddRtAttr(ipvsDestAttrUThresh, nl.Uint32Attr(10))
	want.AddRtAttr(ipvsDestAttrLThresh, nl.Uint32Attr(2))
	want.AddRtAttr(ipvsDestAttrAddrFam, nl.Uint16Attr(uint16(IPv4)))
	wb := want.Serialize()
	if got := appendDest(nil, d, true); !bytes.Equal(got, wb) {
		t.Errorf("destination:\n got % x\nwant % x", got, wb)
	}
}

// TestKernel runs against the real kernel in a throwaway network namespace.
// It needs root and the ip_vs module; the lab VM has both.
func TestKernel(t *testing.T) {
	var r *Reconciler
	inNewNetns(t, func() (err error) {
		r, err = Open("")
		return err
	})
	defer r.Close()
	ctx := context.Background()

	want := wantTable()
	res, err := r.Reconcile(ctx, want, nil)
	if err != nil {
		t.Fatalf("first Reconcile: %v (after %v)", err, res.Ops)
	}
	res, err = r.Reconcile(ctx, want, nil)
	if err != nil || res.Writes != 0 {
		t.Fatalf("second Reconcile: %v, %v; want no writes", res.Ops, err)
	}
	got, err := r.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Normalize(want), got, cmpOpt); diff != "" {
		t.Errorf("Dump (-want +got):\n%s", diff)
	}
	want[web].Destinations[0].Weight = 0
	res, err = r.Reconcile(ctx, want, nil)
	if err != nil || res.Writes != 1 || res.Ops[0].Kind != UpdateDest {
		t.Errorf("weight change: %v, %v; want one destination update", res.Ops, err)
	}
	res, err = r.Reconcile(ctx, nil, want.Keys())
	if err != nil || res.Writes != 3 {
		t.Errorf("retire all: %v, %v", res.Ops, err)
	}
}

// inNewNetns skips t unless the kernel has IPVS and the test runs as root,
// then runs fn on a thread inside a throwaway network namespace with its
// loopback up (IPVS refuses IPv4 destinations it cannot classify as
// unicast while lo is down). Sockets fn opens stay in that namespace. The
// thread is left locked (and so discarded) if it cannot return to the
// original namespace.
func inNewNetns(t *testing.T, fn func() error) {
	t.Helper()
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Skip("no IPVS in this kernel (/proc/net/ip_vs missing)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err == nil {
		err = fn()
	}
	if serr := netns.Set(orig); serr != nil {
		t.Fatalf("back to original netns: %v", serr)
	}
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
}
