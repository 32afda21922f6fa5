package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
)

// nlConn is the datagram transport of a [genlClient]: a generic netlink
// socket (conn_linux.go), or a fake kernel in tests.
type nlConn interface {
	// Send sends b, which may hold many netlink messages, in one datagram.
	Send(b []byte) error
	// Recv reads one datagram into b and returns its length. A datagram
	// longer than b is an error.
	Recv(b []byte) (int, error)
	Close() error
}

// multiRecver is an nlConn that reads several datagrams in one call
// (recvmmsg).
type multiRecver interface {
	// RecvMulti waits for one datagram, then reads those already queued,
	// up to len(bufs), one into each buffer; it stores their lengths in
	// lens and returns how many it read. A datagram longer than its
	// buffer is an error.
	RecvMulti(bufs [][]byte, lens []int) (int, error)
}

// recvBufSize is the size of a receive buffer: a page, at least 4 KiB and
// at most 8 KiB.
//
// The kernel allocates every datagram of a dump, the NLMSG_DONE one too,
// at the size of the largest read the socket has seen (netlink_dump, at
// most 32 KiB) or NLMSG_GOODSIZE (a page less the skb overhead, at most
// 8 KiB), whichever is larger, and never fills one beyond that size.
// Small reads make small allocations: in the lab VM, 4 KiB reads instead
// of 64 KiB make a full table read twice as fast. A buffer of a page (8
// KiB on larger pages) still holds the largest datagram the kernel sends.
// Replies to requests (acks, the family lookup) are far smaller.
var recvBufSize = min(max(os.Getpagesize(), 4<<10), 8<<10)

// recvBufs is how many datagrams a socket takes per read (recvmmsg), where
// the transport can: a short dump's data and its NLMSG_DONE, or a few acks.
const recvBufs = 4

// genlClient talks IPVS generic netlink over one nlConn. It is not safe for
// concurrent use.
type genlClient struct {
	conn   nlConn
	family uint16 // the IPVS family id
	seq    uint32 // the last sequence number used
	batch  int    // requests per datagram
	rbufs  [][]byte
	rlens  []int
	wbuf   []byte
}

func newGenlClient(conn nlConn, family uint16, batch int) *genlClient {
	if batch <= 0 {
		batch = defaultBatch
	}
	return newClient(conn, family, batch, recvBufSize, recvBufs)
}

func newClient(conn nlConn, family uint16, batch, bufSize, nbufs int) *genlClient {
	c := &genlClient{conn: conn, family: family, batch: batch, rlens: make([]int, nbufs)}
	for range nbufs {
		c.rbufs = append(c.rbufs, make([]byte, bufSize))
	}
	return c
}

func (c *genlClient) nextSeq() uint32 {
	c.seq++
	return c.seq
}

