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
}

// ApplyDirector applies s: the sysctls ([ApplySysctls], under procRoot, ""
// meaning [DefaultProcRoot]) and the masquerade rules ([ApplyMasquerade]) in
// the caller's network namespace. It returns a line per change made, for the
// log; nothing is changed, and nothing returned, when all is already in
// place. Settings that are off are left as they are, not reverted; an empty
// Masquerade does remove tandem's nftables tables.
func ApplyDirector(s DirectorSettings, procRoot string) ([]string, error) {
	changed, err := ApplySysctls(s, procRoot)
	if err != nil {
		return changed, err
	}
	more, err := ApplyMasquerade(s.Masquerade)
	return append(changed, more...), err
}

// ApplySysctls writes the sysctls s asks for under procRoot ("" for
// [DefaultProcRoot]), each only if its value differs, and returns a line per
// change like "net.ipv4.ip_forward 0 -> 1". It stops at the first error.
func ApplySysctls(s DirectorSettings, procRoot string) ([]string, error) {
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
	var changed []string
	for _, w := range want {
		old, did, err := writeSysctl(filepath.Join(procRoot, filepath.FromSlash(w.path)), w.value)
		if err != nil {
			return changed, fmt.Errorf("ipvs: sysctl %s: %w", sysctlName(w.path), err)
		}
		if did {
			changed = append(changed, fmt.Sprintf("%s %s -> %s", sysctlName(w.path), old, w.value))
		}
	}
	return changed, nil
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

// writeSysctl writes value to path unless it already holds it, and returns
// the old value and whether it wrote.
func writeSysctl(path, value string) (old string, wrote bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", false, fmt.Errorf("no such setting (unknown interface?): %w", err)
		}
		return "", false, err
	}
	old = strings.TrimSpace(string(b))
	if old == value {
		return old, false, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return old, false, err
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return old, false, err
	}
	return old, true, f.Close()
}
