//go:build linux

package healthcheck

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Half-open tcp probes (Spec.HalfOpen), F5's tcp_half_open monitor: the
// poller sends a SYN from a raw socket and the probe is up on the SYN-ACK,
// down on a reset or when nothing answers by the deadline. The director's
// kernel resets the half-open connection itself, because no socket owns
// the probe's source port: one port per address family, reserved by a TCP
// socket bound to it that never listens or connects, so no other local
// socket can take it. The real server's kernel answers from its listening
// socket's SYN queue, so its application never accepts, logs or counts a
// connection (MySQL blocks a host after max_connect_errors aborted
// connects, which full-connect checks produce).
//
// What a probe costs is what makes 10 000 checks a second affordable: no
// socket, file descriptor or epoll registration per probe; the poller
// sends each wake-up's SYNs with one sendmmsg per 64 and reads the answers
// with one recvmmsg per 64; and on both machines the kernel spends a third
// of a connect probe's time (measured over veth: 11 µs against 33 µs). A
// SYN unanswered after 1 s is sent again, doubling, as the kernel's
// connect does. ICMP errors are not read: an unreachable host or port
// fails the probe at its deadline.
//
// Answers are matched to probes by the peer's address and port and the
// acknowledged sequence number (each probe's initial sequence number is
// random, unique among the probes in flight).

// halfOpenSocket is the raw socket of one address family.
type halfOpenSocket struct {
	family int
	fd     int    // raw IPPROTO_TCP socket, in the poller's epoll; reads filtered to port
	resv   int    // TCP socket bound to port, never listening
	port   uint16 // the probes' source port

	// route is a UDP socket connected to a target to learn the source
	// address the kernel would use (IPv4: the checksum covers it). The
	// sources learned stay valid while epoch does not change: routes
	// watches the routes, rules and addresses of the namespace, and the
	// loop moves epoch on any change (routes -1: sources are kept
	// synSourceTTL instead).
	routeMu sync.Mutex
	route   int
	routes  int
	epoch   atomic.Uint64

	// The loop's receive batch (recvmmsg).
	bufs  [synBatch][256]byte
	froms [synBatch]unix.RawSockaddrInet6
	iovs  [synBatch]unix.Iovec
	msgs  [synBatch]unix.Mmsghdr
}

// halfOpen is the state of one half-open probe.
type halfOpen struct {
	hs       *halfOpenSocket
	key      synKey
	final    time.Time          // the probe's deadline
	rto      time.Duration      // until the next retransmission
	pkt      [synHeaderLen]byte // the SYN
	oob      []byte             // its source address, as IP_PKTINFO / IPV6_PKTINFO (shared)
	answered bool               // the loop read an answer: err is the result
	err      error
	resent   bool // step retransmitted: the loop pushes the probe back on the heap
}

// synKey identifies the answer to one probe.
type synKey struct {
	addr [16]byte // the peer's, IPv4 mapped
	port uint16   // the peer's
	ack  uint32   // the probe's initial sequence number + 1
}

// synResult is one answer read from a raw socket.
type synResult struct {
	key synKey
	err error // nil: SYN-ACK
}

const (
	synInitialRTO = time.Second      // the kernel's TCP_TIMEOUT_INIT
	synSourceTTL  = 30 * time.Second // without routes
	synHeaderLen  = 24               // 20 and an MSS option
	synBatch      = 64               // SYNs per sendmmsg, answers per recvmmsg
	tcpFlagSYN    = 0x02
	tcpFlagRST    = 0x04
	tcpFlagACK    = 0x10
)

var errRefused = os.NewSyscallError("connect", unix.ECONNREFUSED)

// halfOpenSocket returns the raw socket for family, opened on first use.
// An error to open it is kept: it is the same the next time (no
// CAP_NET_RAW, say).
func (p *connectPoller) halfOpenSocket(family int) (*halfOpenSocket, error) {
	i := 0
	if family == unix.AF_INET6 {
		i = 1
	}
	p.halfMu.Lock()
	defer p.halfMu.Unlock()
	if p.halfDone {
		return nil, errPollerClosed
	}
	if p.half[i] == nil && p.halfErr[i] == nil {
		hs, err := newHalfOpenSocket(family)
		if err == nil {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(hs.fd)}
			if err = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, hs.fd, &ev); err != nil {
				err = os.NewSyscallError("epoll_ctl", err)
				hs.close()
			}
		}
		if err != nil {
			p.halfErr[i] = fmt.Errorf("half-open probes: %w", err)
		} else {
			p.half[i] = hs
		}
	}
	return p.half[i], p.halfErr[i]
}

