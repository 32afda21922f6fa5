package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// This file speaks the kernel's IPVS generic netlink protocol
// (include/uapi/linux/ip_vs.h, net/netfilter/ipvs/ip_vs_ctl.c) over any
// datagram transport ([nlConn]): the encoder of requests, the decoder of
// dumps and acks, and the pipelined writer. It has no I/O of its own, so it
// is tested everywhere against a fake kernel; conn_linux.go supplies the
// socket.

// Netlink and generic netlink constants (include/uapi/linux/netlink.h,
// genetlink.h).
const (
	nlmsgHdrLen = 16
	genlHdrLen  = 4
	nlaHdrLen   = 4

	nlmsgError = 0x2
	nlmsgDone  = 0x3

	nlmFRequest = 0x1
	nlmFMulti   = 0x2
	nlmFAck     = 0x4
	nlmFDump    = 0x300
	nlmFCapped  = 0x100 // on an ack: the request is not echoed
	nlmFAckTLVs = 0x200 // on an ack: extended-ack attributes follow

	nlmsgerrAttrMsg = 1

	genlIDCtrl         = 0x10
	ctrlCmdGetFamily   = 3
	ctrlAttrFamilyID   = 1
	ctrlAttrFamilyName = 2
	nlaTypeMask        = 0x3fff
	ipvsGenlName       = "IPVS"
	ipvsGenlVersion    = 1
	ctrlGenlVersion    = 1
	defaultBatch       = 256
)

// IPVS commands and attributes (include/uapi/linux/ip_vs.h).
const (
	ipvsCmdNewService = 1
	ipvsCmdSetService = 2
	ipvsCmdDelService = 3
	ipvsCmdGetService = 4
	ipvsCmdNewDest    = 5
	ipvsCmdSetDest    = 6
	ipvsCmdDelDest    = 7
	ipvsCmdGetDest    = 8

	ipvsCmdAttrService = 1
	ipvsCmdAttrDest    = 2

	ipvsSvcAttrAF        = 1
	ipvsSvcAttrProtocol  = 2
	ipvsSvcAttrAddr      = 3
	ipvsSvcAttrPort      = 4
	ipvsSvcAttrFWMark    = 5
	ipvsSvcAttrSchedName = 6
	ipvsSvcAttrFlags     = 7
	ipvsSvcAttrTimeout   = 8
	ipvsSvcAttrNetmask   = 9
	ipvsSvcAttrStats     = 10
	ipvsSvcAttrPEName    = 11
	ipvsSvcAttrStats64   = 12 // Linux 4.1

	ipvsDestAttrAddr      = 1
	ipvsDestAttrPort      = 2
	ipvsDestAttrFwdMethod = 3
	ipvsDestAttrWeight    = 4
	ipvsDestAttrUThresh   = 5
	ipvsDestAttrLThresh   = 6
	ipvsDestAttrActive    = 7
	ipvsDestAttrInactive  = 8
	ipvsDestAttrPersist   = 9
	ipvsDestAttrStats     = 10
	ipvsDestAttrAddrFam   = 11
	ipvsDestAttrStats64   = 12 // Linux 4.1

	// The counters of a statistics nest, IPVS_STATS_ATTR_*. In the 64-bit
	// nest every one is a u64; in the old one the two byte counters are,
	// the others u32.
	ipvsStatsAttrConns    = 1
	ipvsStatsAttrInPkts   = 2
	ipvsStatsAttrOutPkts  = 3
	ipvsStatsAttrInBytes  = 4
	ipvsStatsAttrOutBytes = 5
	ipvsStatsAttrCPS      = 6
	ipvsStatsAttrInPPS    = 7
	ipvsStatsAttrOutPPS   = 8
	ipvsStatsAttrInBPS    = 9
	ipvsStatsAttrOutBPS   = 10
)

var native = binary.NativeEndian

func nlaAlign(n int) int { return (n + 3) &^ 3 }

// appendAttr appends one netlink attribute with its padding.
func appendAttr(b []byte, typ uint16, val []byte) []byte {
	b = native.AppendUint16(b, uint16(nlaHdrLen+len(val)))
	b = native.AppendUint16(b, typ)
	b = append(b, val...)
	for i := len(val); i < nlaAlign(len(val)); i++ {
		b = append(b, 0)
	}
	return b
}

func appendU16(b []byte, typ, v uint16) []byte {
	return appendAttr(b, typ, native.AppendUint16(nil, v))
}

func appendU32(b []byte, typ uint16, v uint32) []byte {
	return appendAttr(b, typ, native.AppendUint32(nil, v))
}

