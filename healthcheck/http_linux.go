//go:build linux

package healthcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sys/unix"
)

// HTTP probes on Linux (plain http; https stays on net/http) run on the
// probe poller (poller_linux.go) like tcp probes: a non-blocking connect,
// then one write of a minimal HTTP/1.1 request (Host, User-Agent,
// Connection: close) and reads driven by the same epoll loop, the answer
// parsed as it arrives: the status line and headers, then, only when a
// digest or regex needs it, the body (Content-Length, chunked, or up to
// the end of the connection). The probe ends as soon as the verdict is
// known: after the headers when only the status counts. The errors are
// worded as net/http's.
//
// With Spec.Reuse the request leaves out Connection: close, and a
// connection whose answer was whole (its body framed and all read, the
// server not closing) is kept for the check's next probe, up to
// Spec.KeepaliveRequests probes (MaxReuse by default) (the last asks Connection: close), as Envoy's health checker
// keeps its connections. A kept connection stays in the epoll set: its
// next probe is one write and one read (see connectPoller.reuse). A kept
// connection the server closed or reset while it sat idle (an idle
// timeout, a restart) shows up as an end or reset before the answer's
// first byte: the probe then redials at once, within its deadline, and is
// judged on the fresh connection, as net/http retries a request on a
// pooled connection that turns out dead. A server whose process died
// thus fails on the fresh connect (refused), as without reuse.

// httpRawChecker is an http check whose probes run on the poller.
type httpRawChecker struct {
	*httpChecker
	raw *rawTarget
	// The request's target and Host header, written into each probe's
	// request (see request): most checks have a Host of their own (their
	// address), so request bytes kept per check would cost memory for
	// each; these share the bytes of the check's url or the file's Host.
	uri, host string

	// With Reuse: the connection kept between probes (fd -1: none),
	// and how many probes it has served.
	idleMu   sync.Mutex
	idle     int
	idleSeq  uint32 // its epoll registration's (see connectPoller.reuse)
	idleUses int
	// owed, when not nil, is the answer the kept connection still owes:
	// its probe timed out after the request was sent (see putOwed).
	owed   *respParser
	closed bool // closeIdle ran: keep nothing more
	// The first connection counts as having served a random number of
	// probes already, so that checks started together (at start, or a
	// reload) do not all renew their connections in the same interval.
	offset int
}

// freshUses returns the probes a fresh connection counts as having
// served: the offset for the check's first, 0 after.
func (c *httpRawChecker) freshUses() int {
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	n := c.offset
	c.offset = 0
	return n
}

// spent, as the uses of an idle socket, marks one whose connection cannot
// serve another probe (its last answer said Connection: close, or was
// not framed to keep): the next probe connects it again (see
// connectPoller.reconnect) instead of opening a new socket.
const spent = -1

// takeIdle returns the kept connection, the seq of its epoll
// registration and the probes it has served (or spent), or fd -1.
func (c *httpRawChecker) takeIdle() (fd int, seq uint32, uses int) {
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	fd, seq, uses, c.idle = c.idle, c.idleSeq, c.idleUses, -1
	if owed := c.owed; owed != nil && fd >= 0 {
		// The answer of the probe that timed out on it: if it has come
		// whole since, the connection carries this probe as any kept
		// one; otherwise it is spent (reconnected on the same socket).
		c.owed = nil
		if !drainOwed(fd, owed) {
			uses = spent
		}
	}
	return fd, seq, uses
}

// putOwed keeps fd, whose probe timed out after its request was sent on
// a connection meant to be kept, with r, the parser of the answer it
// still owes (see drainOwed). A farm at capacity answers late rather
// than never: closing the connection would make the next probe connect
// again (the 801 connects a second, on a checker and a farm
// already short of CPU); kept, the late answer is read and dropped at
// the next probe, and the connection carries it. False as for putIdle.
func (c *httpRawChecker) putOwed(fd int, seq uint32, uses int, r *respParser) bool {
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	if c.closed || c.idle >= 0 {
		return false
	}
	owed := *r
	c.idle, c.idleSeq, c.idleUses, c.owed = fd, seq, uses, &owed
	return true
}

// drainOwed reads what has come on fd of the answer r was parsing, and
// reports whether it is now whole with the connection able to carry
// another request. It reads without waiting, a bounded number of times.
func drainOwed(fd int, r *respParser) bool {
	var buf [2048]byte
	for range 64 {
		n, err := rawRead(fd, buf[:])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil || n == 0: // not all here yet, or closed
			return false
		}
		if done, _ := r.feed(buf[:n]); done {
			return r.whole
		}
	}
	return false
}

