package ipvs

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Attributes the kernel sends in dumps that the package does not read
// (include/uapi/linux/ip_vs.h): the tunnel attributes of Linux 5.3.
const (
	testDestAttrTunType = 13
	testDestAttrTunPort = 14
	testDestAttrTunFlag = 15
)

// statsNest names one statistics nest of a dump message: its attribute
// type, and whether it is the 64-bit one.
type statsNest struct {
	typ  uint16
	wide bool
}

// appendTestStats appends the statistics st as ip_vs_genl_fill_stats (wide
// false: u32 counters and rates, but u64 bytes) or ip_vs_genl_fill_stats64
// (every one u64) does: the ten IPVS_STATS_ATTR_* in order.
func appendTestStats(b []byte, n statsNest, st Stats) []byte {
	b, nest := beginNest(b, n.typ)
	for i, v := range []uint64{st.Conns, st.InPkts, st.OutPkts, st.InBytes, st.OutBytes, st.CPS, st.InPPS, st.OutPPS, st.InBPS, st.OutBPS} {
		t := uint16(i + 1)
		if n.wide || t == ipvsStatsAttrInBytes || t == ipvsStatsAttrOutBytes {
			b = appendAttr(b, t, native.AppendUint64(nil, v))
		} else {
			b = appendU32(b, t, uint32(v))
		}
	}
	return endNest(b, nest)
}

// testStats are counters with every value distinct, some beyond 32 bits.
func testStats(seed uint64) Stats {
	return Stats{
		Conns: seed<<32 | 1, InPkts: seed<<32 | 2, OutPkts: 3, InBytes: seed<<33 | 4, OutBytes: 5,
		CPS: 6, InPPS: 7, OutPPS: 8, InBPS: seed<<32 | 9, OutBPS: 10,
	}
}

// kernelServiceMsg is a service dump message (after the netlink header) as
// ip_vs_genl_fill_service writes it, with the statistics st in the nests
// given (by default both, the old one first, as the kernel writes them).
func kernelServiceMsg(s Service, st Stats, nests ...statsNest) []byte {
	if nests == nil {
		nests = []statsNest{{ipvsSvcAttrStats, false}, {ipvsSvcAttrStats64, true}}
	}
	k := s.Key
	b := []byte{ipvsCmdNewService, 1, 0, 0}
	b, nest := beginNest(b, ipvsCmdAttrService)
	b = appendU16(b, ipvsSvcAttrAF, uint16(k.Family))
	if k.IsFWMark() {
		b = appendU32(b, ipvsSvcAttrFWMark, k.FWMark)
	} else {
		b = appendU16(b, ipvsSvcAttrProtocol, uint16(k.Protocol))
		a := k.Addr.As16()
		if k.Family == IPv4 {
			a = [16]byte{}
			copy(a[:], k.Addr.AsSlice())
		}
		b = appendAttr(b, ipvsSvcAttrAddr, a[:]) // union nf_inet_addr
		b = appendBE16(b, ipvsSvcAttrPort, k.Port)
	}
	b = appendString(b, ipvsSvcAttrSchedName, s.Scheduler)
	flags := native.AppendUint32(nil, uint32(s.Flags))
	flags = native.AppendUint32(flags, 0xffffffff)
	b = appendAttr(b, ipvsSvcAttrFlags, flags)
	b = appendU32(b, ipvsSvcAttrTimeout, uint32(s.Timeout/time.Second))
	b = appendU32(b, ipvsSvcAttrNetmask, serviceNetmask(k.Family, s.Netmask))
	for _, n := range nests {
		b = appendTestStats(b, n, st)
	}
	return endNest(b, nest)
}

