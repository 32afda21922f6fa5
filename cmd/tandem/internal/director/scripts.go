package director

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
)

// The programs a cluster file names (vrrp and sync_group notify,
// track_script, command checks) run as the scripts block's user, or as
// tandem itself when it names none; never through a shell (argv[0] is
// executed with the rest as its arguments: a shell runs only when the
// command names one, as the keepalived importer writes ["/bin/sh", "-c",
// ...]). The loader refuses a file whose programs are missing, or, unless
// security = false, replaceable by another user (CheckScripts): a start
// fails and a reload keeps the running config.

// scriptUser is the running config's scripts user.
type scriptUser struct {
	cred *healthcheck.Credential // nil: tandem's own user
	err  error                   // it did not resolve: no script runs
}

// ScriptUser resolves c's scripts user: nil when scripts run as tandem
// itself.
func ScriptUser(c *conf.Cluster) (*healthcheck.Credential, error) {
	s := c.Scripts
	if s.User == "" {
		return nil, nil
	}
	at := func(pos string) string {
		if pos == "" {
			return ""
		}
		return pos + ": "
	}
	var cred healthcheck.Credential
	u, err := lookupUser(s.User)
	switch {
	case err == nil:
	case isNumber(s.User):
		n, _ := strconv.ParseUint(s.User, 10, 32)
		cred.UID, cred.GID = uint32(n), uint32(n)
	default:
		return nil, fmt.Errorf("%sscripts user %q: no such user. Hint: create it (useradd --system --no-create-home --shell /usr/sbin/nologin %s), or remove user to run the scripts as tandem itself", at(s.UserPos), s.User, s.User)
	}
	if u != nil {
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%sscripts user %q: bad uid %q or gid %q", at(s.UserPos), s.User, u.Uid, u.Gid)
		}
		cred.UID, cred.GID = uint32(uid), uint32(gid)
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if n, err := strconv.ParseUint(id, 10, 32); err == nil {
					cred.Groups = append(cred.Groups, uint32(n))
				}
			}
		}
	}
	if s.Group != "" {
		gid, err := lookupGroup(s.Group)
		if err != nil {
			return nil, fmt.Errorf("%sscripts group %q: no such group. Hint: create it (groupadd --system %s), or remove group to use the user's own", at(s.GroupPos), s.Group, s.Group)
		}
		cred.GID = gid
	}
	return &cred, nil
}

func isNumber(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

func lookupUser(s string) (*user.User, error) {
	if isNumber(s) {
		return user.LookupId(s)
	}
	return user.Lookup(s)
}

func lookupGroup(s string) (uint32, error) {
	if isNumber(s) {
		n, _ := strconv.ParseUint(s, 10, 32)
		return uint32(n), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(n), err
}

// maxScriptErrors is how many script problems an error lists.
const maxScriptErrors = 5

// CheckScripts checks, on this host, that c's scripts user exists and
// that every program c names can be run safely (conf.Cluster.CheckScripts).
func CheckScripts(c *conf.Cluster) error {
	cred, err := ScriptUser(c)
	if err != nil {
		return err
	}
	uid := uint32(os.Geteuid())
	if cred != nil {
		uid = cred.UID
	}
	errs := c.CheckScripts(uid, conf.ScriptFS{Stat: statOwner, EvalSymlinks: filepath.EvalSymlinks})
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, 0, maxScriptErrors+1)
	for i, e := range errs {
		if i == maxScriptErrors {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(errs)-i))
			break
		}
		msgs = append(msgs, e.Error())
	}
	msg := strings.Join(msgs, "; ")
	if strings.Contains(msg, "is not safe to run") {
		msg += ". " + conf.UnsafeHint
	}
	return errors.New(msg)
}

// statOwner is os.Stat's owner and mode.
func statOwner(path string) (conf.FileOwner, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return conf.FileOwner{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return conf.FileOwner{}, &fs.PathError{Op: "stat", Path: path, Err: errors.New("no owner")}
	}
	return conf.FileOwner{UID: st.Uid, GID: st.Gid, Mode: fi.Mode()}, nil
}

// setScripts resolves c's scripts user for the scripts run from now on.
func (d *Director) setScripts(c *conf.Cluster) {
	cred, err := ScriptUser(c)
	if err != nil {
		d.log.Error("scripts not run: their user does not resolve", "err", err)
	}
	d.scripts.Store(&scriptUser{cred: cred, err: err})
}

// scriptCred is the scripts' user now (nil: tandem's own).
func (d *Director) scriptCred() *healthcheck.Credential {
	if su := d.scripts.Load(); su != nil {
		return su.cred
	}
	return nil
}

// runScript runs a notify hook or track script (the VRRP runner's Exec)
// to completion or until ctx is done, as the scripts' user.
func (d *Director) runScript(ctx context.Context, argv []string) error {
	if len(argv) == 0 {
		return errors.New("empty command")
	}
	su := d.scripts.Load()
	if su != nil && su.err != nil {
		return su.err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if su != nil && su.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: su.cred.UID, Gid: su.cred.GID, Groups: su.cred.Groups}}
	}
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return err
}

// withRunAs returns s, a command check run as the scripts' user.
func (d *Director) withRunAs(s healthcheck.Spec) healthcheck.Spec {
	if s.Kind == healthcheck.KindCommand {
		s.RunAs = d.scriptCred
	}
	return s
}