func newHalfOpenSocket(family int) (hs *halfOpenSocket, err error) {
	hs = &halfOpenSocket{family: family, fd: -1, resv: -1, route: -1, routes: -1}
	defer func() {
		if err != nil {
			hs.close()
		}
	}()
	if hs.resv, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	var any unix.Sockaddr = &unix.SockaddrInet4{}
	if family == unix.AF_INET6 {
		_ = unix.SetsockoptInt(hs.resv, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		any = &unix.SockaddrInet6{}
	}
	if err = unix.Bind(hs.resv, any); err != nil {
		return nil, os.NewSyscallError("bind", err)
	}
	sa, err := unix.Getsockname(hs.resv)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		hs.port = uint16(sa.Port)
	case *unix.SockaddrInet6:
		hs.port = uint16(sa.Port)
	}
	if hs.fd, err = unix.Socket(family, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP); err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if family == unix.AF_INET6 {
		// The kernel fills in the checksum, over the source it picks.
		if err = unix.SetsockoptInt(hs.fd, unix.IPPROTO_IPV6, unix.IPV6_CHECKSUM, 16); err != nil {
			return nil, os.NewSyscallError("setsockopt IPV6_CHECKSUM", err)
		}
	} else {
		if hs.route, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return nil, os.NewSyscallError("socket", err)
		}
		hs.routes = watchRoutes()
	}
	// Room for a whole instant's probes, and for their answers, which
	// over a fast link arrive before the poller reads.
	if unix.SetsockoptInt(hs.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
		_ = unix.SetsockoptInt(hs.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	if unix.SetsockoptInt(hs.fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 4<<20) != nil {
		_ = unix.SetsockoptInt(hs.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
	}
	if err = attachSynFilter(hs.fd, family, hs.port); err != nil {
		return nil, err
	}
	for range 1024 { // what arrived before the filter
		if _, err := unix.Read(hs.fd, hs.bufs[0][:]); err != nil {
			break
		}
	}
	for i := range hs.msgs {
		hs.iovs[i].Base = &hs.bufs[i][0]
		hs.iovs[i].SetLen(len(hs.bufs[i]))
		hs.msgs[i].Hdr.Iov = &hs.iovs[i]
		hs.msgs[i].Hdr.SetIovlen(1)
	}
	return hs, nil
}

// watchRoutes opens a route netlink socket that receives the namespace's
// IPv4 address, route and rule changes, or returns -1.
func watchRoutes() int {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1
	}
	groups := uint32(1<<(unix.RTNLGRP_IPV4_IFADDR-1) | 1<<(unix.RTNLGRP_IPV4_ROUTE-1) | 1<<(unix.RTNLGRP_IPV4_RULE-1))
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return -1
	}
	return fd
}

func (hs *halfOpenSocket) close() {
	for _, fd := range []int{hs.fd, hs.resv, hs.route, hs.routes} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// attachSynFilter lets through only the packets to port that carry SYN or
// RST: the answers to probes, not the rest of the host's TCP traffic. An
// IPv4 raw socket sees packets from their IP header, an IPv6 one from the
// TCP header.
func attachSynFilter(fd, family int, port uint16) error {
	var prog []bpf.Instruction
	if family == unix.AF_INET {
		prog = []bpf.Instruction{
			bpf.LoadMemShift{Off: 0},          // X = IP header length
			bpf.LoadIndirect{Off: 2, Size: 2}, // destination port
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipFalse: 3},
			bpf.LoadIndirect{Off: 13, Size: 1}, // flags
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: tcpFlagSYN | tcpFlagRST, SkipFalse: 1},
			bpf.RetConstant{Val: 256},
			bpf.RetConstant{Val: 0},
		}
	} else {
		prog = []bpf.Instruction{
			bpf.LoadAbsolute{Off: 2, Size: 2},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(port), SkipFalse: 3},
			bpf.LoadAbsolute{Off: 13, Size: 1},
			bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: tcpFlagSYN | tcpFlagRST, SkipFalse: 1},
			bpf.RetConstant{Val: 256},
			bpf.RetConstant{Val: 0},
		}
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return err
	}
	f := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		f[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		return os.NewSyscallError("setsockopt SO_ATTACH_FILTER", err)
	}
	return nil
}

