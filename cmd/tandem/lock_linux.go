package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// runDir holds tandem run's lock (and, later, its other runtime files).
const runDir = "/run/tandem"

// lockPath is the lock of this node: one tandem run per network
// namespace, since the VIPs, the IPVS table and the sysctls it manages
// are the namespace's. The initial namespace (PID 1's) has run.lock; any
// other, as in a lab of namespaces on one host, run.netns-INODE.lock.
func lockPath(dir string) string { return filepath.Join(dir, "run"+netnsSuffix()+".lock") }

// defaultSocket is the control socket of this node, named as its lock:
// tandem.sock, or tandem.netns-INODE.sock outside the initial namespace,
// so that `tandem reload` run in a node's namespace finds its daemon.
func defaultSocket() string { return filepath.Join(runDir, "tandem"+netnsSuffix()+".sock") }

// netnsSuffix is "" in the initial network namespace and
// ".netns-INODE" in any other.
func netnsSuffix() string {
	var self, init unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &self) != nil {
		return ""
	}
	if unix.Stat("/proc/1/ns/net", &init) == nil && init.Ino == self.Ino && init.Dev == self.Dev {
		return ""
	}
	return fmt.Sprintf(".netns-%d", self.Ino)
}

// lockNode takes this node's lock under dir, for the life of the process
// (the kernel drops it when the process ends, however it ends; children
// do not inherit it). A lock held by another process is an error naming
// that process. release closes the lock early (tests).
func lockNode(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	path := lockPath(dir)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := "another process"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = "pid " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("another tandem run (%s) is already running on this node (it holds %s): one instance per node; stop it first, or send it SIGHUP to reload the file", holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}