// owes reports whether the probe, ended by err, leaves its connection
// owing an answer that may still make it reusable: it timed out after
// the whole request, which asked to keep the connection, was sent.
func (x *httpExchange) owes(err error) bool {
	return x.resp.keepAlive && x.wrote == len(x.req) && isTimeout(err)
}

// putIdle keeps fd, registered in the poller's epoll set under seq, which
// has served uses probes, for the next probe; false when the checker keeps
// nothing more (closeIdle ran) or already keeps one: the caller closes
// fd.
func (c *httpRawChecker) putIdle(fd int, seq uint32, uses int) bool {
	c.idleMu.Lock()
	defer c.idleMu.Unlock()
	if c.closed || c.idle >= 0 {
		return false
	}
	c.idle, c.idleSeq, c.idleUses = fd, seq, uses
	return true
}

// closeIdle closes the kept connection, if any, and keeps none after:
// the Manager calls it when it stops the check.
func (c *httpRawChecker) closeIdle() {
	c.idleMu.Lock()
	fd := c.idle
	c.idle, c.closed, c.owed = -1, true, nil
	c.idleMu.Unlock()
	if fd >= 0 {
		closeReset(fd)
	}
}

// newPolledHTTP returns the poller's http checker for s, or nil when s
// needs net/http (https, a target the poller cannot address, a Host
// header net/http would refuse, no poller: polled false).
func newPolledHTTP(c *httpChecker, s Spec, polled func() bool) Checker {
	if s.Kind != KindHTTP {
		return nil
	}
	raw := newRawTarget(s)
	if raw == nil || !polled() {
		return nil
	}
	u, err := url.Parse(c.url)
	if err != nil {
		return nil
	}
	host := c.host
	if host == "" {
		host = u.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return nil
	}
	hc := &httpRawChecker{httpChecker: c, raw: raw, uri: u.RequestURI(), host: host, idle: -1}
	if s.Reuse {
		hc.offset = int(c.probes.Load()) // see newHTTPChecker
	}
	return hc
}

// request appends the probe's request to b: with keep, one that keeps
// the connection (Reuse), otherwise one that asks Connection: close.
func (c *httpRawChecker) request(b []byte, keep bool) []byte {
	b = append(b, "GET "...)
	b = append(b, c.uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nUser-Agent: tandem-healthcheck\r\n"...)
	if !keep {
		b = append(b, "Connection: close\r\n"...)
	}
	return append(b, "\r\n"...)
}

// reuses reports whether the check keeps its connections (Spec.Reuse).
func (c *httpRawChecker) reuses() bool { return c.maxReuse > 0 }

// Check sends one request and judges the answer.
func (c *httpRawChecker) Check(ctx context.Context) error {
	return checkOnPoller(ctx, c.timeout, sharedPoller(), c)
}

// start begins one probe on p that ends by deadline (see asyncChecker).
func (c *httpRawChecker) start(p *connectPoller, deadline time.Time, done func(error)) probeHandle {
	if p == nil { // built for a poller, run without one (see newPolledHTTP)
		done(c.raw.opError(errNoPoller))
		return probeHandle{}
	}
	return p.start(c.raw, c, deadline, done)
}

// errNoPoller fails the probes of an http checker that was built for a
// poller when none runs them.
var errNoPoller = errors.New("no health check poller")

// timers puts the check's probe times on p (see asyncChecker).
func (c *httpRawChecker) timers(p *connectPoller) probeTimers {
	if p == nil {
		return nil
	}
	return p
}

// httpExchange is the http part of a probe in flight.
type httpExchange struct {
	c      *httpRawChecker
	req    []byte // the request to send (in buf when it fits)
	buf    [128]byte
	wrote  int // bytes of it written
	resp   respParser
	uses   int  // probes on this connection, this one included
	reused bool // the connection was kept from an earlier probe
	keep   bool // the probe ended with a verdict and the connection can serve the next
}

// init readies x for a probe on a kept connection that has served uses
// probes before, or with uses 0 on a fresh one.
func (x *httpExchange) init(c *httpRawChecker, uses int) {
	reused := uses > 0
	if !reused {
		uses = c.freshUses()
	}
	*x = httpExchange{c: c, uses: uses + 1, reused: reused}
	x.resp.keepAlive = c.reuses() && x.uses < c.maxReuse
	x.req = c.request(x.buf[:0], x.resp.keepAlive)
	x.resp.init(c)
}

// stale reports whether err, met on a kept connection before any byte of
// the answer and before the deadline, says the server closed it while it
// sat idle: the probe then redials instead of failing.
func (x *httpExchange) stale(err error, timedOut bool) bool {
	return x.reused && !x.resp.got && !timedOut && (err == io.EOF || err == unix.ECONNRESET || err == unix.EPIPE)
}

// timeoutError is the error of a probe whose deadline passed once
// connected, worded as net/http's.
func (x *httpExchange) timeoutError(pr *pollProbe) error {
	if !pr.connected {
		return pr.t.opError(errTimeout)
	}
	if x.resp.state == inBody {
		return fmt.Errorf("body: %w", context.DeadlineExceeded)
	}
	return context.DeadlineExceeded
}

// ioError words a read or write failure as net/http's: "read tcp
// SRC->DST: read: connection reset by peer".
func (x *httpExchange) ioError(pr *pollProbe, op string, err error) error {
	oe := &net.OpError{Op: op, Net: "tcp", Addr: net.TCPAddrFromAddrPort(pr.t.target), Err: os.NewSyscallError(op, err)}
	if sa, gerr := unix.Getsockname(int(pr.fd)); gerr == nil {
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			oe.Source = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		case *unix.SockaddrInet6:
			oe.Source = &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}
		}
	}
	if x.resp.state == inBody {
		return fmt.Errorf("body: %w", error(oe))
	}
	return oe
}