// source returns the IPv4 source address of t's probes, and the control
// message that sets it: its Spec's Source, or the one the kernel routes
// from, learned with a connected UDP socket and kept synSourceTTL (or
// until a probe fails).
func (t *rawTarget) source(hs *halfOpenSocket, now time.Time) ([4]byte, []byte, error) {
	h := t.half
	h.mu.Lock()
	defer h.mu.Unlock()
	epoch := hs.epoch.Load()
	if !h.at.IsZero() && (t.bind != nil || (hs.routes >= 0 && h.epoch == epoch) || (hs.routes < 0 && now.Sub(h.at) < synSourceTTL)) {
		return h.src4, h.oob4, nil
	}
	var bound *unix.SockaddrInet4
	if t.bind != nil {
		bound, _ = t.bind.src.(*unix.SockaddrInet4)
	}
	if bound != nil {
		h.src4 = bound.Addr
	} else {
		hs.routeMu.Lock()
		defer hs.routeMu.Unlock()
		dst := unix.SockaddrInet4{Addr: t.target.Addr().As4()}
		// Dissolve the last association first: a connected UDP socket
		// keeps the source address its first connect chose (the
		// kernel sets it only when unset), so a second connect would
		// report the old source after a route or address change.
		if err := disconnect(hs.route); err != nil {
			return [4]byte{}, nil, err
		}
		if err := unix.Connect(hs.route, &unix.SockaddrInet4{Port: 9, Addr: dst.Addr}); err != nil {
			return [4]byte{}, nil, os.NewSyscallError("connect", err)
		}
		sa, err := unix.Getsockname(hs.route)
		if err != nil {
			return [4]byte{}, nil, os.NewSyscallError("getsockname", err)
		}
		h.src4 = sa.(*unix.SockaddrInet4).Addr
	}
	h.at, h.epoch, h.watched = now, epoch, hs.routes >= 0
	h.oob4 = unix.PktInfo4(&unix.Inet4Pktinfo{Spec_dst: h.src4})
	return h.src4, h.oob4, nil
}

// forgetSource makes the next probe look the source address up again,
// after a failed probe, when no route watch keeps the source current
// (with one, a failure says nothing about the source, and under an
// overload that times probes out, looking it up again after each cost a
// tenth of the checker's CPU: three system calls a probe).
func (t *rawTarget) forgetSource() {
	h := t.half
	if h == nil {
		return
	}
	h.mu.Lock()
	if !h.watched {
		h.at = time.Time{}
	}
	h.mu.Unlock()
}

// startHalfOpen begins a half-open probe of t (see start).
func (p *connectPoller) startHalfOpen(t *rawTarget, deadline time.Time, done func(error)) probeHandle {
	if t.half == nil {
		done(errNoHalfOpen(t.target.String()))
		return probeHandle{}
	}
	hs, err := p.halfOpenSocket(t.family())
	if err != nil {
		done(t.opError(err))
		return probeHandle{}
	}
	now := time.Now()
	ph := p.get(halfKind)
	pr, h := ph.pr, ph.pr.half
	pr.t, pr.done = t, done
	*h = halfOpen{hs: hs, final: deadline, rto: synInitialRTO}
	var src4, dst4 [4]byte
	if t.family() == unix.AF_INET {
		if src4, h.oob, err = t.source(hs, now); err != nil {
			p.end(pr, t.opError(err))
			return probeHandle{}
		}
		dst4 = t.target.Addr().As4()
		h.key = synKey{addr: [16]byte{10: 0xff, 11: 0xff, 12: dst4[0], 13: dst4[1], 14: dst4[2], 15: dst4[3]}, port: t.target.Port()}
	} else {
		h.key = synKey{addr: t.target.Addr().As16(), port: t.target.Port()}
		if t.bind != nil {
			h.oob = t.bind.oob6
		}
	}
	pr.fd, pr.live, pr.deadline = -1, true, minTime(deadline, now.Add(h.rto))

	// The probe is in flight before its SYN leaves: the answer can be
	// read before sendmsg returns.
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.end(pr, t.opError(errPollerClosed))
		return probeHandle{}
	}
	for {
		isn := rand.Uint32()
		h.key.ack = isn + 1
		if _, dup := p.syns[h.key]; !dup {
			synPacket(h.pkt[:], hs.port, h.key.port, isn)
			break
		}
	}
	if t.family() == unix.AF_INET {
		binary.BigEndian.PutUint16(h.pkt[16:], tcpChecksum4(src4, dst4, h.pkt[:]))
	}
	p.syns[h.key] = pr
	p.pushDeadline(pr)
	// The loop sends the SYN, with the others of its wake-up in one
	// sendmmsg (see sendHalfOpen).
	p.unsent = append(p.unsent, ph)
	kick := p.wakeBy(now)
	p.mu.Unlock()
	if kick {
		p.kick()
	}
	return ph
}