func appendBE16(b []byte, typ, v uint16) []byte {
	return appendAttr(b, typ, binary.BigEndian.AppendUint16(nil, v))
}

func appendString(b []byte, typ uint16, s string) []byte {
	return appendAttr(b, typ, append([]byte(s), 0))
}

// beginNest starts a nested attribute; endNest fills in its length.
func beginNest(b []byte, typ uint16) ([]byte, int) {
	start := len(b)
	b = native.AppendUint16(b, 0)
	b = native.AppendUint16(b, typ)
	return b, start
}

func endNest(b []byte, start int) []byte {
	native.PutUint16(b[start:], uint16(len(b)-start))
	return b
}

// appendMsgHeader appends a netlink and a generic netlink header whose
// length is fixed by finishMsg.
func appendMsgHeader(b []byte, family uint16, flags uint16, seq uint32, cmd, version uint8) ([]byte, int) {
	start := len(b)
	b = native.AppendUint32(b, 0) // length, set by finishMsg
	b = native.AppendUint16(b, family)
	b = native.AppendUint16(b, flags)
	b = native.AppendUint32(b, seq)
	b = native.AppendUint32(b, 0) // port id: the kernel fills it in
	b = append(b, cmd, version, 0, 0)
	return b, start
}

func finishMsg(b []byte, start int) []byte {
	native.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// serviceNetmask returns the IPVS_SVC_ATTR_NETMASK value for s, as the
// kernel reads it: the attribute is a __be32, which for IPv4 holds the mask
// in network byte order and for IPv6 the prefix length as a plain u32
// (ip_vs_ctl.c, ip_vs_add_service). The value is returned in native order,
// so that its bytes are the attribute's.
func serviceNetmask(fam Family, bits int) uint32 {
	if bits <= 0 {
		bits = hostBits(fam)
	}
	if fam == IPv6 {
		return uint32(bits)
	}
	return native.Uint32(net.CIDRMask(bits, 32))
}

// netmaskBits is the inverse of serviceNetmask. An IPv4 netmask that is no
// prefix, or is /0, reads as -1, which no valid wanted table has, so that a
// persistent service carrying it is corrected.
func netmaskBits(fam Family, v uint32) int {
	if fam == IPv6 {
		return int(v)
	}
	ones, bits := net.IPMask(native.AppendUint32(nil, v)).Size()
	if bits == 0 || ones == 0 {
		return -1
	}
	return ones
}

// appendService appends the nested IPVS_CMD_ATTR_SERVICE of s. With full
// false it holds only the key, as the kernel needs for destination ops and
// deletes (ip_vs_genl_parse_service with full_entry false); otherwise the
// scheduler, flags, timeout, netmask and persistence engine follow, in the
// order moby/ipvs's fillService writes them.
func appendService(b []byte, s Service, full bool) []byte {
	k := s.Key.canonical()
	b, nest := beginNest(b, ipvsCmdAttrService)
	b = appendU16(b, ipvsSvcAttrAF, uint16(k.Family))
	if k.IsFWMark() {
		b = appendU32(b, ipvsSvcAttrFWMark, k.FWMark)
	} else {
		b = appendU16(b, ipvsSvcAttrProtocol, uint16(k.Protocol))
		b = appendAttr(b, ipvsSvcAttrAddr, k.Addr.AsSlice())
		b = appendBE16(b, ipvsSvcAttrPort, k.Port)
	}
	if full {
		sched := s.Scheduler
		if sched == "" {
			sched = DefaultScheduler
		}
		b = appendString(b, ipvsSvcAttrSchedName, sched)
		if s.PEName != "" {
			b = appendString(b, ipvsSvcAttrPEName, s.PEName)
		}
		// struct ip_vs_flags { __u32 flags; __u32 mask; }
		flags := native.AppendUint32(nil, uint32(s.Flags&^FlagHashed))
		flags = native.AppendUint32(flags, 0xffffffff)
		b = appendAttr(b, ipvsSvcAttrFlags, flags)
		b = appendU32(b, ipvsSvcAttrTimeout, uint32(s.Timeout/time.Second))
		b = appendU32(b, ipvsSvcAttrNetmask, serviceNetmask(k.Family, s.Netmask))
	}
	return endNest(b, nest)
}

// appendDest appends the nested IPVS_CMD_ATTR_DEST of d: the attributes of
// moby/ipvs's fillDestination, then IPVS_DEST_ATTR_ADDR_FAMILY (Linux 3.18).
// A delete carries the address and port only.
func appendDest(b []byte, d Destination, full bool) []byte {
	a := d.Addr.Unmap()
	b, nest := beginNest(b, ipvsCmdAttrDest)
	b = appendAttr(b, ipvsDestAttrAddr, a.AsSlice())
	b = appendBE16(b, ipvsDestAttrPort, d.Port)
	if full {
		b = appendU32(b, ipvsDestAttrFwdMethod, uint32(d.Forward&ForwardMask))
		b = appendU32(b, ipvsDestAttrWeight, uint32(d.Weight))
		b = appendU32(b, ipvsDestAttrUThresh, d.UpperThreshold)
		b = appendU32(b, ipvsDestAttrLThresh, d.LowerThreshold)
		b = appendU16(b, ipvsDestAttrAddrFam, uint16(FamilyOf(a)))
	}
	return endNest(b, nest)
}

// opCommand returns the IPVS command of an op kind.
func opCommand(k OpKind) (uint8, error) {
	switch k {
	case AddService:
		return ipvsCmdNewService, nil
	case UpdateService:
		return ipvsCmdSetService, nil
	case DelService:
		return ipvsCmdDelService, nil
	case AddDest:
		return ipvsCmdNewDest, nil
	case UpdateDest:
		return ipvsCmdSetDest, nil
	case DelDest:
		return ipvsCmdDelDest, nil
	}
	return 0, fmt.Errorf("unknown op kind %d", k)
}

// appendOp appends the request of op, acknowledged, with sequence number
// seq, to b.
func appendOp(b []byte, family uint16, seq uint32, op Op) ([]byte, error) {
	cmd, err := opCommand(op.Kind)
	if err != nil {
		return b, err
	}
	b, start := appendMsgHeader(b, family, nlmFRequest|nlmFAck, seq, cmd, ipvsGenlVersion)
	switch op.Kind {
	case AddService, UpdateService:
		b = appendService(b, op.Service, true)
	case DelService:
		b = appendService(b, op.Service, false)
	default:
		// The kernel parses the service of a destination op without its
		// scheduler (full_entry false), so the key is enough.
		b = appendService(b, op.Service, false)
		b = appendDest(b, op.Dest, op.Kind != DelDest)
	}
	return finishMsg(b, start), nil
}

// nlMsg is one netlink message of a received datagram.
type nlMsg struct {
	typ, flags uint16
	seq        uint32
	data       []byte // after the netlink header
}

var errShortMessage = errors.New("short netlink message")

// nextMessage returns the first netlink message of b, which holds at
// least a header, and the rest of b after it.
func nextMessage(b []byte) (nlMsg, []byte, error) {
	l := int(native.Uint32(b))
	if l < nlmsgHdrLen || l > len(b) {
		return nlMsg{}, nil, errShortMessage
	}
	m := nlMsg{
		typ:   native.Uint16(b[4:]),
		flags: native.Uint16(b[6:]),
		seq:   native.Uint32(b[8:]),
		data:  b[nlmsgHdrLen:l],
	}
	return m, b[min(nlaAlign(l), len(b)):], nil
}

// splitMessages splits a datagram into its netlink messages.
func splitMessages(b []byte) ([]nlMsg, error) {
	var msgs []nlMsg
	for len(b) >= nlmsgHdrLen {
		m, rest, err := nextMessage(b)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
		b = rest
	}
	return msgs, nil
}

// ackError decodes the error of an NLMSG_ERROR (or NLMSG_DONE) message: nil
// for a positive ack, else the errno, with the kernel's extended-ack
// message if it sent one.
func ackError(m nlMsg) error {
	if len(m.data) < 4 {
		return errShortMessage
	}
	code := int32(native.Uint32(m.data))
	if code == 0 {
		return nil
	}
	err := error(syscall.Errno(-code))
	if m.typ != nlmsgError || m.flags&nlmFAckTLVs == 0 {
		return err
	}
	// struct nlmsgerr: the error, the request's header and, unless capped,
	// the request's payload; then the extended-ack attributes.
	rest := m.data[4:]
	if len(rest) < nlmsgHdrLen {
		return err
	}
	off := nlmsgHdrLen
	if m.flags&nlmFCapped == 0 {
		off = nlaAlign(int(native.Uint32(rest)))
	}
	if off > len(rest) {
		return err
	}
	var attrs attrSet
	if parseAttrs(rest[off:], &attrs) != nil {
		return err
	}
	if msg := attrs[nlmsgerrAttrMsg]; msg != nil {
		return &kernelError{errno: err, msg: cString(msg)}
	}
	return err
}

// kernelError is an errno with the kernel's extended-ack message.
type kernelError struct {
	errno error
	msg   string
}

func (e *kernelError) Error() string { return e.errno.Error() + " (" + e.msg + ")" }
func (e *kernelError) Unwrap() error { return e.errno }

// maxAttrType is the highest attribute type an [attrSet] holds. It covers
// every attribute type the uapi headers define for the messages parsed
// here: IPVS_CMD_ATTR_* (up to 6), IPVS_SVC_ATTR_* (12), IPVS_DEST_ATTR_*
// (15, IPVS_DEST_ATTR_TUN_FLAGS), IPVS_DAEMON_ATTR_* (8), CTRL_ATTR_* (10)
// and NLMSGERR_ATTR_* (6). The package reads none above 11.
const maxAttrType = 15

// attrSet holds the attributes of one nest (or of a message's top level),
// indexed by type: a[t] is the payload of the last attribute of type t, nil
// if there is none. A present attribute of zero length is a non-nil empty
// slice, so a[t] != nil tests presence. It is an array, not a map, so that
// parsing allocates nothing; the payloads alias the parsed buffer.
type attrSet [maxAttrType + 1][]byte

// get returns the payload of the attribute of type t, nil if there is none
// or t is above maxAttrType.
func (a *attrSet) get(t uint16) []byte {
	if int(t) < len(a) {
		return a[t]
	}
	return nil
}

// parseAttrs fills a with the attributes of b by type (the last of each
// type, with the flag bits of nla_type masked off). Attributes of a type
// above maxAttrType are skipped: a newer kernel's additions, which nothing
// here reads. On error the contents of a are unspecified.
func parseAttrs(b []byte, a *attrSet) error {
	*a = attrSet{}
	for len(b) >= nlaHdrLen {
		l := int(native.Uint16(b))
		if l < nlaHdrLen || l > len(b) {
			return errShortMessage
		}
		if t := int(native.Uint16(b[2:]) & nlaTypeMask); t < len(a) {
			a[t] = b[nlaHdrLen:l] // non-nil even when empty: the attribute is present
		}
		b = b[min(nlaAlign(l), len(b)):]
	}
	return nil
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// attrU16 and friends read a fixed-size attribute; a missing or short one
// reads as zero.
func attrU16(a *attrSet, t uint16) uint16 {
	if v := a.get(t); len(v) >= 2 {
		return native.Uint16(v)
	}
	return 0
}

func attrU32(a *attrSet, t uint16) uint32 {
	if v := a.get(t); len(v) >= 4 {
		return native.Uint32(v)
	}
	return 0
}

// attrUint reads a counter that is a u64 or a u32 (by its length); a
// missing or shorter one reads as zero.
func attrUint(a *attrSet, t uint16) uint64 {
	switch v := a.get(t); {
	case len(v) >= 8:
		return native.Uint64(v)
	case len(v) >= 4:
		return uint64(native.Uint32(v))
	}
	return 0
}

func attrBE16(a *attrSet, t uint16) uint16 {
	if v := a.get(t); len(v) >= 2 {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

// attrAddr reads an address attribute, which the kernel sends as a 16-byte
// union nf_inet_addr whatever the family.
func attrAddr(a *attrSet, t uint16, fam Family) (netip.Addr, error) {
	v := a.get(t)
	switch {
	case fam == IPv4 && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4])), nil
	case fam == IPv6 && len(v) >= 16:
		return netip.AddrFrom16([16]byte(v[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("bad %s address attribute % x", fam, v)
}

// parseStats decodes the statistics of a service or destination nest a:
// its 64-bit statistics (attribute t64) if present, else the older ones
// (t32), whose packet and connection counters wrap at 2^32. Neither
// present reads as zero; a malformed nest is an error.
func parseStats(a *attrSet, t64, t32 uint16) (Stats, error) {
	nest := a.get(t64)
	if nest == nil {
		nest = a.get(t32)
	}
	if nest == nil {
		return Stats{}, nil
	}
	var st attrSet
	if err := parseAttrs(nest, &st); err != nil {
		return Stats{}, fmt.Errorf("statistics: %w", err)
	}
	return Stats{
		Conns:    attrUint(&st, ipvsStatsAttrConns),
		InPkts:   attrUint(&st, ipvsStatsAttrInPkts),
		OutPkts:  attrUint(&st, ipvsStatsAttrOutPkts),
		InBytes:  attrUint(&st, ipvsStatsAttrInBytes),
		OutBytes: attrUint(&st, ipvsStatsAttrOutBytes),
		CPS:      attrUint(&st, ipvsStatsAttrCPS),
		InPPS:    attrUint(&st, ipvsStatsAttrInPPS),
		OutPPS:   attrUint(&st, ipvsStatsAttrOutPPS),
		InBPS:    attrUint(&st, ipvsStatsAttrInBPS),
		OutBPS:   attrUint(&st, ipvsStatsAttrOutBPS),
	}, nil
}

// parseService decodes one message of a service dump.
func parseService(data []byte) (Service, error) {
	s, _, err := parseServiceStats(data, false)
	return s, err
}

// parseServiceStats is parseService that also decodes the service's
// statistics if stats is set (zero otherwise).
func parseServiceStats(data []byte, stats bool) (Service, Stats, error) {
	if len(data) < genlHdrLen {
		return Service{}, Stats{}, errShortMessage
	}
	var top, a attrSet
	if err := parseAttrs(data[genlHdrLen:], &top); err != nil {
		return Service{}, Stats{}, err
	}
	if err := parseAttrs(top[ipvsCmdAttrService], &a); err != nil {
		return Service{}, Stats{}, err
	}
	fam := Family(attrU16(&a, ipvsSvcAttrAF))
	var key ServiceKey
	if mark := attrU32(&a, ipvsSvcAttrFWMark); mark != 0 {
		key = FWMarkService(fam, mark)
	} else {
		addr, err := attrAddr(&a, ipvsSvcAttrAddr, fam)
		if err != nil {
			return Service{}, Stats{}, fmt.Errorf("service: %w", err)
		}
		key = ServiceKey{Family: fam, Protocol: Protocol(attrU16(&a, ipvsSvcAttrProtocol)), Addr: addr, Port: attrBE16(&a, ipvsSvcAttrPort)}
	}
	var st Stats
	if stats {
		var err error
		if st, err = parseStats(&a, ipvsSvcAttrStats64, ipvsSvcAttrStats); err != nil {
			return Service{}, Stats{}, fmt.Errorf("service %s: %w", key, err)
		}
	}
	return Service{
		Key:       key,
		Scheduler: cString(a[ipvsSvcAttrSchedName]),
		Flags:     ServiceFlags(attrU32(&a, ipvsSvcAttrFlags)),
		Timeout:   time.Duration(attrU32(&a, ipvsSvcAttrTimeout)) * time.Second,
		Netmask:   netmaskBits(fam, attrU32(&a, ipvsSvcAttrNetmask)),
		PEName:    cString(a[ipvsSvcAttrPEName]),
	}, st, nil
}

// parseDest decodes one message of a destination dump of a service of
// family fam.
func parseDest(data []byte, fam Family) (Destination, error) {
	d, err := parseDestStatus(data, fam, false)
	return d.Destination, err
}

// parseDestConns is parseDest that also returns the destination's
// connection counters (zero when the message carries none, as in a write
// request).
func parseDestConns(data []byte, fam Family) (Destination, Conns, error) {
	d, err := parseDestStatus(data, fam, false)
	return d.Destination, d.Conns, err
}

// parseDestStatus decodes one message of a destination dump with the
// destination's connection counters and, if stats is set, its
// statistics.
func parseDestStatus(data []byte, fam Family, stats bool) (DestStatus, error) {
	if len(data) < genlHdrLen {
		return DestStatus{}, errShortMessage
	}
	var top, a attrSet
	if err := parseAttrs(data[genlHdrLen:], &top); err != nil {
		return DestStatus{}, err
	}
	if err := parseAttrs(top[ipvsCmdAttrDest], &a); err != nil {
		return DestStatus{}, err
	}
	if f := Family(attrU16(&a, ipvsDestAttrAddrFam)); f != 0 {
		fam = f
	}
	addr, err := attrAddr(&a, ipvsDestAttrAddr, fam)
	if err != nil {
		return DestStatus{}, fmt.Errorf("destination: %w", err)
	}
	d := DestStatus{
		Destination: Destination{
			Addr:           addr,
			Port:           attrBE16(&a, ipvsDestAttrPort),
			Forward:        Forward(attrU32(&a, ipvsDestAttrFwdMethod)) & ForwardMask,
			Weight:         int(int32(attrU32(&a, ipvsDestAttrWeight))),
			UpperThreshold: attrU32(&a, ipvsDestAttrUThresh),
			LowerThreshold: attrU32(&a, ipvsDestAttrLThresh),
		},
		Conns: Conns{
			Active:     attrU32(&a, ipvsDestAttrActive),
			Inactive:   attrU32(&a, ipvsDestAttrInactive),
			Persistent: attrU32(&a, ipvsDestAttrPersist),
		},
	}
	if stats {
		if d.Stats, err = parseStats(&a, ipvsDestAttrStats64, ipvsDestAttrStats); err != nil {
			return DestStatus{}, fmt.Errorf("destination %s: %w", d.AddrPort(), err)
		}
	}
	return d, nil
}
