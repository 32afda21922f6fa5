package vrrplab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Keepalived is the path of the keepalived binary the lab runs beside
// tandem (Debian's package: /usr/sbin/keepalived).
const Keepalived = "/usr/sbin/keepalived"

// HaveKeepalived returns why keepalived cannot run here ("" when it can).
func HaveKeepalived() string {
	if _, err := exec.LookPath(Keepalived); err != nil {
		return "no keepalived (apt-get install keepalived): " + err.Error()
	}
	return ""
}

// A KAInstance is one keepalived vrrp_instance, written by KeepalivedConf
// with the same meaning as tandem's vrrp block of the same fields.
type KAInstance struct {
	Name      string
	VRID      int
	Interface string
	Priority  int
	Version   int           // 2 or 3
	Interval  time.Duration // advert_int (v2: whole seconds)
	Addresses []string      // with prefix length
	AuthPass  string        // v2 simple password
	NoPreempt bool
}

// KeepalivedConf returns a keepalived.conf with the given instances, all in
// state BACKUP (the priorities decide, as in tandem), VRRP only.
func KeepalivedConf(routerID string, ins ...KAInstance) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n}\n", routerID)
	for _, in := range ins {
		fmt.Fprintf(&b, "vrrp_instance %s {\n", in.Name)
		fmt.Fprintf(&b, "  state BACKUP\n  interface %s\n  virtual_router_id %d\n  priority %d\n", in.Interface, in.VRID, in.Priority)
		fmt.Fprintf(&b, "  version %d\n  advert_int %s\n", in.Version, strconv.FormatFloat(in.Interval.Seconds(), 'f', -1, 64))
		if in.NoPreempt {
			b.WriteString("  nopreempt\n")
		}
		if in.AuthPass != "" {
			fmt.Fprintf(&b, "  authentication {\n    auth_type PASS\n    auth_pass %s\n  }\n", in.AuthPass)
		}
		b.WriteString("  virtual_ipaddress {\n")
		for _, a := range in.Addresses {
			fmt.Fprintf(&b, "    %s dev %s\n", a, in.Interface)
		}
		b.WriteString("  }\n}\n")
	}
	return b.String()
}

// StartKeepalived runs keepalived's VRRP subsystem with config (the text
// of a keepalived.conf) in d's namespace, in the foreground, logging to
// the console, with its pid files in a temporary directory; it does not
// respawn its VRRP child. Kill SIGKILLs the VRRP child first (killing the
// parent first would make the child, told by PR_SET_PDEATHSIG, shut down
// gracefully), Stop sends SIGTERM to the parent (a graceful stop: the
// master sends priority 0). Its state changes log "(NAME) Entering
// MASTER STATE" and the like.
func (l *Lab) StartKeepalived(d *Director, config string) *Proc {
	l.T.Helper()
	dir, err := os.MkdirTemp("", "tvl-keepalived-")
	must(l.T, err)
	l.T.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "keepalived.conf")
	must(l.T, os.WriteFile(conf, []byte(config), 0o644))
	vrrpPid := filepath.Join(dir, "vrrp.pid")
	argv := []string{Keepalived, "--dont-fork", "--log-console", "--log-detail", "--no-syslog",
		"--dont-respawn", "--vrrp", "-f", conf,
		"-p", filepath.Join(dir, "keepalived.pid"), "-r", vrrpPid,
		"-c", filepath.Join(dir, "checkers.pid"), "-b", filepath.Join(dir, "bfd.pid")}
	return l.spawn(d, "keepalived", argv, func() []int {
		b, err := os.ReadFile(vrrpPid)
		if err != nil {
			return nil
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 {
			return nil
		}
		return []int{pid}
	})
}

// KAState is the log pattern of a keepalived state change.
func KAState(inst, state string) string {
	return `\(` + inst + `\) Entering ` + state + ` STATE`
}
