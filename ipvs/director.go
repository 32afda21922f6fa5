package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// DefaultProcRoot is where the kernel's sysctls live.
const DefaultProcRoot = "/proc/sys"

// DirectorSettings are the host settings an LVS-NAT director needs besides
// the IPVS table: what lvs_nat.sh did with sysctl and iptables.
type DirectorSettings struct {
	// IPForward sets net.ipv4.ip_forward=1: a NAT director routes the real
	// servers' replies.
	IPForward bool
	// SendRedirectsOff sets send_redirects=0 on "all", "default" and each
	// of Interfaces: the director must not tell real servers, which use it
	// as their gateway, to reach clients some other way. The kernel sends
	// redirects if "all" or the interface says so, hence both.
	SendRedirectsOff bool
	Interfaces       []string
	// Masquerade lists the source prefixes (the real servers' networks) whose
	// own outgoing connections the director source-NATs. Replies to clients
	// need no rule: IPVS has already rewritten their source to the VIP.
	Masquerade []netip.Prefix
	// ExpireNodestConn sets net.ipv4.vs.expire_nodest_conn=1: a packet of
	// a connection whose destination was deleted expires that connection
	// at once, so the next packet is scheduled to a live real server
	// instead of being dropped until the entry times out. UDP flows, whose
	// entries are refreshed by every packet, would otherwise stay
	// blackholed for as long as the client keeps sending.
	ExpireNodestConn bool
	// SloppyTCP and SloppySCTP set net.ipv4.vs.sloppy_tcp=1 and
	// sloppy_sctp=1: IPVS creates a connection entry for any packet of a
	// flow, not only for its first (SYN, INIT). With several active
	// directors (BGP ECMP) a director that the router moves a flow to
	// picks it up mid-stream instead of dropping it.
	SloppyTCP  bool
	SloppySCTP bool
}

// SysctlChange is one sysctl write: Name in sysctl spelling
// ("net.ipv4.ip_forward"), the value it had and the value written.
type SysctlChange struct {
	Name, Old, New string
	path           string // the file under the proc root
}

func (c SysctlChange) String() string { return c.Name + " " + c.Old + " -> " + c.New }

// ApplySysctls writes the sysctls s asks for under procRoot ("" for
// [DefaultProcRoot]), each only if its value differs, and returns the
// changes made ("net.ipv4.ip_forward 0 -> 1"). Settings that are off are
// left as they are, not reverted.
//
// Nothing is applied half-way: every setting is read before any is
// written, so a missing one (an unknown interface) changes nothing, and a
// write that fails undoes the writes before it.
func ApplySysctls(s DirectorSettings, procRoot string) ([]SysctlChange, error) {
	todo, err := PlanSysctls(s, procRoot)
	if err != nil {
		return nil, err
	}
	for i, c := range todo {
		if err := writeSysctl(c.path, c.New); err != nil {
			UndoSysctls(todo[:i])
			return nil, fmt.Errorf("ipvs: sysctl %s: %w", c.Name, err)
		}
	}
	return todo, nil
}

// PlanSysctls returns the changes ApplySysctls would make, reading every
// setting and writing none: what `tandem plan` shows.
func PlanSysctls(s DirectorSettings, procRoot string) ([]SysctlChange, error) {
	if procRoot == "" {
		procRoot = DefaultProcRoot
	}
	type setting struct{ path, value string }
	var want []setting
	if s.IPForward {
		want = append(want, setting{"net/ipv4/ip_forward", "1"})
	}
	if s.SendRedirectsOff {
		names := []string{"all", "default"}
		for _, ifc := range s.Interfaces {
			if ifc == "" || ifc == "." || ifc == ".." || strings.ContainsAny(ifc, "/\x00") || len(ifc) > 15 {
				return nil, fmt.Errorf("ipvs: bad interface name %q", ifc)
			}
			names = append(names, ifc)
		}
		seen := map[string]bool{}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				want = append(want, setting{"net/ipv4/conf/" + n + "/send_redirects", "0"})
			}
		}
	}
	if s.ExpireNodestConn {
		want = append(want, setting{"net/ipv4/vs/expire_nodest_conn", "1"})
	}
	if s.SloppyTCP {
		want = append(want, setting{"net/ipv4/vs/sloppy_tcp", "1"})
	}
	if s.SloppySCTP {
		want = append(want, setting{"net/ipv4/vs/sloppy_sctp", "1"})
	}
	var todo []SysctlChange
	for _, w := range want {
		path := filepath.Join(procRoot, filepath.FromSlash(w.path))
		old, err := readSysctl(path)
		if err != nil {
			return nil, fmt.Errorf("ipvs: sysctl %s: %w", sysctlName(w.path), err)
		}
		if old != w.value {
			todo = append(todo, SysctlChange{Name: sysctlName(w.path), Old: old, New: w.value, path: path})
		}
	}
	return todo, nil
}

// UndoSysctls puts back the old value of each change, last first, where
// the setting still holds the value written (one changed since by someone
// else is left alone). It returns the first error and goes on past it.
func UndoSysctls(changes []SysctlChange) error {
	var first error
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if cur, err := readSysctl(c.path); err != nil || cur != c.New {
			continue
		}
		if err := writeSysctl(c.path, c.Old); err != nil && first == nil {
			first = fmt.Errorf("ipvs: sysctl %s: %w", c.Name, err)
		}
	}
	return first
}

// sysctlName turns "net/ipv4/conf/eth0.100/send_redirects" into the sysctl
// spelling "net.ipv4.conf.eth0/100.send_redirects".
func sysctlName(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(p, ".", "/")
	}
	return strings.Join(parts, ".")
}

// readSysctl returns the value of the setting at path.
func readSysctl(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no such setting (unknown interface?): %w", err)
	}
	return strings.TrimSpace(string(b)), err
}

// writeSysctl writes value to path.
func writeSysctl(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
