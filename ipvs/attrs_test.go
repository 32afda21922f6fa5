package ipvs

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// Attributes the kernel sends in dumps that the package does not read
// (include/uapi/linux/ip_vs.h): the statistics nests and the tunnel
// attributes of Linux 5.3.
const (
	testSvcAttrStats    = 10
	testSvcAttrStats64  = 12
	testDestAttrStats   = 10
	testDestAttrStats64 = 12
	testDestAttrTunType = 13
	testDestAttrTunPort = 14
	testDestAttrTunFlag = 15
)

// appendTestStats appends a statistics nest as ip_vs_genl_fill_stats (u32
// rates) or ip_vs_genl_fill_stats64 (u64 everything) does: the ten
// IPVS_STATS_ATTR_* counters.
func appendTestStats(b []byte, typ uint16, wide bool) []byte {
	b, nest := beginNest(b, typ)
	for t := uint16(1); t <= 10; t++ {
		v := uint64(t) * 1000003
		switch {
		case wide || t == 4 || t == 5: // INBYTES and OUTBYTES are always u64
			b = appendAttr(b, t, native.AppendUint64(nil, v))
		default:
			b = appendU32(b, t, uint32(v))
		}
	}
	return endNest(b, nest)
}

// kernelServiceMsg is a service dump message (after the netlink header) as
// ip_vs_genl_fill_service writes it.
func kernelServiceMsg(s Service) []byte {
	k := s.Key
	b := []byte{ipvsCmdNewService, 1, 0, 0}
	b, nest := beginNest(b, ipvsCmdAttrService)
	b = appendU16(b, ipvsSvcAttrAF, uint16(k.Family))
	b = appendU16(b, ipvsSvcAttrProtocol, uint16(k.Protocol))
	a := k.Addr.As16()
	if k.Family == IPv4 {
		a = [16]byte{}
		copy(a[:], k.Addr.AsSlice())
	}
	b = appendAttr(b, ipvsSvcAttrAddr, a[:]) // union nf_inet_addr
	b = appendBE16(b, ipvsSvcAttrPort, k.Port)
	b = appendString(b, ipvsSvcAttrSchedName, s.Scheduler)
	flags := native.AppendUint32(nil, uint32(s.Flags))
	flags = native.AppendUint32(flags, 0xffffffff)
	b = appendAttr(b, ipvsSvcAttrFlags, flags)
	b = appendU32(b, ipvsSvcAttrTimeout, uint32(s.Timeout/time.Second))
	b = appendU32(b, ipvsSvcAttrNetmask, serviceNetmask(k.Family, s.Netmask))
	b = appendTestStats(b, testSvcAttrStats, false)
	b = appendTestStats(b, testSvcAttrStats64, true)
	return endNest(b, nest)
}

// kernelDestMsg is a destination dump message as ip_vs_genl_fill_dest
// writes it.
func kernelDestMsg(d Destination, n Conns) []byte {
	b := []byte{ipvsCmdNewDest, 1, 0, 0}
	b, nest := beginNest(b, ipvsCmdAttrDest)
	var a [16]byte
	copy(a[:], d.Addr.AsSlice())
	b = appendAttr(b, ipvsDestAttrAddr, a[:])
	b = appendBE16(b, ipvsDestAttrPort, d.Port)
	b = appendU32(b, ipvsDestAttrFwdMethod, uint32(d.Forward))
	b = appendU32(b, ipvsDestAttrWeight, uint32(d.Weight))
	b = appendAttr(b, testDestAttrTunType, []byte{0})
	b = appendBE16(b, testDestAttrTunPort, 0)
	b = appendU16(b, testDestAttrTunFlag, 0)
	b = appendU32(b, ipvsDestAttrUThresh, d.UpperThreshold)
	b = appendU32(b, ipvsDestAttrLThresh, d.LowerThreshold)
	b = appendU32(b, ipvsDestAttrActive, n.Active)
	b = appendU32(b, ipvsDestAttrInactive, n.Inactive)
	b = appendU32(b, ipvsDestAttrPersist, n.Persistent)
	b = appendU16(b, ipvsDestAttrAddrFam, uint16(FamilyOf(d.Addr)))
	b = appendTestStats(b, testDestAttrStats, false)
	b = appendTestStats(b, testDestAttrStats64, true)
	return endNest(b, nest)
}

