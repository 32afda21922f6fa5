package vrrp

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

var testMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}

func TestGARPFrame(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	b, err := garpFrame(testMAC, ip)
	if err != nil {
		t.Fatal(err)
	}
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, testMAC) || f.EtherType != ethernet.EtherTypeARP {
		t.Fatalf("frame %v → %v type %v", f.Source, f.Destination, f.EtherType)
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(f.Payload); err != nil {
		t.Fatal(err)
	}
	if p.Operation != arp.OperationRequest || p.SenderIP != ip || p.TargetIP != ip || !bytes.Equal(p.SenderHardwareAddr, testMAC) {
		t.Errorf("arp %+v: want a request with sender = target = %v from %v", p, ip, testMAC)
	}
}

func TestNAMessage(t *testing.T) {
	ip := netip.MustParseAddr("2001:db8::10")
	b, err := naMessage(testMAC, ip)
	if err != nil {
		t.Fatal(err)
	}
	m, err := icmp.ParseMessage(58, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != ipv6.ICMPTypeNeighborAdvertisement {
		t.Fatalf("type %v", m.Type)
	}
	body := m.Body.(*icmp.RawBody).Data
	// flags (override only), target, option 2 (TLLA) of one 8-octet unit.
	want := append([]byte{0x20, 0, 0, 0}, ip.AsSlice()...)
	want = append(want, 2, 1)
	want = append(want, testMAC...)
	if !bytes.Equal(body, want) {
		t.Errorf("body\n% x\nwant\n% x", body, want)
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		"eth0":            "eth0:tandem",
		"enp0s31f6":       "enp0s31f6:td",
		"abcdefghijklm":   "abcdefghijklm:t",
		"abcdefghijklmno": "abcdefghijklmno",
	} {
		if got := Label(in); got != want || len(got) > 15 {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}