const inputEvents = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLHUP | unix.EPOLLERR

// stepHTTP advances an http probe (see step): finish the connect, write
// the request, read what has come of the answer.
func (p *connectPoller) stepHTTP(pr *pollProbe, events uint32, timedOut bool) (finished bool, err error) {
	x, fd := pr.x, int(pr.fd)
	if !pr.connected {
		if events&unix.EPOLLOUT == 0 || events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			ok, err := lateResult(fd)
			if !ok {
				if err == errTimeout && !timedOut {
					return false, nil // still connecting
				}
				return true, pr.t.opError(err)
			}
		}
		pr.connected = true
	}
	req := x.req
	if x.wrote < len(req) {
		for x.wrote < len(req) {
			n, err := rawWrite(fd, req[x.wrote:])
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				if timedOut {
					return true, x.timeoutError(pr)
				}
				return false, nil
			case err != nil && x.stale(err, timedOut):
				return p.redial(pr)
			case err != nil:
				return true, x.ioError(pr, "write", err)
			}
			x.wrote += n
		}
	}
	if events&inputEvents == 0 && !timedOut {
		return false, nil // the answer comes with an event of its own
	}
	for {
		n, err := rawRead(fd, p.rbuf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if timedOut {
				return true, x.timeoutError(pr)
			}
			return false, nil
		case err != nil && x.stale(err, timedOut):
			return p.redial(pr)
		case err != nil:
			return true, x.ioError(pr, "read", err)
		case n == 0:
			if x.stale(io.EOF, timedOut) {
				return p.redial(pr)
			}
			return true, x.resp.eof()
		}
		if done, err := x.resp.feed(p.rbuf[:n]); done {
			x.keep = err == nil && x.resp.whole
			return true, err
		}
	}
}

// maxResponseHead bounds the status line and headers, as net/http's
// MaxResponseHeaderBytes does in newHTTPChecker.
const maxResponseHead = 64 << 10

// maxChunkLine bounds a chunk-size or trailer line.
const maxChunkLine = 4 << 10

// respParser states.
const (
	inHead = iota
	inBody
)

// Body framings.
const (
	bodyNone = iota
	bodyLength
	bodyChunked
	bodyToEOF
)

// Chunked-body states.
const (
	chunkSize    = iota // reading a chunk-size line
	chunkData           // in a chunk's data
	chunkDataEnd        // reading the CRLF after a chunk's data
	chunkTrailer        // reading trailer lines up to the empty one
)

