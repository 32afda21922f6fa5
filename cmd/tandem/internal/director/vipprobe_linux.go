package director

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"

	"github.com/tandem-lb/tandem/conf"
)

// Ethernet types and IP protocols the probe reads.
const (
	ethIPv4     = 0x0800
	ethARP      = 0x0806
	ethIPv6     = 0x86dd
	ethAll      = 0x0003 // ETH_P_ALL
	protoVRRP   = 112
	protoICMPv6 = 58
	icmpNA      = 136
)

// ProbeVIPs probes c's VRRP addresses on their interfaces (see
// vipprobe.go) and returns the first conflict. Probes that cannot be
// made (an interface down, no link layer) are skipped with a warning;
// what each probe saw is logged at debug.
func ProbeVIPs(ctx context.Context, c *conf.Cluster, log *slog.Logger) error {
	plan := probePlan(c)
	errs := make([]error, len(plan))
	var wg sync.WaitGroup
	for i, ip := range plan {
		wg.Go(func() {
			start := time.Now()
			r, err := probeIface(ctx, ip)
			if err != nil {
				log.Warn("address probe skipped", "interface", ip.ifname, "err", err)
				return
			}
			var answered, advertised []string
			for a, mac := range r.owner {
				answered = append(answered, a.String()+"="+mac.String())
			}
			for k := range r.advertised {
				advertised = append(advertised, strconv.Itoa(int(k.vrid)))
			}
			slices.Sort(answered)
			slices.Sort(advertised)
			log.Debug("address probe", "interface", ip.ifname, "addresses", len(ip.targets),
				"answered", strings.Join(answered, ","), "vrids_advertised", strings.Join(advertised, ","),
				"took", time.Since(start).Round(time.Millisecond))
			errs[i] = ip.conflict(r)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// probeIface sends the probes of ip and reads the link's answers and
// VRRP adverts: for probeWait, and while an address is answered and its
// VRID not advertised, until ip.listen.
func probeIface(ctx context.Context, ip *ifaceProbe) (probeResult, error) {
	r := probeResult{owner: map[netip.Addr]net.HardwareAddr{}, advertised: map[vridKey]bool{}}
	ifi, err := net.InterfaceByName(ip.ifname)
	if err != nil {
		return r, err
	}
	if len(ifi.HardwareAddr) != 6 || ifi.Flags&net.FlagUp == 0 {
		return r, errors.New("no Ethernet link up: not probed")
	}
	conn, err := packet.Listen(ifi, packet.Raw, ethAll, nil)
	if err != nil {
		return r, err
	}
	defer conn.Close()
	// The VRRP groups' frames, which a NIC may filter when nothing here
	// has joined them yet.
	conn.JoinGroup(net.HardwareAddr{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12})
	conn.JoinGroup(net.HardwareAddr{0x33, 0x33, 0x00, 0x00, 0x00, 0x12})
	send := func() {
		for _, t := range ip.targets {
			var f []byte
			var dst net.HardwareAddr
			if t.vip.Is4() {
				f, dst = arpProbe(ifi.HardwareAddr, t.vip)
			} else {
				f, dst = dadProbe(ifi.HardwareAddr, t.vip)
			}
			if f != nil {
				conn.WriteTo(f, &packet.Addr{HardwareAddr: dst})
			}
		}
	}
	start := time.Now()
	send()
	resent := false
	buf := make([]byte, 9000)
	for {
		now := time.Now()
		if !resent && now.Sub(start) >= probeWait/3 {
			send()
			resent = true
		}
		end := start.Add(probeWait)
		if pending(ip, r) {
			end = start.Add(ip.listen)
		}
		if !now.Before(end) || ctx.Err() != nil {
			return r, nil
		}
		next := end
		if !resent {
			next = start.Add(probeWait / 3)
		}
		conn.SetReadDeadline(next)
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return r, err
		}
		readFrame(buf[:n], ifi.HardwareAddr, ip, &r)
	}
}

// pending reports whether an answered address waits for an advert.
func pending(ip *ifaceProbe, r probeResult) bool {
	for _, t := range ip.targets {
		if _, ok := r.owner[t.vip]; ok && !r.advertised[vridKey{t.vip.Is6(), t.vrid}] {
			return true
		}
	}
	return false
}

// readFrame notes in r an answer for one of ip's addresses or a VRRP
// advert in the Ethernet frame f (frames from self are ignored).
func readFrame(f []byte, self net.HardwareAddr, ip *ifaceProbe, r *probeResult) {
	if len(f) < 14 || bytes.Equal(f[6:12], self) {
		return
	}
	src := net.HardwareAddr(bytes.Clone(f[6:12]))
	p := f[14:]
	switch binary.BigEndian.Uint16(f[12:14]) {
	case ethARP:
		var a arp.Packet
		if a.UnmarshalBinary(p) != nil {
			return
		}
		// A reply, or another host's announcement of the address.
		if a.Operation == arp.OperationReply || a.SenderIP == a.TargetIP {
			noteOwner(ip, r, a.SenderIP, src)
		}
	case ethIPv4:
		if len(p) < 20 || p[0]>>4 != 4 {
			return
		}
		ihl := int(p[0]&0x0f) * 4
		if p[9] == protoVRRP && len(p) >= ihl+2 && ihl >= 20 {
			r.advertised[vridKey{false, p[ihl+1]}] = true
		}
	case ethIPv6:
		if len(p) < 40 || p[0]>>4 != 6 {
			return
		}
		body := p[40:]
		switch p[6] {
		case protoVRRP:
			if len(body) >= 2 {
				r.advertised[vridKey{true, body[1]}] = true
			}
		case protoICMPv6:
			if len(body) >= 24 && body[0] == icmpNA {
				noteOwner(ip, r, netip.AddrFrom16([16]byte(body[8:24])), src)
			}
		}
	}
}

func noteOwner(ip *ifaceProbe, r *probeResult, a netip.Addr, mac net.HardwareAddr) {
	for _, t := range ip.targets {
		if t.vip == a {
			if _, ok := r.owner[a]; !ok {
				r.owner[a] = mac
			}
			return
		}
	}
}

// arpProbe is an RFC 5227 probe for vip: a broadcast request from hw with
// sender address 0.0.0.0.
func arpProbe(hw net.HardwareAddr, vip netip.Addr) ([]byte, net.HardwareAddr) {
	p, err := arp.NewPacket(arp.OperationRequest, hw, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), vip)
	if err != nil {
		return nil, nil
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return nil, nil
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: hw, EtherType: ethernet.EtherTypeARP, Payload: pb}
	b, err := f.MarshalBinary()
	if err != nil {
		return nil, nil
	}
	return b, ethernet.Broadcast
}

// dadProbe is an RFC 4862 duplicate address detection solicitation for
// vip: from ::, to vip's solicited-node group, hop limit 255.
func dadProbe(hw net.HardwareAddr, vip netip.Addr) ([]byte, net.HardwareAddr) {
	t := vip.As16()
	group := [16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: t[13], 14: t[14], 15: t[15]}
	dst := net.HardwareAddr{0x33, 0x33, 0xff, t[13], t[14], t[15]}
	// Reserved (4 bytes), then the target; the checksum over the
	// pseudo-header (source ::) is x/net/icmp's.
	ns := icmp.Message{Type: ipv6.ICMPTypeNeighborSolicitation, Body: &icmp.RawBody{Data: append(make([]byte, 4), t[:]...)}}
	msg, err := ns.Marshal(icmp.IPv6PseudoHeader(net.IPv6unspecified, group[:]))
	if err != nil {
		return nil, nil
	}
	f := make([]byte, 14+40+len(msg))
	copy(f[0:6], dst)
	copy(f[6:12], hw)
	binary.BigEndian.PutUint16(f[12:], ethIPv6)
	ip6 := f[14:54]
	ip6[0] = 0x60
	binary.BigEndian.PutUint16(ip6[4:], uint16(len(msg)))
	ip6[6] = protoICMPv6
	ip6[7] = 255
	copy(ip6[24:40], group[:])
	copy(f[54:], msg)
	return f, dst
}
