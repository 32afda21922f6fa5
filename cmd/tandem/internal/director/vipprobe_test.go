//go:build linux

package director

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"

	"github.com/tandem-lb/tandem/conf"
)

// TestProbeFrames: an ARP reply or announcement for a probed address,
// and an NA for one, name its owner; our own frames and other addresses
// do not; VRRP adverts (IPv4 and IPv6) mark their VRID advertised; a
// conflict is an answered address whose VRID is not advertised, named
// with its instance, place, MAC and interface; the DAD probe carries a
// valid ICMPv6 checksum.
func TestProbeFrames(t *testing.T) {
	c := parseHealthConf(t, `
node "d" {}
vrrp "v4" {
  vrid      = 51
  interface = "eth0"
  addresses = ["192.0.2.10/24"]
}
vrrp "v6" {
  vrid      = 61
  interface = "eth0"
  addresses = ["2001:db8::10/64"]
}
`)
	plan := probePlan(c)
	if len(plan) != 1 || len(plan[0].targets) != 2 || plan[0].listen != 9*time.Second+probeWait {
		t.Fatalf("plan %+v", plan[0])
	}
	ip := plan[0]
	self := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	other := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	eth := func(src net.HardwareAddr, typ ethernet.EtherType, p []byte) []byte {
		b, err := (&ethernet.Frame{Destination: ethernet.Broadcast, Source: src, EtherType: typ, Payload: p}).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	arpFrame := func(src net.HardwareAddr, op arp.Operation, sip, tip string) []byte {
		p, err := arp.NewPacket(op, src, netip.MustParseAddr(sip), self, netip.MustParseAddr(tip))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := p.MarshalBinary()
		return eth(src, ethernet.EtherTypeARP, b)
	}
	na := func(src net.HardwareAddr, target string) []byte {
		p := make([]byte, 40+24)
		p[0], p[6], p[7] = 0x60, protoICMPv6, 255
		p[40] = icmpNA
		a := netip.MustParseAddr(target).As16()
		copy(p[48:], a[:])
		return eth(src, ethernet.EtherTypeIPv6, p)
	}
	vrrp4 := func(vrid byte) []byte {
		p := make([]byte, 20+8)
		p[0], p[9] = 0x45, protoVRRP
		p[21] = vrid
		return eth(other, ethernet.EtherTypeIPv4, p)
	}
	vrrp6 := func(vrid byte) []byte {
		p := make([]byte, 40+8)
		p[0], p[6] = 0x60, protoVRRP
		p[41] = vrid
		return eth(other, ethernet.EtherTypeIPv6, p)
	}
	newR := func() probeResult {
		return probeResult{owner: map[netip.Addr]net.HardwareAddr{}, advertised: map[vridKey]bool{}}
	}

	r := newR()
	for _, f := range [][]byte{
		arpFrame(self, arp.OperationReply, "192.0.2.10", "0.0.0.0"),  // our own
		arpFrame(other, arp.OperationReply, "192.0.2.99", "0.0.0.0"), // another address
		arpFrame(other, arp.OperationRequest, "192.0.2.1", "192.0.2.10"),
		na(self, "2001:db8::10"),
		{1, 2, 3}, // runt
	} {
		readFrame(f, self, ip, &r)
	}
	if len(r.owner) != 0 || ip.conflict(r) != nil {
		t.Fatalf("owners %v", r.owner)
	}
	readFrame(arpFrame(other, arp.OperationReply, "192.0.2.10", "0.0.0.0"), self, ip, &r)
	err := ip.conflict(r)
	if err == nil || !strings.Contains(err.Error(), `address 192.0.2.10 (vrrp "v4", t.hcl:6:15) is in use by another host: 02:00:00:00:00:02 answered an ARP probe on eth0, and no VRRP router advertises vrid 51 there`) {
		t.Errorf("ARP conflict: %v", err)
	}
	if !pending(ip, r) {
		t.Error("not waiting for adverts")
	}
	readFrame(vrrp6(51), self, ip, &r) // the IPv6 VRID 51: another router
	if ip.conflict(r) == nil {
		t.Error("an IPv6 advert cleared an IPv4 conflict")
	}
	readFrame(vrrp4(51), self, ip, &r)
	if err := ip.conflict(r); err != nil || pending(ip, r) {
		t.Errorf("advertised: %v", err)
	}

	r = newR()
	readFrame(arpFrame(other, arp.OperationRequest, "192.0.2.10", "192.0.2.10"), self, ip, &r) // a GARP
	readFrame(vrrp4(51), self, ip, &r)
	readFrame(na(other, "2001:db8::10"), self, ip, &r)
	if err := ip.conflict(r); err == nil || !strings.Contains(err.Error(), `address 2001:db8::10 (vrrp "v6", t.hcl:11:15) is in use by another host: 02:00:00:00:00:02 answered duplicate address detection`) {
		t.Errorf("NA conflict: %v", err)
	}
	readFrame(vrrp6(61), self, ip, &r)
	if err := ip.conflict(r); err != nil {
		t.Errorf("v6 advertised: %v", err)
	}

	// The DAD probe: to the solicited-node group, from ::, a valid sum.
	f, dst := dadProbe(self, netip.MustParseAddr("2001:db8::1:2:3"))
	if dst.String() != "33:33:ff:02:00:03" || len(f) != 14+40+24 {
		t.Fatalf("dad %v %d", dst, len(f))
	}
	ip6, icmp := f[14:54], f[54:]
	if g := netip.AddrFrom16([16]byte(ip6[24:40])); g.String() != "ff02::1:ff02:3" {
		t.Errorf("group %v", g)
	}
	var sum uint32
	for i := 24; i < 40; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip6[i:]))
	}
	sum += uint32(len(icmp)) + protoICMPv6
	for i := 0; i < len(icmp); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(icmp[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	if sum != 0xffff {
		t.Errorf("checksum: %#x", sum)
	}
	if f, _ := arpProbe(self, netip.MustParseAddr("192.0.2.10")); len(f) < 42 {
		t.Error("no ARP probe")
	}
}

// FuzzReadFrame: no frame read during a probe makes it panic.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x00, 0x4f, 0, 0, 0, 0, 0, 0, 0, 0, 112})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 1})
	c := &conf.Cluster{VRRP: []conf.VRRPInstance{{Name: "v", VRID: 1, Interface: "eth0",
		Addresses: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("2001:db8::10/64")}}}}
	ip := probePlan(c)[0]
	f.Fuzz(func(t *testing.T, b []byte) {
		r := probeResult{owner: map[netip.Addr]net.HardwareAddr{}, advertised: map[vridKey]bool{}}
		readFrame(b, net.HardwareAddr{2, 0, 0, 0, 0, 1}, ip, &r)
		ip.conflict(r)
	})
}