// respParser judges an HTTP response fed to it in pieces, as net/http and
// httpChecker.Check would.
type respParser struct {
	c     *httpChecker
	state int
	got   bool   // some byte of the answer came
	head  []byte // the head so far, when it spans reads

	framing int
	left    int64  // bodyLength: bytes to come; bodyChunked: of the chunk
	chunk   int    // the chunked state
	line    []byte // a partial chunk-size or trailer line
	trailer int    // bytes of the trailer so far
	n       int64  // body bytes seen
	limit   int64  // body bytes wanted (see Check)
	h       hash.Hash
	re      []byte // the body's first MaxRegexBody bytes, for the regex

	// keepAlive: the request asked to keep the connection. whole: the
	// answer was read to its end and no further, and the server keeps
	// the connection too, so it can carry the next request.
	keepAlive   bool
	serverKeeps bool
	whole       bool
}

func (r *respParser) init(c *httpRawChecker) { r.c = c.httpChecker }

// feed takes the next bytes of the answer; done reports a verdict, err.
func (r *respParser) feed(b []byte) (done bool, err error) {
	r.got = r.got || len(b) > 0
	if r.state == inBody {
		return r.body(b)
	}
	data := b
	if len(r.head) > 0 {
		r.head = append(r.head, b...)
		data = r.head
	}
	for {
		end := headEnd(data)
		if end < 0 {
			if len(data) > maxResponseHead {
				return true, fmt.Errorf("net/http: server response headers exceeded %d bytes; aborted", maxResponseHead)
			}
			if len(data) > 0 && (len(r.head) == 0 || &data[0] != &r.head[0]) {
				r.head = append([]byte(nil), data...)
			}
			return false, nil
		}
		code, framing, length, keeps, err := parseHead(data[:end])
		if err != nil {
			return true, err
		}
		data = data[end:]
		if code >= 100 && code <= 199 && code != 101 {
			// net/http skips informational answers.
			r.head = nil
			if len(data) == 0 {
				return false, nil
			}
			continue
		}
		r.head = nil
		if !statusOK(code, r.c.status) {
			return true, fmt.Errorf("status %d not in %s", code, rangesString(r.c.status))
		}
		r.serverKeeps = r.keepAlive && keeps && framing != bodyToEOF
		r.state, r.framing, r.left = inBody, framing, length
		if r.c.newHash == nil && r.c.regex == nil {
			// The verdict is known. To keep the connection, the
			// rest of the answer must be at hand: then it is read
			// past (a body that is still coming closes it).
			if r.serverKeeps {
				r.body(data)
			}
			return true, nil
		}
		r.limit = MaxRegexBody
		if r.c.newHash != nil {
			r.h = r.c.newHash()
			r.limit = MaxDigestBody
		}
		return r.body(data)
	}
}

// end is the end of the answer: the verdict on its body, with rest bytes
// read past it (a server that sends more than it was asked for is not
// trusted with the next request).
func (r *respParser) end(rest int) error {
	r.whole = r.serverKeeps && rest == 0
	return r.verdict()
}

// eof is the end of the connection.
func (r *respParser) eof() error {
	switch {
	case r.state == inHead && !r.got:
		return io.EOF
	case r.state == inHead:
		return io.ErrUnexpectedEOF
	case r.framing == bodyToEOF:
		return r.verdict()
	}
	return fmt.Errorf("body: %w", io.ErrUnexpectedEOF)
}

// body takes the next bytes of the body.
func (r *respParser) body(b []byte) (done bool, err error) {
	if r.framing == bodyNone || (r.framing == bodyLength && r.left == 0) {
		return true, r.end(len(b))
	}
	for len(b) > 0 {
		switch {
		case r.framing == bodyLength || (r.framing == bodyChunked && r.chunk == chunkData):
			k := int(min(r.left, int64(len(b))))
			if done, err := r.sink(b[:k]); done {
				return true, err
			}
			b, r.left = b[k:], r.left-int64(k)
			if r.left > 0 {
				return false, nil
			}
			if r.framing == bodyLength {
				return true, r.end(len(b))
			}
			r.chunk = chunkDataEnd
		case r.framing == bodyToEOF:
			return r.sink(b)
		default: // a line of the chunked framing
			i := bytes.IndexByte(b, '\n')
			if r.chunk == chunkTrailer {
				// The trailer as a whole is bounded, as net/http's (by
				// its 4 KB read buffer): lines that never end it hold
				// the probe no longer than a body would.
				if i < 0 {
					r.trailer += len(b)
				} else {
					r.trailer += i + 1
				}
				if r.trailer > maxChunkLine {
					return true, errors.New("body: http: suspiciously long trailer after chunked body")
				}
			}
			if i < 0 {
				if len(r.line)+len(b) > maxChunkLine {
					return true, errors.New("body: header line too long")
				}
				r.line = append(r.line, b...)
				return false, nil
			}
			line := b[:i]
			if len(r.line) > 0 {
				line = append(r.line, line...)
			}
			b = b[i+1:]
			r.line = r.line[:0]
			switch r.chunk {
			case chunkSize:
				size, ok := chunkSizeLine(line)
				if !ok {
					return true, errors.New("body: malformed chunked encoding")
				}
				r.left, r.chunk = int64(size), chunkData
				if size == 0 {
					r.chunk = chunkTrailer
				}
			case chunkDataEnd:
				if string(line) != "\r" {
					return true, errors.New("body: malformed chunked encoding")
				}
				r.chunk = chunkSize
			case chunkTrailer:
				line = bytes.TrimSuffix(line, []byte("\r"))
				if len(line) == 0 {
					return true, r.end(len(b))
				}
				// A trailer is a header line, as net/http reads it.
				if k, v, ok := bytes.Cut(line, colon); !ok || !token(k) || !fieldValue(v) {
					return true, errors.New("body: malformed MIME header in the chunked trailer")
				}
			}
		}
	}
	return false, nil
}

