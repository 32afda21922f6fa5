package conf

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Scripts is the `scripts` block: who runs the programs the file names
// (vrrp and sync_group notify, track_script, command checks), and
// whether they must be safe from other users. keepalived's script_user
// and enable_script_security.
type Scripts struct {
	// User runs the scripts; "" runs them as tandem itself (root under
	// the shipped unit).
	User string
	// Group is the scripts' group; "" for User's primary group. Only with
	// User.
	Group string
	// Insecure is `security = false`. The check is on by default: a
	// program that a user other than root or User could replace (the
	// file, or a directory above it, writable by group or others, or
	// owned by someone else) is refused.
	Insecure bool
	// UserPos and GroupPos are where user and group are written
	// ("file:line:col"; "" when not).
	UserPos, GroupPos string
}

var scriptsSchema = schema([]string{"user", "group", "security"})

func (p *parser) scriptsBlock(b *hcl.Block) {
	bd := p.open(b, b.Body, scriptsSchema)
	d := &p.decoder
	s := &p.c.Scripts
	if a := bd.attr("user"); setStr(d, &s.User, a) {
		s.UserPos = posOf(a.Expr.Range())
		if !validAccount(s.User) {
			p.errf(a.Expr.Range(), "Invalid user", "scripts user %q is not a user name. Hint: name a system user, such as \"tandem-script\" (useradd --system tandem-script), or give its number.", s.User)
		}
	}
	if a := bd.attr("group"); setStr(d, &s.Group, a) {
		s.GroupPos = posOf(a.Expr.Range())
		switch {
		case !validAccount(s.Group):
			p.errf(a.Expr.Range(), "Invalid group", "scripts group %q is not a group name. Hint: name a group, or give its number.", s.Group)
		case s.User == "":
			p.errf(a.Expr.Range(), "group without user", "scripts group needs a user: without one, scripts run as tandem itself. Hint: add user = \"tandem-script\".")
		}
	}
	secure := true
	if setBool(d, &secure, bd.attr("security")) {
		s.Insecure = !secure
	}
}

// validAccount reports whether s can be a user or group name (or number).
func validAccount(s string) bool {
	if s == "" || len(s) > 32 || s[0] == '-' {
		return false
	}
	return !strings.ContainsAny(s, ":/ \t\n,")
}

