//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"runtime"
	"time"

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

// nlSocket is a blocking NETLINK_GENERIC socket. It is used from the
// Reconciler's owner goroutine only.
type nlSocket struct {
	fd int
}

var _ nlConn = (*nlSocket)(nil)

// dialGeneric opens a generic netlink socket in the network namespace at
// netnsPath ("" for the caller's) and returns it with the number of
// requests its receive buffer can acknowledge in one batch.
func dialGeneric(netnsPath string) (*nlSocket, int, error) {
	var fd int
	var err error
	if netnsPath == "" {
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	} else {
		fd, err = socketInNetns(netnsPath)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("ipvs: open netlink socket (netns %q): %w", netnsPath, err)
	}
	s := &nlSocket{fd: fd}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		s.Close()
		return nil, 0, fmt.Errorf("ipvs: bind netlink socket: %w", err)
	}
	// The FORCE variants need CAP_NET_ADMIN, which IPVS needs anyway; the
	// plain ones are capped by net.core.[rw]mem_max.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, wantRcvBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, wantRcvBuf)
	}
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, wantSndBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, wantSndBuf)
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

// socketInNetns opens the socket from a thread that enters the namespace
// at path. The thread stays locked, and so is discarded, if it cannot go
// back to its own namespace.
func socketInNetns(path string) (int, error) {
	target, err := netns.GetFromPath(path)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	fd, serr := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err := netns.Set(orig); err != nil {
		if serr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("return to own netns: %w", err)
	}
	runtime.UnlockOSThread()
	return fd, serr
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

// Close closes the socket.
func (s *nlSocket) Close() error { return unix.Close(s.fd) }