// sendHalfOpen sends the SYNs of the probes started since the last call,
// a batch per system call. It runs on the loop, outside mu; the probes it
// sends are busy meanwhile (an abort is the loop's to deliver, after).
func (p *connectPoller) sendHalfOpen() {
	p.mu.Lock()
	q := p.sending[:0]
	for _, h := range p.unsent {
		if h.current() && !h.pr.busy {
			h.pr.busy = true
			q = append(q, h)
		}
	}
	clear(p.unsent)
	p.unsent, p.sending = p.unsent[:0], q
	p.mu.Unlock()
	for len(q) > 0 {
		// One family per batch: runs of probes of one socket.
		hs := q[0].pr.half.hs
		n := 1
		for n < len(q) && n < synBatch && q[n].pr.half.hs == hs {
			n++
		}
		for i, h := range q[:n] {
			h.pr.half.msghdr(&p.sendMsgs[i].Hdr, &p.sendIovs[i], h.pr.t)
		}
		// Raw, as in send.
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(hs.fd), uintptr(unsafe.Pointer(&p.sendMsgs[0])), uintptr(n), 0, 0, 0)
		sent := int(r)
		if e != 0 {
			// q[0] failed; the rest of the batch goes in the next.
			sent = 1
			if e != unix.EAGAIN && e != unix.ENOBUFS { // else lost, as on the wire
				q[0].pr.half.answered, q[0].pr.half.err = true, os.NewSyscallError("sendmsg", e)
			}
		}
		q = q[max(sent, 1):]
	}
	clear(p.sendMsgs[:])
	// The sent probes are no longer busy; those whose send failed, or
	// that were aborted meanwhile, end.
	ended := p.sendEnded[:0]
	p.mu.Lock()
	for _, h := range p.sending {
		pr := h.pr
		pr.busy = false
		var err error
		switch {
		case pr.half.answered: // only a failed send, here
			err = pr.t.opError(pr.half.err)
		case pr.aborted != nil:
			err = pr.ctxError(pr.aborted)
		default:
			continue
		}
		pr.live = false
		p.forget(pr)
		ended = append(ended, work{pr: pr, finished: true, err: err})
	}
	clear(p.sending)
	p.sending = p.sending[:0]
	p.mu.Unlock()
	p.deliver(ended)
	clear(ended)
	p.sendEnded = ended[:0]
}

// msghdr fills m (and iov, which it points to) to send h's SYN to t.
func (h *halfOpen) msghdr(m *unix.Msghdr, iov *unix.Iovec, t *rawTarget) {
	*iov = unix.Iovec{Base: &h.pkt[0]}
	iov.SetLen(len(h.pkt))
	*m = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&t.half.rsa)), Namelen: t.csaLen, Iov: iov}
	m.SetIovlen(1)
	if len(h.oob) > 0 {
		m.Control = &h.oob[0]
		m.SetControllen(len(h.oob))
	}
}

// send sends h's SYN to t again (a retransmission; first sends go in
// batches, see sendHalfOpen). A full send buffer loses the SYN as the
// network would: the probe retransmits, or times out.
//
// The system calls of half-open probes are raw (no entersyscall): they do
// not block (the socket is non-blocking), and over a local link one runs
// the whole exchange with the real server inline, long enough that the
// runtime would otherwise hand the goroutine's P to another thread and
// wake one to take it back, call after call.
func (hs *halfOpenSocket) send(h *halfOpen, t *rawTarget) error {
	var msg unix.Msghdr
	var iov unix.Iovec
	h.msghdr(&msg, &iov, t)
	_, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(hs.fd), uintptr(unsafe.Pointer(&msg)), 0)
	switch e {
	case 0, unix.EAGAIN, unix.ENOBUFS:
		return nil
	}
	return os.NewSyscallError("sendmsg", e)
}

// stepHalfOpen ends pr with its answer, or at its deadline, or sends its
// SYN again (then pr goes back on the heap, see loop).
func (p *connectPoller) stepHalfOpen(pr *pollProbe) (finished bool, err error) {
	h := pr.half
	if h.answered {
		if h.err != nil {
			return true, pr.t.opError(h.err)
		}
		return true, nil
	}
	now := time.Now()
	if !now.Before(h.final) {
		return true, pr.t.opError(errTimeout)
	}
	if err := h.hs.send(h, pr.t); err != nil {
		return true, pr.t.opError(err)
	}
	h.rto *= 2
	pr.deadline = minTime(h.final, now.Add(h.rto))
	h.resent = true
	return false, nil
}