// chunkSizeLine reads a chunk-size line (without its LF) as net/http
// does: it ends in CRLF (a bare LF is refused in the chunked framing,
// unlike in the head: RFC 9112 erratum 7633) with no other CR, trailing
// blanks and any extension after ';' are dropped, and what is left is 1
// to 16 hex digits. A size past int64 is refused (no body is that long).
func chunkSizeLine(line []byte) (size uint64, ok bool) {
	line, ok = bytes.CutSuffix(line, []byte("\r"))
	if !ok || bytes.IndexByte(line, '\r') >= 0 {
		return 0, false
	}
	line = bytes.TrimRight(line, " \t")
	line, _, _ = bytes.Cut(line, []byte(";"))
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		size = size<<4 | uint64(d)
	}
	return size, size <= math.MaxInt64
}

// sink takes body bytes: into the digest, and the regex's share. done
// when the verdict is known before the body's end.
func (r *respParser) sink(b []byte) (done bool, err error) {
	r.n += int64(len(b))
	if r.h != nil {
		if r.n > r.limit {
			return true, fmt.Errorf("body longer than %d bytes, %s not checked", r.limit, r.c.digest.Algorithm)
		}
		r.h.Write(b)
	}
	if r.c.regex != nil {
		if room := MaxRegexBody - len(r.re); room > 0 {
			r.re = append(r.re, b[:min(room, len(b))]...)
		}
		if r.h == nil && len(r.re) == MaxRegexBody {
			return true, r.verdict() // the regex sees no more
		}
	}
	return false, nil
}

// verdict judges the body.
func (r *respParser) verdict() error {
	if r.h != nil {
		if sum := r.h.Sum(nil); !bytes.Equal(sum, r.c.digest.Sum) {
			return fmt.Errorf("body %s mismatch: got %x, want %x", r.c.digest.Algorithm, sum, r.c.digest.Sum)
		}
	}
	if r.c.regex != nil && !r.c.regex.Match(r.re) {
		return fmt.Errorf("regex %q not found in body", r.c.regex.String())
	}
	return nil
}

// headEnd returns the length of the head at the start of b (up to and
// including its empty line), or -1 when b does not hold all of it.
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		}
	}
}