func TestParseAttrs(t *testing.T) {
	var b []byte
	b = appendU32(b, 3, 1)
	b = appendU16(b, 0x8000|5, 7)       // NLA_F_NESTED
	b = appendU16(b, 0x4000|6, 8)       // NLA_F_NET_BYTEORDER
	b = appendU32(b, maxAttrType+1, 9)  // above the set: skipped
	b = appendU32(b, 0x4000|0x3fff, 10) // the highest type: skipped
	b = appendAttr(b, 2, nil)           // present, empty
	b = appendU32(b, 3, 2)              // the last of a type wins
	b = appendAttr(b, maxAttrType, []byte{1, 2, 3})
	var a attrSet
	a[1] = []byte("stale") // parsing starts afresh
	if err := parseAttrs(b, &a); err != nil {
		t.Fatal(err)
	}
	if got := attrU32(&a, 3); got != 2 {
		t.Errorf("type 3 = %d, want 2 (the last)", got)
	}
	if got := attrU16(&a, 5); got != 7 {
		t.Errorf("type 5 = %d, want 7 (NLA_F_NESTED masked off)", got)
	}
	if got := attrU16(&a, 6); got != 8 {
		t.Errorf("type 6 = %d, want 8 (NLA_F_NET_BYTEORDER masked off)", got)
	}
	if v := a[2]; v == nil || len(v) != 0 {
		t.Errorf("empty attribute = %#v, want present and empty", v)
	}
	if v := a[maxAttrType]; string(v) != "\x01\x02\x03" {
		t.Errorf("type %d = % x, want 01 02 03 (unpadded at the end)", maxAttrType, v)
	}
	for _, typ := range []uint16{0, 1, 4, maxAttrType + 1, 0x3fff, 0xffff} {
		if v := a.get(typ); v != nil {
			t.Errorf("type %#x = % x, want absent", typ, v)
		}
		if attrU32(&a, typ) != 0 || attrU16(&a, typ) != 0 || attrBE16(&a, typ) != 0 {
			t.Errorf("type %#x does not read as zero", typ)
		}
	}

	// An empty attribute that ends the buffer, with no room after it, is
	// still present.
	e := appendAttr(nil, 4, nil)
	if err := parseAttrs(e[:len(e):len(e)], &a); err != nil || a[4] == nil || len(a[4]) != 0 {
		t.Errorf("lone empty attribute: %#v, %v", a[4], err)
	}
	// Fewer bytes than a header after the last attribute are ignored, as
	// is an empty buffer.
	for _, b := range [][]byte{nil, {1, 2, 3}, append(appendU16(nil, 1, 5), 0, 0)} {
		if err := parseAttrs(b, &a); err != nil {
			t.Errorf("parseAttrs(% x): %v", b, err)
		}
	}

	for _, b := range [][]byte{
		{2, 0, 1, 0},                               // shorter than its header
		{0, 0, 1, 0},                               // zero length
		{9, 0, 1, 0, 1, 2, 3, 4},                   // longer than the buffer
		append(appendU32(nil, 1, 1), 3, 0, 2, 0),   // a bad one after a good one
		append(appendU32(nil, 1, 1), 12, 0, 2, 0),  // an overlong one after a good one
		append(appendU32(nil, 20, 1), 12, 0, 2, 0), // ... after one above the set
	} {
		if err := parseAttrs(b, &a); !errors.Is(err, errShortMessage) {
			t.Errorf("parseAttrs(% x) = %v, want errShortMessage", b, err)
		}
	}
}