// apply writes ops in order, pipelined: up to c.batch requests go in one
// datagram, each asking for an ack, and the acks are matched to the requests
// by sequence number. The kernel handles the requests of a datagram in
// order and goes on after a failed one (netlink_rcv_skb), so apply sends no
// further datagram after a failure but reports every op of the failed
// datagram that the kernel did apply.
//
// It returns the ops the kernel applied, in order, and for a failed write
// an [*OpError] naming the first op that failed.
func (c *genlClient) apply(ops []Op) ([]Op, error) {
	var done []Op
	for len(ops) > 0 {
		n := min(len(ops), c.batch)
		batch := ops[:n]
		ops = ops[n:]
		applied, err := c.applyBatch(batch)
		done = append(done, applied...)
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

type ackState uint8

const (
	ackPending ackState = iota
	ackOK
	ackFailed
)

func (c *genlClient) applyBatch(ops []Op) ([]Op, error) {
	b := c.wbuf[:0]
	first := c.seq + 1
	for _, op := range ops {
		var err error
		if b, err = appendOp(b, c.family, c.nextSeq(), op); err != nil {
			c.wbuf = b
			return nil, newOpError(op, err)
		}
	}
	c.wbuf = b
	// The sequence numbers of this batch are first, first+1, ... modulo
	// 2^32.
	index := func(seq uint32) int {
		if d := seq - first; d < uint32(len(ops)) {
			return int(d)
		}
		return -1
	}
	state := make([]ackState, len(ops))
	errs := make([]error, len(ops))
	applied := func() []Op {
		var out []Op
		for i, s := range state {
			if s == ackOK {
				out = append(out, ops[i])
			}
		}
		return out
	}
	if err := c.conn.Send(b); err != nil {
		return nil, &OpError{Op: fmt.Sprintf("send %d requests", len(ops)), Err: err}
	}
	pending := len(ops)
	err := c.receive(func(m nlMsg) (bool, error) {
		i := index(m.seq)
		if m.typ != nlmsgError || i < 0 || state[i] != ackPending {
			return false, nil // a stale reply to an earlier, abandoned request
		}
		pending--
		if err := ackError(m); err != nil {
			state[i], errs[i] = ackFailed, err
		} else {
			state[i] = ackOK
		}
		return pending == 0, nil
	})
	if err != nil {
		return applied(), &OpError{Op: fmt.Sprintf("receive acks (%d of %d requests unanswered)", pending, len(ops)), Err: err}
	}
	if f := slices.Index(state, ackFailed); f >= 0 {
		return applied(), newOpError(ops[f], errs[f])
	}
	return ops, nil
}

// errDumpInterrupted is the error of a dump the kernel reports as
// inconsistent (NLM_F_DUMP_INTR).
var errDumpInterrupted = errors.New("dump interrupted by a concurrent change")

// receive reads datagrams and hands each of their messages, in order, to
// each, until each says it is done or fails, or a read fails.
func (c *genlClient) receive(each func(m nlMsg) (done bool, err error)) error {
	mr, multi := c.conn.(multiRecver)
	multi = multi && len(c.rbufs) > 1
	for {
		n := 1
		var err error
		if multi {
			n, err = mr.RecvMulti(c.rbufs, c.rlens)
		} else {
			c.rlens[0], err = c.conn.Recv(c.rbufs[0])
		}
		if err != nil {
			return err
		}
		for i := range n {
			b := c.rbufs[i][:c.rlens[i]]
			for len(b) >= nlmsgHdrLen {
				var m nlMsg
				if m, b, err = nextMessage(b); err != nil {
					return err
				}
				if done, err := each(m); done || err != nil {
					return err
				}
			}
		}
	}
}

// exchange sends the request b, whose sequence number is seq, and hands
// every reply message with that sequence number to each until each says
// it is done or fails. Replies to other requests (stale acks) are skipped.
func (c *genlClient) exchange(b []byte, seq uint32, each func(m nlMsg) (done bool, err error)) error {
	c.wbuf = b
	if err := c.conn.Send(b); err != nil {
		return err
	}
	return c.receive(func(m nlMsg) (bool, error) {
		if m.seq != seq {
			return false, nil
		}
		return each(m)
	})
}

// nlmFDumpIntr marks the messages of a dump the kernel found inconsistent.
const nlmFDumpIntr = 0x10

// dump sends one dump request, built by req with the given sequence
// number, and calls each for the data of every reply message. When each
// fails, dump still reads the dump to its end, so that the socket is idle
// again (the kernel runs one dump per socket at a time), and returns that
// first error.
func (c *genlClient) dump(req func(b []byte, seq uint32) []byte, each func(data []byte) error) error {
	seq := c.nextSeq()
	var first error
	err := c.exchange(req(c.wbuf[:0], seq), seq, func(m nlMsg) (bool, error) {
		switch m.typ {
		case nlmsgDone, nlmsgError:
			return true, ackError(m)
		}
		switch {
		case first != nil:
		case m.flags&nlmFDumpIntr != 0:
			first = errDumpInterrupted
		default:
			first = each(m.data)
		}
		return false, nil
	})
	if first != nil {
		return first
	}
	return err
}

// services dumps the services, without their destinations.
func (c *genlClient) services() ([]Service, error) {
	var out []Service
	err := c.serviceStatus(false, func(s Service, _ Stats) { out = append(out, s) })
	return out, err
}

// serviceStatus dumps the services, calling each for every one with its
// statistics if stats is set (zero otherwise).
func (c *genlClient) serviceStatus(stats bool, each func(Service, Stats)) error {
	return c.dump(func(b []byte, seq uint32) []byte {
		b, start := appendMsgHeader(b, c.family, nlmFRequest|nlmFDump, seq, ipvsCmdGetService, ipvsGenlVersion)
		b, nest := beginNest(b, ipvsCmdAttrService)
		b = endNest(b, nest)
		return finishMsg(b, start)
	}, func(data []byte) error {
		s, st, err := parseServiceStats(data, stats)
		if err != nil {
			return err
		}
		each(s, st)
		return nil
	})
}

// destDump dumps the destinations of service s, calling each for the
// data of every message.
func (c *genlClient) destDump(s Service, each func(data []byte) error) error {
	return c.dump(func(b []byte, seq uint32) []byte {
		b, start := appendMsgHeader(b, c.family, nlmFRequest|nlmFDump, seq, ipvsCmdGetDest, ipvsGenlVersion)
		b = appendService(b, s, false)
		return finishMsg(b, start)
	}, each)
}

// conns dumps the connection counters of the destinations of the service
// keyed k.
func (c *genlClient) conns(k ServiceKey) (map[netip.AddrPort]Conns, error) {
	k = k.canonical()
	out := map[netip.AddrPort]Conns{}
	err := c.destDump(Service{Key: k}, func(data []byte) error {
		d, n, err := parseDestConns(data, k.Family)
		if err == nil {
			out[netip.AddrPortFrom(d.Addr.Unmap(), d.Port)] = n
		}
		return err
	})
	if err != nil {
		return nil, &OpError{Op: "list destinations of", Service: k, Err: err}
	}
	return out, nil
}

// resolveFamily asks the generic netlink controller for the id of the IPVS
// family. It returns syscall.ENOENT if the kernel has no IPVS.
func (c *genlClient) resolveFamily() error {
	seq := c.nextSeq()
	b, start := appendMsgHeader(c.wbuf[:0], genlIDCtrl, nlmFRequest, seq, ctrlCmdGetFamily, ctrlGenlVersion)
	b = appendString(b, ctrlAttrFamilyName, ipvsGenlName)
	return c.exchange(finishMsg(b, start), seq, func(m nlMsg) (bool, error) {
		if m.typ == nlmsgError {
			err := ackError(m)
			return err != nil, err
		}
		if m.typ != genlIDCtrl || len(m.data) < genlHdrLen {
			return false, nil
		}
		var attrs attrSet
		if err := parseAttrs(m.data[genlHdrLen:], &attrs); err != nil {
			return true, err
		}
		id := attrU16(&attrs, ctrlAttrFamilyID)
		if id == 0 {
			return true, errors.New("no family id in the controller's reply")
		}
		c.family = id
		return true, nil
	})
}
