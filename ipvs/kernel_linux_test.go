package ipvs

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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

// TestKernelReadSockets reads a table of 100 services over several
// sockets, opened in the caller's namespace ("") and by path: every
// socket must be in the table's namespace, or the destinations it reads
// would be missing.
func TestKernelReadSockets(t *testing.T) {
	want := manyServices(100)
	inNewNetns(t, func() error {
		path := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		ctx := context.Background()
		for i, open := range []func() (*Reconciler, error){
			func() (*Reconciler, error) { return OpenWith("", Options{ReadSockets: 4}) },
			func() (*Reconciler, error) { return OpenWith(path, Options{ReadSockets: 3}) },
			func() (*Reconciler, error) { return OpenWith(path, Options{ReadSockets: 1}) },
		} {
			r, err := open()
			if err != nil {
				return err
			}
			defer r.Close()
			if i == 0 {
				if _, err := r.Reconcile(ctx, want, nil); err != nil {
					return err
				}
			}
			got, err := r.Dump(ctx)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(Normalize(want), got, cmpOpt); diff != "" {
				t.Errorf("open %d: Dump (-want +got):\n%s", i, diff)
			}
			st, err := r.Status(ctx)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(statusOf(want), st, cmpOpt); diff != "" {
				t.Errorf("open %d: Status (-want +got):\n%s", i, diff)
			}
		}
		return nil
	})
}

// TestKernelStatus sends a connection through a service from inside the
// namespace and reads its counters back, against `ipvsadm -Ln --stats
// --exact` as a witness.
func TestKernelStatus(t *testing.T) {
	if _, err := exec.LookPath("ipvsadm"); err != nil {
		t.Skip("no ipvsadm")
	}
	vipAP := netip.MustParseAddrPort("10.9.0.100:80")
	key := VirtualService(TCP, vipAP)
	want := NewTable(Service{Key: key, Scheduler: "rr", Destinations: []Destination{
		{Addr: netip.MustParseAddr("10.9.0.2"), Port: 80, Forward: Masq, Weight: 1},
	}})
	inNewNetns(t, func() error {
		// The real server's subnet is on a dummy link, which drops what
		// IPVS forwards; the client is this namespace itself.
		d0 := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "d0"}}
		if err := netlink.LinkAdd(d0); err != nil {
			return err
		}
		if err := netlink.AddrAdd(d0, &netlink.Addr{IPNet: &net.IPNet{IP: net.IPv4(10, 9, 0, 1), Mask: net.CIDRMask(24, 32)}}); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(d0); err != nil {
			return err
		}
		r, err := Open("")
		if err != nil {
			return err
		}
		defer r.Close()
		ctx := context.Background()
		if _, err := r.Reconcile(ctx, want, nil); err != nil {
			return err
		}
		// One SYN, then the socket is closed so that none follows.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: vipAP.Addr().As4(), Port: int(vipAP.Port())}); err != unix.EINPROGRESS {
			unix.Close(fd)
			return fmt.Errorf("connect: %v, want EINPROGRESS", err)
		}
		unix.Close(fd)

		// The totals are taken from the per-CPU counters every 2 s.
		var st map[ServiceKey]ServiceStatus
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			if st, err = r.Status(ctx); err != nil {
				return err
			}
			if st[key].Stats.Conns > 0 || time.Now().After(deadline) {
				break
			}
		}
		s := st[key]
		if s.Stats.Conns != 1 || s.Stats.InPkts != 1 || s.Stats.InBytes < 40 || len(s.Dests) != 1 {
			t.Fatalf("after one SYN: %+v", s)
		}
		d := s.Dests[0]
		if d.Stats != s.Stats || d.Conns.Active+d.Conns.Inactive != 1 || d.Weight != 1 {
			t.Errorf("destination after one SYN: %+v; service %+v", d, s.Stats)
		}
		out, err := exec.Command("ipvsadm", "-Ln", "--stats", "--exact", "-t", vipAP.String()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ipvsadm: %v: %s", err, out)
		}
		// Prot LocalAddress:Port Conns InPkts OutPkts InBytes OutBytes
		wantLine := fmt.Sprintf("TCP %s %d %d %d %d %d", vipAP, s.Stats.Conns, s.Stats.InPkts, s.Stats.OutPkts, s.Stats.InBytes, s.Stats.OutBytes)
		if !strings.Contains(strings.Join(strings.Fields(string(out)), " "), wantLine) {
			t.Errorf("ipvsadm shows\n%s\nwant a line %q", out, wantLine)
		}
		return nil
	})
}