// TestParsePresence checks the callers that tell a missing attribute from
// an empty one.
func TestParsePresence(t *testing.T) {
	// An extended ack whose message is empty still carries one.
	ack := func(attrs []byte) nlMsg {
		code := -int32(syscall.EINVAL)
		p := native.AppendUint32(nil, uint32(code))
		p = append(p, make([]byte, nlmsgHdrLen)...) // the capped request
		return nlMsg{typ: nlmsgError, flags: nlmFCapped | nlmFAckTLVs, data: append(p, attrs...)}
	}
	var ke *kernelError
	if err := ackError(ack(appendAttr(nil, nlmsgerrAttrMsg, nil))); !errors.As(err, &ke) || ke.msg != "" || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("empty extended-ack message: %#v", err)
	}
	if err := ackError(ack(appendString(nil, nlmsgerrAttrMsg, "bad"))); !errors.As(err, &ke) || ke.msg != "bad" {
		t.Errorf("extended-ack message: %#v", err)
	}
	if err := ackError(ack(appendU32(nil, 2, 0))); errors.As(err, &ke) || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("no extended-ack message: %#v", err)
	}

	// A daemon message needs its nest, which may be empty.
	hdr := []byte{ipvsCmdNewDaemon, 1, 0, 0}
	if d, err := parseDaemon(appendAttr(hdr, ipvsCmdAttrDaemon, nil)); err != nil || d != (Daemon{}) {
		t.Errorf("empty daemon nest: %+v, %v", d, err)
	}
	if _, err := parseDaemon(appendU32(hdr, ipvsCmdAttrTimeoutTCP, 1)); err == nil {
		t.Error("daemon message without its nest accepted")
	}
}

// TestParseDumpAllocs checks that decoding a destination, nests included,
// allocates nothing.
func TestParseDumpAllocs(t *testing.T) {
	m := kernelDestMsg(Destination{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Weight: 1}, Conns{Active: 1})
	if n := testing.AllocsPerRun(100, func() {
		if _, _, err := parseDestConns(m, IPv6); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("parseDestConns: %v allocations, want 0", n)
	}
}

// BenchmarkParseDump parses what a table dump reads for one service with
// ten destinations: a service message and ten destination messages, as the
// kernel writes them (statistics and tunnel attributes included).
func BenchmarkParseDump(b *testing.B) {
	svc := Service{
		Key:       ServiceKey{Family: IPv4, Protocol: TCP, Addr: netip.MustParseAddr("192.0.2.10"), Port: 443},
		Scheduler: "wlc",
		Flags:     FlagHashed,
		Netmask:   32,
	}
	smsg := kernelServiceMsg(svc)
	var dmsgs [][]byte
	var dests []Destination
	for i := range 10 {
		d := Destination{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 8443, Forward: Route, Weight: 100, UpperThreshold: 5000}
		dests = append(dests, d)
		dmsgs = append(dmsgs, kernelDestMsg(d, Conns{Active: uint32(i), Inactive: 7, Persistent: 1}))
	}
	// The messages must parse to what they were made of.
	if got, err := parseService(smsg); err != nil || got.Key != svc.Key || got.Scheduler != svc.Scheduler || got.Netmask != 32 || got.Flags != FlagHashed {
		b.Fatalf("parseService = %+v, %v", got, err)
	}
	for i, m := range dmsgs {
		if got, n, err := parseDestConns(m, IPv4); err != nil || got != dests[i] || n.Active != uint32(i) || n.Inactive != 7 {
			b.Fatalf("parseDestConns = %+v, %+v, %v; want %+v", got, n, err, dests[i])
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseService(smsg); err != nil {
			b.Fatal(err)
		}
		for _, m := range dmsgs {
			if _, _, err := parseDestConns(m, IPv4); err != nil {
				b.Fatal(err)
			}
		}
	}
}
