package vrrp

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SetRealtime puts every thread of the process under the SCHED_RR
// real-time policy at priority prio (1..99), as keepalived's
// vrrp_rt_priority does for its VRRP process: a busy CPU then cannot
// delay an advert, a timer or the reading of a peer's advert long enough
// to make a backup believe the master dead (keepalived issue #2066).
//
// In Go the whole process must be real-time, not one goroutine: a timer or
// a socket wakes a goroutine through whichever runtime thread polls, and a
// goroutine locked to a real-time thread still waits for that thread to be
// woken by one that is not. Threads created later (by the Go runtime)
// inherit the policy of their creator. tandem never busy-loops, so the
// other tasks of the host keep the CPU the rest of the time; the kernel's
// real-time throttling (sched_rt_runtime_us) still bounds a runaway.
func SetRealtime(prio int) error {
	if prio < 1 || prio > 99 {
		return fmt.Errorf("vrrp: real-time priority %d not in 1..99", prio)
	}
	attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(prio)}
	done := map[int]bool{}
	// Twice through the list: a thread created meanwhile by one not yet
	// changed would have missed the first pass.
	for range 2 {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("vrrp: real-time: %w", err)
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := unix.SchedSetAttr(tid, attr, 0); err != nil && err != unix.ESRCH {
				return fmt.Errorf("vrrp: real-time priority %d for thread %d: %w", prio, tid, err)
			}
			done[tid] = true
		}
	}
	return nil
}

// LockMemory locks the process's pages in memory (mlockall), as
// keepalived's vrrp_no_swap: a page fault to swap cannot stall an advert.
// Pages are locked as they are first touched (MCL_ONFAULT), so the Go
// heap's reserved but unused address space is not made resident.
func LockMemory() error {
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		return fmt.Errorf("vrrp: mlockall: %w", err)
	}
	return nil
}
