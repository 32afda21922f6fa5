package netlab

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
)

// LogTail collects the lines a process writes, so that a test can wait
// for one. It is safe for concurrent use.
type LogTail struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
	done  chan struct{}
}

// ErrExited is returned by Wait when the process ended without writing a
// matching line.
var ErrExited = errors.New("process exited")

// Follow reads r line by line until it ends, then calls wait (the
// process's Wait) and marks the tail done. It returns at once.
func Follow(r io.Reader, wait func() error) *LogTail {
	l := &LogTail{more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
			select {
			case l.more <- struct{}{}:
			default:
			}
		}
		wait()
		close(l.done)
	}()
	return l
}

// Done is closed once the process has ended and every line is in.
func (l *LogTail) Done() <-chan struct{} { return l.done }

// Lines returns a copy of the lines so far.
func (l *LogTail) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Len returns the number of lines so far (a start index for Wait).
func (l *LogTail) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lines)
}

// Since returns the lines from line n on, joined.
func (l *LogTail) Since(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n > len(l.lines) {
		return ""
	}
	return strings.Join(l.lines[n:], "\n")
}

// String returns every line so far, joined.
func (l *LogTail) String() string { return l.Since(0) }

// Wait waits up to timeout for a line matching re at or after line from
// and returns it with its index. It fails with ErrExited when the
// process ends first, or with a timeout error.
func (l *LogTail) Wait(re string, from int, timeout time.Duration) (string, int, error) {
	rx := regexp.MustCompile(re)
	find := func() (string, int, bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := from; i < len(l.lines); i++ {
			if rx.MatchString(l.lines[i]) {
				return l.lines[i], i, true
			}
		}
		return "", 0, false
	}
	deadline := time.After(timeout)
	for {
		if line, i, ok := find(); ok {
			return line, i, nil
		}
		select {
		case <-l.more:
		case <-l.done:
			if line, i, ok := find(); ok { // what the scanner had left
				return line, i, nil
			}
			return "", 0, ErrExited
		case <-deadline:
			return "", 0, fmt.Errorf("no line matching %q within %v", re, timeout)
		}
	}
}