// kernelDestMsg is a destination dump message as ip_vs_genl_fill_dest
// writes it, with the statistics st in the nests given (by default both).
func kernelDestMsg(d Destination, n Conns, st Stats, nests ...statsNest) []byte {
	if nests == nil {
		nests = []statsNest{{ipvsDestAttrStats, false}, {ipvsDestAttrStats64, true}}
	}
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
	for _, n := range nests {
		b = appendTestStats(b, n, st)
	}
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

// TestParseDumpAllocs checks that decoding a destination, nests and
// statistics included, allocates nothing.
func TestParseDumpAllocs(t *testing.T) {
	m := kernelDestMsg(Destination{Addr: netip.MustParseAddr("2001:db8::1"), Port: 80, Weight: 1}, Conns{Active: 1}, testStats(1))
	if n := testing.AllocsPerRun(100, func() {
		if _, err := parseDestStatus(m, IPv6, true); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("parseDestStatus: %v allocations, want 0", n)
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
	smsg := kernelServiceMsg(svc, testStats(1))
	var dmsgs [][]byte
	var dests []Destination
	for i := range 10 {
		d := Destination{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 8443, Forward: Route, Weight: 100, UpperThreshold: 5000}
		dests = append(dests, d)
		dmsgs = append(dmsgs, kernelDestMsg(d, Conns{Active: uint32(i), Inactive: 7, Persistent: 1}, testStats(uint64(i))))
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

// TestParseStats decodes the statistics of services and destinations as
// the kernel writes them: the 64-bit nest when there is one, else the old
// one, whose connection and packet counters are 32 bits.
func TestParseStats(t *testing.T) {
	st := testStats(3)
	old := st // what the old nest carries: u64 bytes, the rest cut to u32
	for _, v := range []*uint64{&old.Conns, &old.InPkts, &old.OutPkts, &old.CPS, &old.InPPS, &old.OutPPS, &old.InBPS, &old.OutBPS} {
		*v = uint64(uint32(*v))
	}
	svc := Service{Key: web, Scheduler: "wrr", Flags: FlagHashed, Netmask: 32}
	d := Destination{Addr: rs1, Port: 8080, Forward: Masq, Weight: 3}
	n := Conns{Active: 4, Inactive: 5, Persistent: 6}
	for _, tc := range []struct {
		name      string
		svc, dest []statsNest
		want      Stats
	}{
		{name: "both nests: the 64-bit one", want: st},
		{name: "64-bit nest only", svc: []statsNest{{ipvsSvcAttrStats64, true}}, dest: []statsNest{{ipvsDestAttrStats64, true}}, want: st},
		{name: "64-bit nest first", svc: []statsNest{{ipvsSvcAttrStats64, true}, {ipvsSvcAttrStats, false}},
			dest: []statsNest{{ipvsDestAttrStats64, true}, {ipvsDestAttrStats, false}}, want: st},
		{name: "old nest only (before Linux 4.1)", svc: []statsNest{{ipvsSvcAttrStats, false}}, dest: []statsNest{{ipvsDestAttrStats, false}}, want: old},
		{name: "no statistics", svc: []statsNest{}, dest: []statsNest{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotSvc, gotSt, err := parseServiceStats(kernelServiceMsg(svc, st, tc.svc...), true)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(svc, gotSvc, cmpOpt); diff != "" {
				t.Errorf("service (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, gotSt); diff != "" {
				t.Errorf("service statistics (-want +got):\n%s", diff)
			}
			got, err := parseDestStatus(kernelDestMsg(d, n, st, tc.dest...), IPv4, true)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(DestStatus{Destination: d, Conns: n, Stats: tc.want}, got, cmpOpt); diff != "" {
				t.Errorf("destination (-want +got):\n%s", diff)
			}
			// Without stats, nothing of them is decoded.
			if _, s, _ := parseServiceStats(kernelServiceMsg(svc, st, tc.svc...), false); s != (Stats{}) {
				t.Errorf("service statistics decoded unasked: %+v", s)
			}
			if got, _ := parseDestStatus(kernelDestMsg(d, n, st, tc.dest...), IPv4, false); got.Stats != (Stats{}) || got.Conns != n {
				t.Errorf("destination without statistics: %+v", got)
			}
		})
	}
}

// TestParseStatsHostile feeds damaged statistics: a nest or a counter
// longer than what holds it is an error, never a panic; a counter of an odd
// size reads as zero, like every short fixed-size attribute.
func TestParseStatsHostile(t *testing.T) {
	d := Destination{Addr: rs1, Port: 8080, Weight: 1}
	// A counter claims 200 bytes inside a nest of a few.
	overlong := func(typ uint16) []byte {
		b, nest := beginNest(nil, typ)
		b = appendU32(b, ipvsStatsAttrConns, 1)
		b = append(b, 200, 0, ipvsStatsAttrInPkts, 0, 1, 2, 3, 4)
		return endNest(b, nest)
	}
	// A nest that claims more bytes than its parent holds.
	beyond := func(typ uint16) []byte {
		b := appendTestStats(nil, statsNest{typ, true}, testStats(1))
		native.PutUint16(b, uint16(len(b)+64))
		return b
	}
	withNest := func(msg, nest []byte) []byte {
		msg = append(msg, nest...)
		native.PutUint16(msg[genlHdrLen:], uint16(len(msg)-genlHdrLen)) // the outer nest grows with it
		return msg
	}
	svcMsg := func() []byte { return kernelServiceMsg(Service{Key: web, Scheduler: "rr"}, Stats{}, []statsNest{}...) }
	destMsg := func() []byte { return kernelDestMsg(d, Conns{}, Stats{}, []statsNest{}...) }
	for _, tc := range []struct {
		name string
		svc  []byte
		dest []byte
	}{
		{"counter overruns its nest", withNest(svcMsg(), overlong(ipvsSvcAttrStats64)), withNest(destMsg(), overlong(ipvsDestAttrStats64))},
		{"old nest overruns", withNest(svcMsg(), overlong(ipvsSvcAttrStats)), withNest(destMsg(), overlong(ipvsDestAttrStats))},
		{"nest overruns the service", withNest(svcMsg(), beyond(ipvsSvcAttrStats64)), withNest(destMsg(), beyond(ipvsDestAttrStats64))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := parseServiceStats(tc.svc, true); !errors.Is(err, errShortMessage) {
				t.Errorf("service: %v, want errShortMessage", err)
			}
			if _, err := parseDestStatus(tc.dest, IPv4, true); !errors.Is(err, errShortMessage) {
				t.Errorf("destination: %v, want errShortMessage", err)
			}
		})
	}

	// Counters of odd sizes read as zero; the others still read.
	b, nest := beginNest(nil, ipvsDestAttrStats64)
	b = appendU16(b, ipvsStatsAttrConns, 7)
	b = appendAttr(b, ipvsStatsAttrInPkts, nil)
	b = appendAttr(b, ipvsStatsAttrOutPkts, []byte{1, 2, 3, 4, 5, 6}) // read as its first 4 bytes
	b = appendAttr(b, ipvsStatsAttrInBytes, native.AppendUint64(nil, 1<<40))
	got, err := parseDestStatus(withNest(destMsg(), endNest(b, nest)), IPv4, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{OutPkts: uint64(native.Uint32([]byte{1, 2, 3, 4})), InBytes: 1 << 40}); got.Stats != want {
		t.Errorf("odd sizes: %+v, want %+v", got.Stats, want)
	}

	// Every truncation of a whole message is survived.
	for _, m := range [][]byte{kernelServiceMsg(Service{Key: dns6, Scheduler: "rr"}, testStats(1)), kernelDestMsg(d, Conns{Active: 1}, testStats(2))} {
		for i := range m {
			_, _, _ = parseServiceStats(m[:i], true)
			_, _ = parseDestStatus(m[:i], IPv6, true)
		}
	}
}

// FuzzParseDump checks that no dump message, however damaged, panics the
// decoders, and that a decoded destination's statistics do not depend on
// whether the connection counters were asked for.
func FuzzParseDump(f *testing.F) {
	f.Add(kernelServiceMsg(Service{Key: web, Scheduler: "wrr"}, testStats(1)))
	f.Add(kernelServiceMsg(Service{Key: FWMarkService(IPv6, 9), Scheduler: "sh"}, testStats(2), statsNest{ipvsSvcAttrStats, false}))
	f.Add(kernelDestMsg(Destination{Addr: rs6, Port: 53, Weight: 2}, Conns{Active: 1, Inactive: 2}, testStats(3)))
	f.Add(kernelDestMsg(Destination{Addr: rs1, Port: 80}, Conns{}, Stats{}, statsNest{ipvsDestAttrStats, false}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parseServiceStats(b, true)
		for _, fam := range []Family{IPv4, IPv6} {
			with, err := parseDestStatus(b, fam, true)
			without, err2 := parseDestStatus(b, fam, false)
			if err2 == nil && err == nil && with.Destination != without.Destination {
				t.Errorf("destination differs with statistics: %+v, %+v", with, without)
			}
			if err2 != nil && err == nil {
				t.Errorf("decodes with statistics but not without: %v", err2)
			}
		}
	})
}
