package ipvs

import (
	"context"
	"encoding/binary"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"
)

// TestMobyConversion checks the conversions to and from moby/ipvs, byte
// order of the netmask included, without a kernel.
func TestMobyConversion(t *testing.T) {
	for _, s := range []Service{
		{Key: web, Scheduler: "wrr", Netmask: 32},
		{Key: web, Scheduler: "sh", Flags: FlagPersistent | FlagSched1, Timeout: 300 * time.Second, Netmask: 24, PEName: "sip"},
		{Key: dns6, Scheduler: "rr", Flags: FlagPersistent, Timeout: time.Second, Netmask: 64},
		{Key: FWMarkService(IPv6, 5), Scheduler: "mh", Netmask: 128},
	} {
		ms := toMobyService(s)
		got, err := fromMobyService(ms)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s, got, cmpOpt); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", s.Key, diff)
		}
	}

	ms := toMobyService(Service{Key: web, Flags: FlagPersistent | FlagHashed, Netmask: 24})
	if b := binary.NativeEndian.AppendUint32(nil, ms.Netmask); string(b) != "\xff\xff\xff\x00" {
		t.Errorf("IPv4 /24 netmask attribute bytes = % x, want ff ff ff 00", b)
	}
	if ms.Flags != uint32(FlagPersistent) || ms.AddressFamily != 2 || ms.SchedName != "wlc" || len(ms.Address) != 4 {
		t.Errorf("moby service = %+v", ms)
	}
	if ms := toMobyService(Service{Key: dns6}); ms.Netmask != 128 || ms.AddressFamily != 10 || len(ms.Address) != 16 {
		t.Errorf("IPv6 moby service = %+v", ms)
	}
	ms.Netmask = 0 // a persistent /0 (moby's zero value) must read as a difference
	if s, _ := fromMobyService(ms); s.Netmask != -1 {
		t.Errorf("netmask 0 reads as %d, want -1", s.Netmask)
	}

	d := Destination{Addr: rs1, Port: 8080, Forward: Route, Weight: 7, UpperThreshold: 10, LowerThreshold: 2}
	md := toMobyDest(d)
	md.ConnectionFlags |= 0x0100
	got, err := fromMobyDest(md)
	if err != nil || got != d {
		t.Errorf("destination round trip = %+v, %v; want %+v", got, err, d)
	}
}

// TestKernel runs against the real kernel in a throwaway network namespace.
// It needs root and the ip_vs module; the lab VM has both.
func TestKernel(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Skip("no IPVS in this kernel (/proc/net/ip_vs missing)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}

	// Open the handle from a thread inside a new netns: the socket stays
	// there. The thread is left locked (and so discarded) if it cannot
	// return to the original namespace.
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	r, openErr := Open("")
	if err := netns.Set(orig); err != nil {
		t.Fatalf("back to original netns: %v", err)
	}
	runtime.UnlockOSThread()
	if openErr != nil {
		t.Fatal(openErr)
	}
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