// parseHead parses a response's status line and headers as net/http's
// ReadResponse does, as far as the verdict needs: the status code and how
// the body is framed (length: its Content-Length, for bodyLength); keeps
// says the server keeps the connection after it (HTTP/1.1 without
// Connection: close).
func parseHead(head []byte) (code, framing int, length int64, keeps bool, err error) {
	// On the bytes, without allocating: it runs once per probe.
	// Without the empty line that ends the head, and the last line's
	// newline (each line's own CR goes below): a line of lone CRs is a
	// malformed header line, as it is to net/textproto.
	h := bytes.TrimSuffix(bytes.TrimSuffix(head, nl), cr)
	h = bytes.TrimSuffix(h, nl)
	line, rest, _ := bytes.Cut(h, nl)
	status := bytes.TrimSuffix(line, cr)
	proto, after, ok := bytes.Cut(status, sp)
	if !ok {
		return 0, 0, 0, false, fmt.Errorf("malformed HTTP response %q", status)
	}
	codeB, _, _ := bytes.Cut(bytes.TrimLeft(after, " "), sp)
	if len(codeB) != 3 {
		return 0, 0, 0, false, fmt.Errorf("malformed HTTP status code %q", codeB)
	}
	code, err = strconv.Atoi(string(codeB))
	if err != nil || code < 0 {
		return 0, 0, 0, false, fmt.Errorf("malformed HTTP status code %q", codeB)
	}
	// HTTP/X.Y with one digit each, as net/http's ParseHTTPVersion takes
	// it; 1.1 and later frame with chunks and keep the connection.
	if len(proto) != len("HTTP/1.1") || !bytes.HasPrefix(proto, []byte("HTTP/")) || proto[6] != '.' ||
		proto[5] < '0' || proto[5] > '9' || proto[7] < '0' || proto[7] > '9' {
		return 0, 0, 0, false, fmt.Errorf("malformed HTTP version %q", proto)
	}
	v11 := proto[5] > '1' || (proto[5] == '1' && proto[7] >= '1')
	length = -1
	chunked := false
	keeps = v11
	if len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		return 0, 0, 0, false, errors.New("malformed MIME header initial line")
	}
	for len(rest) > 0 {
		var l []byte
		l, rest, _ = bytes.Cut(rest, nl)
		l = bytes.TrimSuffix(l, cr)
		// Lines that start with a space or a tab continue the line
		// before (obsolete folding, which net/textproto still joins).
		for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			var more []byte
			more, rest, _ = bytes.Cut(rest, nl)
			joined := append(append([]byte(nil), bytes.TrimRight(l, " \t")...), ' ') // a copy: l is head's
			l = append(joined, bytes.Trim(bytes.TrimSuffix(more, cr), " \t")...)
		}
		k, v, ok := bytes.Cut(l, colon)
		if !ok || !token(k) || !fieldValue(v) {
			return 0, 0, 0, false, fmt.Errorf("malformed MIME header line: %s", l)
		}
		if len(k) != len(hContentLength) && len(k) != len(hTransferEncoding) && len(k) != len(hConnection) {
			continue // not one that matters: Date, Server, Content-Type…
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, hContentLength):
			n, perr := strconv.ParseUint(string(v), 10, 63)
			if perr != nil {
				return 0, 0, 0, false, fmt.Errorf("bad Content-Length %q", v)
			}
			if length >= 0 && int64(n) != length {
				return 0, 0, 0, false, errors.New("http: message cannot contain multiple Content-Length headers")
			}
			length = int64(n)
		case bytes.EqualFold(k, hTransferEncoding) && v11:
			if !bytes.EqualFold(v, tokChunked) {
				return 0, 0, 0, false, fmt.Errorf("unsupported transfer encoding: %q", v)
			}
			chunked = true
		case bytes.EqualFold(k, hConnection):
			for len(v) > 0 {
				var tok []byte
				tok, v, _ = bytes.Cut(v, comma)
				if bytes.EqualFold(bytes.TrimSpace(tok), tokClose) {
					keeps = false
				}
			}
		}
	}
	switch {
	case code >= 100 && code <= 199, code == 204, code == 304:
		return code, bodyNone, 0, keeps, nil
	case chunked:
		return code, bodyChunked, 0, keeps, nil
	case length >= 0:
		return code, bodyLength, length, keeps, nil
	}
	return code, bodyToEOF, 0, false, nil
}

// token reports whether k is a header field name as net/textproto takes
// one: RFC 9110's token characters, at least one, and spaces (accepted
// for old servers, go.dev/issue/34540: such a name matches none of the
// headers that frame the body, here as there).
func token(k []byte) bool {
	if len(k) == 0 {
		return false
	}
	for _, c := range k {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte(" !#$%&'*+-.^_`|~"), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// fieldValue reports whether v holds only what net/textproto takes in a
// header value: visible characters, spaces, tabs and bytes of 0x80 up.
func fieldValue(v []byte) bool {
	for _, c := range v {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// The bytes parseHead looks for.
var (
	nl, cr, sp, colon, comma = []byte("\n"), []byte("\r"), []byte(" "), []byte(":"), []byte(",")
	hContentLength           = []byte("Content-Length")
	hTransferEncoding        = []byte("Transfer-Encoding")
	hConnection              = []byte("Connection")
	tokChunked, tokClose     = []byte("chunked"), []byte("close")
)