// readHalfOpen reads the answers waiting on the half-open sockets into
// out, a batch per system call. It runs on the loop, outside mu.
func (p *connectPoller) readHalfOpen(out []synResult) []synResult {
	p.halfMu.Lock()
	socks := p.half
	p.halfMu.Unlock()
	for _, hs := range socks {
		if hs == nil {
			continue
		}
		if hs.routes >= 0 {
			// Any change (or an overflow: ENOBUFS) may move sources.
			changed := false
			for range 1 << 12 {
				if _, err := rawRead(hs.routes, hs.bufs[0][:]); err == unix.EAGAIN {
					break
				}
				changed = true
			}
			if changed {
				hs.epoch.Add(1)
			}
		}
		for range 1 << 12 { // bounded: the socket's buffer holds fewer
			for i := range hs.msgs {
				hs.msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&hs.froms[i]))
				hs.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			}
			r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(hs.fd), uintptr(unsafe.Pointer(&hs.msgs[0])), synBatch, unix.MSG_DONTWAIT, 0, 0)
			if e != 0 || r == 0 {
				break
			}
			for i := range int(r) {
				if res, ok := hs.parse(hs.bufs[i][:hs.msgs[i].Len], &hs.froms[i]); ok {
					out = append(out, res)
				}
			}
			if int(r) < synBatch {
				break
			}
		}
	}
	return out
}

// parse reads an answer to a probe from b (from an IPv4 socket: the IP
// packet; from an IPv6 one: the TCP segment, from from).
func (hs *halfOpenSocket) parse(b []byte, from *unix.RawSockaddrInet6) (synResult, bool) {
	var key synKey
	seg := b
	if hs.family == unix.AF_INET {
		if len(b) < 20 || b[0]>>4 != 4 {
			return synResult{}, false
		}
		ihl := int(b[0]&0xf) * 4
		if len(b) < ihl+20 {
			return synResult{}, false
		}
		key.addr = [16]byte{10: 0xff, 11: 0xff, 12: b[12], 13: b[13], 14: b[14], 15: b[15]}
		seg = b[ihl:]
	} else {
		if len(b) < 20 || from.Family != unix.AF_INET6 {
			return synResult{}, false
		}
		key.addr = from.Addr
	}
	if binary.BigEndian.Uint16(seg[2:]) != hs.port {
		return synResult{}, false
	}
	key.port = binary.BigEndian.Uint16(seg[0:])
	key.ack = binary.BigEndian.Uint32(seg[8:])
	switch flags := seg[13]; {
	case flags&(tcpFlagSYN|tcpFlagACK) == tcpFlagSYN|tcpFlagACK:
		return synResult{key: key}, true
	case flags&tcpFlagRST != 0:
		return synResult{key: key, err: errRefused}, true
	}
	return synResult{}, false
}

// synPacket writes a SYN with an MSS option into b (synHeaderLen bytes),
// its checksum zero.
func synPacket(b []byte, sport, dport uint16, isn uint32) {
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint32(b[4:], isn)
	binary.BigEndian.PutUint32(b[8:], 0)
	b[12] = synHeaderLen / 4 << 4
	b[13] = tcpFlagSYN
	binary.BigEndian.PutUint16(b[14:], 64240) // window
	binary.BigEndian.PutUint16(b[16:], 0)     // checksum
	binary.BigEndian.PutUint16(b[18:], 0)     // urgent pointer
	b[20], b[21] = 2, 4                       // MSS
	binary.BigEndian.PutUint16(b[22:], 1460)
}

// tcpChecksum4 is the checksum of the TCP segment seg (its checksum field
// zero) from src to dst.
func tcpChecksum4(src, dst [4]byte, seg []byte) uint16 {
	sum := uint32(src[0])<<8 | uint32(src[1])
	sum += uint32(src[2])<<8 | uint32(src[3])
	sum += uint32(dst[0])<<8 | uint32(dst[1])
	sum += uint32(dst[2])<<8 | uint32(dst[3])
	sum += unix.IPPROTO_TCP + uint32(len(seg))
	for i := 0; i+1 < len(seg); i += 2 {
		sum += uint32(seg[i])<<8 | uint32(seg[i+1])
	}
	if len(seg)%2 == 1 {
		sum += uint32(seg[len(seg)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// minTime returns the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