func posOf(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

// noteScript records where use's command is written (ScriptUses).
func (p *parser) noteScript(use string, a *hcl.Attribute) { p.notePosOf(use, a.Expr.Range()) }

func (p *parser) notePosOf(key string, r hcl.Range) {
	if p.c.pos == nil {
		p.c.pos = map[string]string{}
	}
	p.c.pos[key] = posOf(r)
}

// Pos returns where key is written, "file:line:col", or "": the keys are
// `vrrp "NAME" addresses`, `metrics listen`, `node "NAME" metrics listen`
// and, for the file's first virtual server, `virtual_server "NAME"`.
func (c *Cluster) Pos(key string) string { return c.pos[key] }

// MetricsListenPos is where the metrics listener of n is written.
func (c *Cluster) MetricsListenPos(n *Node) string {
	if n != nil && n.MetricsListen.IsValid() {
		return c.pos[fmt.Sprintf("node %q metrics listen", n.Name)]
	}
	return c.pos["metrics listen"]
}

// A ScriptUse is a program the file runs.
type ScriptUse struct {
	Use  string // track_script "chk", vrrp "public" notify, virtual_server "web" check, ...
	Argv []string
	Pos  string // where the command is written, "file:line:col"
}

// ScriptUses lists the programs the file runs, in the file's order by
// kind: track scripts, vrrp and sync_group notify, command checks.
func (c *Cluster) ScriptUses() []ScriptUse {
	var out []ScriptUse
	add := func(use string, argv []string) {
		if len(argv) > 0 {
			out = append(out, ScriptUse{Use: use, Argv: argv, Pos: c.pos[use]})
		}
	}
	for _, t := range c.TrackScripts {
		add(fmt.Sprintf("track_script %q", t.Name), t.Command)
	}
	for _, v := range c.VRRP {
		add(fmt.Sprintf("vrrp %q notify", v.Name), v.Notify)
	}
	for _, g := range c.SyncGroups {
		add(fmt.Sprintf("sync_group %q notify", g.Name), g.Notify)
	}
	for _, vs := range c.VirtualServers {
		if vs.Check != nil && vs.Check.Type == CheckCommand {
			add(fmt.Sprintf("virtual_server %q check", vs.Name), vs.Check.Command)
		}
		for _, rs := range vs.RealServers {
			if rs.Check != nil && rs.Check.Type == CheckCommand && rs.Check != vs.Check {
				if use := fmt.Sprintf("virtual_server %q real_server %q check", vs.Name, rs.Name); c.pos[use] != "" {
					add(use, rs.Check.Command)
				}
			}
		}
	}
	return out
}

// FileOwner is what ScriptFS.Stat tells of a file.
type FileOwner struct {
	UID, GID uint32
	Mode     fs.FileMode
}

// ScriptFS is the file system CheckScripts reads (the director's real
// one, or a test's).
type ScriptFS struct {
	// Stat follows symbolic links.
	Stat func(path string) (FileOwner, error)
	// EvalSymlinks is filepath.EvalSymlinks.
	EvalSymlinks func(path string) (string, error)
}

// CheckScripts checks every program the file runs: it must exist and be
// an executable regular file and, unless c.Scripts.Insecure, it and every
// directory above it (as written and as its symbolic links resolve) must
// be owned by root or by uid (the user the scripts run as) and not
// writable by group or others (a directory with the sticky bit, such as
// /tmp, may be; a group-writable one of group root may be). Each problem
// is an error "file:line:col: USE: ..." naming the offending path and its
// mode; an unsafe program's says "is not safe to run" (UnsafeHint tells
// what to do).
func (c *Cluster) CheckScripts(uid uint32, sys ScriptFS) []error {
	var errs []error
	seen := map[string]string{} // program -> its problem ("" none)
	for _, u := range c.ScriptUses() {
		prog := u.Argv[0]
		why, ok := seen[prog]
		if !ok {
			why = checkProgram(prog, uid, !c.Scripts.Insecure, sys)
			seen[prog] = why
		}
		if why == "" {
			continue
		}
		where := u.Use
		if u.Pos != "" {
			where = u.Pos + ": " + u.Use
		}
		errs = append(errs, fmt.Errorf("%s: %s", where, why))
	}
	return errs
}

// UnsafeHint is what to do about a program that is not safe to run.
const UnsafeHint = "Hint: make root own the paths named and chmod go-w them, or set security = false in the scripts block"

// checkProgram returns what is wrong with running prog, "" when nothing.
func checkProgram(prog string, uid uint32, security bool, sys ScriptFS) string {
	fi, err := sys.Stat(prog)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Sprintf("program %s does not exist. Hint: install it, or fix the path (tandem does not search $PATH and runs no shell unless the command names one, such as [\"/bin/sh\", \"-c\", \"...\"])", prog)
		}
		return fmt.Sprintf("program %s: %v", prog, err)
	}
	if !fi.Mode.IsRegular() || fi.Mode.Perm()&0o111 == 0 {
		return fmt.Sprintf("program %s is not an executable file (mode %v). Hint: chmod +x it", prog, fi.Mode)
	}
	if !security {
		return ""
	}
	written := filepath.Clean(prog)
	real, err := sys.EvalSymlinks(written)
	if err != nil {
		return fmt.Sprintf("program %s: %v", prog, err)
	}
	// The file and the directories above it as it resolves, then the
	// directories of the path as written (its links).
	starts := []string{real}
	if real != written {
		starts = append(starts, filepath.Dir(written))
	}
	for i, start := range starts {
		for q := start; ; q = filepath.Dir(q) {
			fi, err := sys.Stat(q)
			if err != nil {
				return fmt.Sprintf("program %s: %v", prog, err)
			}
			if why := unsafeFile(q, fi, uid, i == 0 && q == real); why != "" {
				via := ""
				if real != written {
					via = " (it resolves to " + real + ")"
				}
				return fmt.Sprintf("program %s%s is not safe to run: %s", prog, via, why)
			}
			if q == "/" || q == "." {
				break
			}
		}
	}
	return ""
}

// unsafeFile says why another user could replace the file or directory
// at path ("" when none could).
func unsafeFile(path string, fi FileOwner, uid uint32, file bool) string {
	what := "directory"
	if file {
		what = "file"
	}
	if fi.UID != 0 && fi.UID != uid {
		return fmt.Sprintf("%s %s is owned by uid %d (mode %v), not by root or the scripts' user", what, path, fi.UID, fi.Mode)
	}
	perm := fi.Mode.Perm()
	switch {
	case !file && fi.Mode&fs.ModeSticky != 0:
		return "" // entries of others cannot be replaced
	case perm&0o002 != 0:
		return fmt.Sprintf("%s %s is writable by others (mode %v)", what, path, fi.Mode)
	case perm&0o020 != 0 && fi.GID != 0:
		return fmt.Sprintf("%s %s is writable by group %d (mode %v)", what, path, fi.GID, fi.Mode)
	}
	return ""
}
