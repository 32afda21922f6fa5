package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestPolicy: root and the daemon's own user are served; with a group, a
// peer whose primary or supplementary group it is; anyone else is
// refused with a line that names the uid, the pid and what to do.
func TestPolicy(t *testing.T) {
	supp := map[int32][]uint32{7: {100, 2000}, 8: {100}}
	groups := func(pid int32) ([]uint32, error) {
		if g, ok := supp[pid]; ok {
			return g, nil
		}
		return nil, errors.New("no such process")
	}
	none := policy{self: 0, gid: -1, groups: groups}
	grp := policy{self: 0, gid: 2000, group: "tandem", groups: groups}
	unpriv := policy{self: 990, gid: -1, groups: groups}
	for _, tt := range []struct {
		name string
		pl   policy
		p    Peer
		ok   bool
		why  string
	}{
		{"root", none, Peer{PID: 1, UID: 0, GID: 0}, true, ""},
		{"nobody", none, Peer{PID: 9, UID: 65534, GID: 65534}, false, "refused uid 65534 (pid 9): only root may use it. Hint: run as root, or start tandem run with --socket-group GROUP"},
		{"primary group", grp, Peer{PID: 5, UID: 1000, GID: 2000}, true, ""},
		{"supplementary group", grp, Peer{PID: 7, UID: 1000, GID: 100}, true, ""},
		{"other groups", grp, Peer{PID: 8, UID: 1000, GID: 100}, false, "refused uid 1000 (pid 8): only root and members of group tandem may use it"},
		{"groups unreadable", grp, Peer{PID: 99, UID: 1000, GID: 100}, false, "members of group tandem"},
		{"root with a group", grp, Peer{PID: 1, UID: 0, GID: 0}, true, ""},
		{"the daemon's user", unpriv, Peer{PID: 3, UID: 990, GID: 990}, true, ""},
		{"another user of an unprivileged daemon", unpriv, Peer{PID: 4, UID: 991, GID: 990}, false, "refused uid 991"},
	} {
		ok, why := tt.pl.allow(tt.p)
		if ok != tt.ok || !strings.Contains(why, tt.why) || (ok && why != "") {
			t.Errorf("%s: %v %q, want %v %q", tt.name, ok, why, tt.ok, tt.why)
		}
	}
}

func TestParseGroups(t *testing.T) {
	gs, err := parseGroups([]byte("Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 \nNgid:\t0\n"))
	if err != nil || len(gs) != 3 || gs[0] != 4 || gs[2] != 27 {
		t.Errorf("%v %v", gs, err)
	}
	if gs, err := parseGroups([]byte("Groups:\t\n")); err != nil || len(gs) != 0 {
		t.Errorf("empty: %v %v", gs, err)
	}
	for _, bad := range []string{"Uid: 0\n", "Groups:\tx\n", "Groups:\t99999999999\n"} {
		if _, err := parseGroups([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	// This process's own line parses.
	if runtime.GOOS == "linux" {
		if _, err := procGroups(int32(os.Getpid())); err != nil {
			t.Error(err)
		}
	}
}

// TestPeerCred reads SO_PEERCRED on a real connection: this process's
// uid, gid and pid.
func TestPeerCred(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_PEERCRED is Linux's")
	}
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := peerOf(s)
	if err != nil || p.UID != uint32(os.Getuid()) || p.GID != uint32(os.Getgid()) || p.PID != int32(os.Getpid()) {
		t.Errorf("peer %+v, %v; want uid %d gid %d pid %d", p, err, os.Getuid(), os.Getgid(), os.Getpid())
	}
	if _, err := peerOf(&net.TCPConn{}); err == nil {
		t.Error("a TCP conn has peer credentials")
	}
}

// TestGuard: a refused caller gets 403 with the reason as the Response's
// Error, and the refusal is logged with its uid and pid; an allowed one
// reaches the handler.
func TestGuard(t *testing.T) {
	var logb strings.Builder
	log := slog.New(slog.NewTextHandler(&logb, nil))
	served := 0
	h := guard(policy{self: 0, gid: -1, groups: procGroups}, log, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	do := func(pi peerInfo) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/v1/status", nil)
		r = r.WithContext(context.WithValue(r.Context(), peerKey{}, pi))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := do(peerInfo{peer: Peer{PID: 1}}); w.Code != 200 || served != 1 {
		t.Fatalf("root: %d, served %d", w.Code, served)
	}
	w := do(peerInfo{peer: Peer{PID: 4242, UID: 65534, GID: 65534}})
	var res Response
	if w.Code != http.StatusForbidden || json.Unmarshal(w.Body.Bytes(), &res) != nil || !strings.Contains(res.Error, "refused uid 65534 (pid 4242)") || served != 1 {
		t.Fatalf("nobody: %d %q, served %d", w.Code, w.Body.String(), served)
	}
	if !strings.Contains(logb.String(), `msg="control socket: request refused" uid=65534 gid=65534 pid=4242 path=/v1/status`) {
		t.Errorf("log: %s", logb.String())
	}
	if w := do(peerInfo{err: errors.New("boom")}); w.Code != http.StatusForbidden || served != 1 {
		t.Errorf("unknown peer: %d, served %d", w.Code, served)
	}
}

// TestSocketGroup: with a group the socket is 0660 and of that group, and
// a root caller is still served; a bad group is an error before any
// socket exists.
func TestSocketGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chgrp to another group needs root")
	}
	path := filepath.Join(t.TempDir(), "g.sock")
	srv, err := Serve(path, &fakeDaemon{}, Access{Group: "4242"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 || fi.Sys().(*syscall.Stat_t).Gid != 4242 {
		t.Errorf("socket %v gid %d, want 0660 gid 4242", fi.Mode().Perm(), fi.Sys().(*syscall.Stat_t).Gid)
	}
	if res, err := (Client{Path: path}).Status(context.Background()); err != nil || res.Status == nil {
		t.Errorf("root: %+v %v", res, err)
	}
	bad := filepath.Join(t.TempDir(), "b.sock")
	if _, err := Serve(bad, &fakeDaemon{}, Access{Group: "no-such-group-tandem"}, nil); err == nil || !strings.Contains(err.Error(), `group "no-such-group-tandem": no such group`) {
		t.Errorf("bad group: %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a bad group left a socket: %v", err)
	}
}
