//go:build linux

package healthcheck

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The poller's system calls on its non-blocking sockets, made raw: not
// through syscall.Syscall, which tells the Go scheduler a goroutine may
// block (entersyscall and exitsyscall). None of these blocks, and telling
// costs more than the call when the scheduler listens: while every P is
// idle its monitor thread (sysmon) sleeps, and the first entersyscall
// after that wakes it and makes it poll every 20 µs for the next
// millisecond or more, retaking the P of any call that lasts a poll,
// which hands it to another thread. With one CPU that is a thousand
// wake-ups a second of the monitor, on the checker's own CPU, for 500
// probes a second: a third of the whole checker's time in the lab VM
// (BENCHMARKS.md). Raw, the probes' system calls leave the monitor
// asleep.

// errnoErr returns e as an error, nil for 0 (an Errno in an interface
// does not allocate for the small values errors have).
func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawRead(fd int, b []byte) (int, error)  { return rawIO(unix.SYS_READ, fd, b) }
func rawWrite(fd int, b []byte) (int, error) { return rawIO(unix.SYS_WRITE, fd, b) }

// rawIO is a read or write (trap) of b on fd.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(b)))
	return int(n), errnoErr(e)
}

func rawClose(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return errnoErr(e)
}

// rawEpollPoll reads the ready events of epfd without waiting.
func rawEpollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	return int(n), errnoErr(e)
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}

func rawSocket(family, typ int) (int, error) {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), uintptr(typ), 0)
	return int(fd), errnoErr(e)
}

// rawConnect connects fd to the raw socket address sa of length n.
func rawConnect(fd int, sa unsafe.Pointer, n uint32) error {
	_, _, e := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(sa), uintptr(n))
	return errnoErr(e)
}

// disconnect dissolves the connection or association of socket fd
// (connect with AF_UNSPEC): a TCP socket sends a reset if its connection
// was open, and can connect again.
func disconnect(fd int) error {
	var unspec unix.RawSockaddr // AF_UNSPEC
	if err := rawConnect(fd, unsafe.Pointer(&unspec), uint32(unsafe.Sizeof(unspec))); err != nil {
		return os.NewSyscallError("connect AF_UNSPEC", err)
	}
	return nil
}

// closeReset closes a connected socket with a reset: no TIME_WAIT.
func closeReset(fd int) {
	l := unix.Linger{Onoff: 1, Linger: 0}
	unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_LINGER, uintptr(unsafe.Pointer(&l)), unsafe.Sizeof(l), 0)
	rawClose(fd)
}
