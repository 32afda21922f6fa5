//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Socket options of the IPVS socket. The kernel handles a whole datagram of
// requests within sendmsg and queues every ack before it returns, and it
// drops acks (ENOBUFS) that do not fit the receive buffer, so the buffer
// bounds the batch: about ackTruesize bytes of buffer per request.
const (
	wantRcvBuf  = 4 << 20
	wantSndBuf  = 1 << 20
	ackTruesize = 1024 // an ack skb's truesize is under 800 bytes on 6.x
	maxBatch    = 512
	recvTimeout = 30 * time.Second
)

// nlSocket is a blocking NETLINK_GENERIC socket. It is used by one
// goroutine at a time: the Reconciler's owner, or one of the readers a
// table read starts and waits for.
type nlSocket struct {
	fd int
	// The recvmmsg vectors of RecvMulti, kept to spare an allocation
	// per call.
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
}

var (
	_ nlConn      = (*nlSocket)(nil)
	_ multiRecver = (*nlSocket)(nil)
)

// dialGeneric opens a generic netlink socket in the network namespace at
// netnsPath ("" for the calling thread's) and returns it with the number of
// requests its receive buffer can acknowledge in one batch.
func dialGeneric(netnsPath string) (*nlSocket, int, error) {
	fds, err := openSockets(netnsPath, 1)
	if err != nil {
		return nil, 0, err
	}
	return setupSocket(fds[0], true)
}

// setupSocket binds fd and sets its options. A writer's buffers are sized
// for pipelined writes ([wantRcvBuf]); a reader, which only dumps, keeps
// the system's defaults. It closes fd on failure.
func setupSocket(fd int, writer bool) (*nlSocket, int, error) {
	s := &nlSocket{fd: fd}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		s.Close()
		return nil, 0, fmt.Errorf("ipvs: bind netlink socket: %w", err)
	}
	if writer {
		// The FORCE variants need CAP_NET_ADMIN, which IPVS needs anyway;
		// the plain ones are capped by net.core.[rw]mem_max.
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, wantRcvBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, wantRcvBuf)
		}
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, wantSndBuf) != nil {
			_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, wantSndBuf)
		}
	}
	// Error acks need not echo the request; extended acks carry the
	// kernel's message, if any. Both are optional (Linux 4.3, 4.12).
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		s.Close()
		return nil, 0, fmt.Errorf("ipvs: set netlink receive timeout: %w", err)
	}
	batch := maxBatch
	if rcv, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF); err == nil {
		// The kernel reports twice what was set and keeps that much.
		batch = max(1, min(maxBatch, rcv/ackTruesize/2))
	}
	return s, batch, nil
}

// dialReaders opens n more sockets in the namespace at netnsPath, for
// [genlClient]s that only dump. Like dialGeneric, with "" it must run on
// the thread (in the namespace) the first socket was opened on.
func dialReaders(netnsPath string, n int) ([]*nlSocket, error) {
	fds, err := openSockets(netnsPath, n)
	if err != nil {
		return nil, err
	}
	out := make([]*nlSocket, 0, n)
	for i, fd := range fds {
		s, _, err := setupSocket(fd, false)
		if err != nil {
			for _, fd := range fds[i+1:] {
				unix.Close(fd)
			}
			for _, s := range out {
				s.Close()
			}
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// openSockets opens n unbound generic netlink sockets in the namespace at
// netnsPath, or in the calling thread's for "".
func openSockets(netnsPath string, n int) ([]int, error) {
	var fds []int
	var err error
	if netnsPath == "" {
		fds, err = sockets(n)
	} else {
		fds, err = socketsInNetns(netnsPath, n)
	}
	if err != nil {
		return nil, fmt.Errorf("ipvs: open netlink socket (netns %q): %w", netnsPath, err)
	}
	return fds, nil
}

func sockets(n int) ([]int, error) {
	fds := make([]int, 0, n)
	for range n {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, err
		}
		fds = append(fds, fd)
	}
	return fds, nil
}

// socketsInNetns opens the sockets from a thread that enters the namespace
// at path. The thread stays locked, and so is discarded, if it cannot go
// back to its own namespace.
func socketsInNetns(path string, n int) ([]int, error) {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	fds, serr := sockets(n)
	if err := netns.Set(orig); err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("return to own netns: %w", err)
	}
	runtime.UnlockOSThread()
	return fds, serr
}

// Send sends b in one sendmsg to the kernel.
func (s *nlSocket) Send(b []byte) error {
	for {
		err := unix.Sendto(s.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			return err
		}
	}
}

// withRecvTimeout runs fn with the socket's receive timeout set to d,
// then sets it back to recvTimeout.
func (s *nlSocket) withRecvTimeout(d time.Duration, fn func() error) error {
	tv := unix.NsecToTimeval(d.Nanoseconds())
	if err := unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fn()
	}
	defer func() {
		tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
		_ = unix.SetsockoptTimeval(s.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	}()
	return fn()
}

var errTruncated = errors.New("netlink datagram truncated")

// Recv reads one datagram; it fails with EAGAIN after recvTimeout.
func (s *nlSocket) Recv(b []byte) (int, error) {
	for {
		n, _, flags, _, err := unix.Recvmsg(s.fd, b, nil, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case flags&unix.MSG_TRUNC != 0:
			return 0, errTruncated
		}
		return n, nil
	}
}

// RecvMulti reads up to len(bufs) datagrams with one recvmmsg: it waits
// for the first (at most recvTimeout), then takes those already queued.
// Reading a datagram of a dump makes the kernel queue the dump's next one
// (netlink_recvmsg), so one call usually reads a short dump to its end.
func (s *nlSocket) RecvMulti(bufs [][]byte, lens []int) (int, error) {
	if len(s.hdrs) < len(bufs) {
		s.hdrs = make([]unix.Mmsghdr, len(bufs))
		s.iovs = make([]unix.Iovec, len(bufs))
	}
	hdrs := s.hdrs[:len(bufs)]
	for i, b := range bufs {
		s.iovs[i] = unix.Iovec{Base: &b[0]}
		s.iovs[i].SetLen(len(b))
		hdrs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: &s.iovs[i]}}
		hdrs[i].Hdr.SetIovlen(1)
	}
	for {
		r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[0])),
			uintptr(len(hdrs)), unix.MSG_WAITFORONE, 0, 0)
		runtime.KeepAlive(bufs)
		switch {
		case errno == unix.EINTR:
			continue
		case errno != 0:
			return 0, errno
		}
		n := int(r)
		for i := range n {
			if hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 {
				return 0, errTruncated
			}
			lens[i] = int(hdrs[i].Len)
		}
		return n, nil
	}
}

// Close closes the socket.
func (s *nlSocket) Close() error { return unix.Close(s.fd) }
