package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
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

// genlClient talks IPVS generic netlink over one nlConn. It is not safe for
// concurrent use.
type genlClient struct {
	conn   nlConn
	family uint16 // the IPVS family id
	seq    uint32 // the last sequence number used
	batch  int    // requests per datagram
	rbuf   []byte
	wbuf   []byte
}

func newGenlClient(conn nlConn, family uint16, batch int) *genlClient {
	if batch <= 0 {
		batch = defaultBatch
	}
	return &genlClient{conn: conn, family: family, batch: batch, rbuf: make([]byte, maxAckPayload)}
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
	for pending > 0 {
		n, err := c.conn.Recv(c.rbuf)
		if err != nil {
			return applied(), &OpError{Op: fmt.Sprintf("receive acks (%d of %d requests unanswered)", pending, len(ops)), Err: err}
		}
		msgs, err := splitMessages(c.rbuf[:n])
		if err != nil {
			return applied(), &OpError{Op: "receive acks", Err: err}
		}
		for _, m := range msgs {
			i := index(m.seq)
			if m.typ != nlmsgError || i < 0 || state[i] != ackPending {
				continue // a stale reply to an earlier, abandoned request
			}
			pending--
			if err := ackError(m); err != nil {
				state[i], errs[i] = ackFailed, err
			} else {
				state[i] = ackOK
			}
		}
	}
	if f := slices.Index(state, ackFailed); f >= 0 {
		return applied(), newOpError(ops[f], errs[f])
	}
	return ops, nil
}

// errDumpInterrupted is the error of a dump the kernel reports as
// inconsistent (NLM_F_DUMP_INTR).
var errDumpInterrupted = errors.New("dump interrupted by a concurrent change")

// exchange sends the request b, whose sequence number is seq, and hands
// every reply message with that sequence number to each until each says
// it is done or fails. Replies to other requests (stale acks) are skipped.
func (c *genlClient) exchange(b []byte, seq uint32, each func(m nlMsg) (done bool, err error)) error {
	c.wbuf = b
	if err := c.conn.Send(b); err != nil {
		return err
	}
	for {
		n, err := c.conn.Recv(c.rbuf)
		if err != nil {
			return err
		}
		msgs, err := splitMessages(c.rbuf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.seq != seq {
				continue
			}
			if done, err := each(m); done || err != nil {
				return err
			}
		}
	}
}

// dump sends one dump request, built by req with the given sequence
// number, and calls each for the data of every reply message.
func (c *genlClient) dump(req func(b []byte, seq uint32) []byte, each func(data []byte) error) error {
	seq := c.nextSeq()
	return c.exchange(req(c.wbuf[:0], seq), seq, func(m nlMsg) (bool, error) {
		switch m.typ {
		case nlmsgDone, nlmsgError:
			return true, ackError(m)
		}
		if m.flags&0x10 != 0 { // NLM_F_DUMP_INTR
			return true, errDumpInterrupted
		}
		return false, each(m.data)
	})
}

// services dumps the services, without their destinations.
func (c *genlClient) services() ([]Service, error) {
	var out []Service
	err := c.dump(func(b []byte, seq uint32) []byte {
		b, start := appendMsgHeader(b, c.family, nlmFRequest|nlmFDump, seq, ipvsCmdGetService, ipvsGenlVersion)
		b, nest := beginNest(b, ipvsCmdAttrService)
		b = endNest(b, nest)
		return finishMsg(b, start)
	}, func(data []byte) error {
		s, err := parseService(data)
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// dests dumps the destinations of service s.
func (c *genlClient) dests(s Service) ([]Destination, error) {
	var out []Destination
	err := c.destsConns(s, func(d Destination, _ Conns) { out = append(out, d) })
	return out, err
}

// destsConns dumps the destinations of service s with their connection
// counters, calling each for every one.
func (c *genlClient) destsConns(s Service, each func(Destination, Conns)) error {
	fam := s.Key.canonical().Family
	return c.dump(func(b []byte, seq uint32) []byte {
		b, start := appendMsgHeader(b, c.family, nlmFRequest|nlmFDump, seq, ipvsCmdGetDest, ipvsGenlVersion)
		b = appendService(b, s, false)
		return finishMsg(b, start)
	}, func(data []byte) error {
		d, n, err := parseDestConns(data, fam)
		if err != nil {
			return err
		}
		each(d, n)
		return nil
	})
}

// conns dumps the connection counters of the destinations of the service
// keyed k.
func (c *genlClient) conns(k ServiceKey) (map[netip.AddrPort]Conns, error) {
	out := map[netip.AddrPort]Conns{}
	err := c.destsConns(Service{Key: k.canonical()}, func(d Destination, n Conns) {
		out[netip.AddrPortFrom(d.Addr.Unmap(), d.Port)] = n
	})
	if err != nil {
		return nil, &OpError{Op: "list destinations of", Service: k, Err: err}
	}
	return out, nil
}

// table dumps every service, then the destinations of each. A service
// deleted between the two reads shows with no destinations.
func (c *genlClient) table() (Table, error) {
	svcs, err := c.services()
	if err != nil {
		return nil, &OpError{Op: "list services", Err: err}
	}
	t := make(Table, len(svcs))
	for _, s := range svcs {
		ds, err := c.dests(s)
		if err != nil {
			return nil, &OpError{Op: "list destinations of", Service: s.Key, Err: err}
		}
		s.Destinations = ds
		t[s.Key] = s
	}
	return t, nil
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
