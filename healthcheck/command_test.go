package healthcheck

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCommand(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want string // substring of the error; "" = up
	}{
		{name: "true", argv: []string{"true"}},
		{name: "false", argv: []string{"false"}, want: "exit status 1"},
		{name: "stderr", argv: []string{"sh", "-c", "echo backend is sad >&2; echo twice >&2; exit 3"}, want: "exit status 3: backend is sad | twice"},
		{name: "env", argv: []string{"sh", "-c", `test "$TANDEM_CHECK_ADDR:$TANDEM_CHECK_PORT" = 127.0.0.1:8080`}},
		{name: "missing", argv: []string{"/nonexistent/check"}, want: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustChecker(t, Spec{Kind: KindCommand, Target: netip.MustParseAddrPort("127.0.0.1:8080"), Command: tt.argv})
			err := probe(t, c, 5*time.Second)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestCommandTimeoutKillsGroup(t *testing.T) {
	// The shell writes its pid (its process group, by Setpgid), starts a
	// background sleep in the same group and waits: a timeout must kill
	// both.
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := mustChecker(t, Spec{Kind: KindCommand, Command: []string{"sh", "-c", `echo $$ > "$0"; sleep 30 & sleep 30; wait`, pidFile}})
	start := time.Now()
	err := probe(t, c, 300*time.Millisecond)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("probe took %v with a 300ms timeout", d)
	}
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "process group killed") {
		t.Errorf("error %v, want a timeout that killed the group", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Orphans are reaped by init, which takes a moment: wait (bounded)
	// until no live process is left in the group.
	var live []int
	for range 100 {
		if live = liveInGroup(t, pgid); len(live) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process group %d still has live processes %v", pgid, live)
}

func TestCommandSweepsLeftovers(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The command succeeds at once but leaves a sleep behind, with its
	// stderr closed so that nothing holds the pipe.
	c := mustChecker(t, Spec{Kind: KindCommand, Command: []string{"sh", "-c", `echo $$ > "$0"; sleep 30 2>/dev/null & exit 0`, pidFile}})
	if err := probe(t, c, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	var live []int
	for range 100 {
		if live = liveInGroup(t, pgid); len(live) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("process group %d still has live processes %v", pgid, live)
}

// liveInGroup lists the processes of group pgid that are not zombies, from
// /proc.
func liveInGroup(t *testing.T, pgid int) []int {
	t.Helper()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so
		// split after its closing parenthesis.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) < 3 {
			continue
		}
		if g, _ := strconv.Atoi(fields[2]); g == pgid && fields[0] != "Z" {
			live = append(live, pid)
		}
	}
	return live
}
