package control

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
)

// Access says who the socket serves: root, the daemon's own user (a
// tandem run as an unprivileged user with capabilities) and, when Group
// is set, the members of that group. Each connection's peer is read with
// SO_PEERCRED when it connects; its supplementary groups come from
// /proc/PID/status. A refused caller gets 403 and one line saying why,
// and the refusal is logged with its uid and pid.
type Access struct {
	// Group is the group whose members are served (its name or number):
	// the socket is then chgrp'ed to it and made 0660. "" for none
	// (socket 0600: root and the daemon's user only).
	Group string
}

// ResolveGroup returns the gid of a group name or number.
func ResolveGroup(s string) (int, error) {
	if s == "" {
		return -1, nil
	}
	if n, err := strconv.ParseUint(s, 10, 31); err == nil {
		return int(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return -1, fmt.Errorf("group %q: no such group (name it as /etc/group does, or give its number)", s)
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil || n < 0 {
		return -1, fmt.Errorf("group %q: bad gid %q", s, g.Gid)
	}
	return n, nil
}

// Peer is the process at the other end of a connection, as SO_PEERCRED
// gives it.
type Peer struct {
	PID      int32
	UID, GID uint32
}

// policy decides who is served.
type policy struct {
	self  uint32 // the daemon's effective uid
	gid   int    // the configured group, -1 when none
	group string // its name as given, for messages
	// groups returns a peer's supplementary groups (/proc/PID/status).
	groups func(pid int32) ([]uint32, error)
}

// allow reports whether p is served, and why not when it is not.
func (pl policy) allow(p Peer) (bool, string) {
	if p.UID == 0 || p.UID == pl.self {
		return true, ""
	}
	if pl.gid < 0 {
		return false, fmt.Sprintf("tandem's control socket refused uid %d (pid %d): only root may use it. Hint: run as root, or start tandem run with --socket-group GROUP and add the user to that group", p.UID, p.PID)
	}
	if p.GID == uint32(pl.gid) {
		return true, ""
	}
	if gs, err := pl.groups(p.PID); err == nil && slices.Contains(gs, uint32(pl.gid)) {
		return true, ""
	}
	return false, fmt.Sprintf("tandem's control socket refused uid %d (pid %d): only root and members of group %s may use it. Hint: run as root, or add the user to group %s", p.UID, p.PID, pl.group, pl.group)
}

// procGroups reads the supplementary groups of process pid.
func procGroups(pid int32) ([]uint32, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(int(pid)) + "/status")
	if err != nil {
		return nil, err
	}
	return parseGroups(b)
}

// parseGroups reads the Groups: line of a /proc/PID/status.
func parseGroups(status []byte) ([]uint32, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var out []uint32
		for _, f := range strings.Fields(v) {
			n, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad Groups: %q", v)
			}
			out = append(out, uint32(n))
		}
		return out, nil
	}
	return nil, fmt.Errorf("no Groups: line")
}
