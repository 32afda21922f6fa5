package realserver

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/conf"
)

// `tandem realserver` prepares a real server for direct routing (DR) or
// IP-in-IP tunnelling (TUN), the scripts every LVS-DR tutorial has the
// operator write:
//
//   - DR: each VIP on lo as a host address (/32, /128), so the real server
//     accepts packets the director forwards by MAC and answers from the VIP;
//   - TUN: each VIP on the ipip fallback device tunl0 (ip6tnl0 for IPv6),
//     brought up, which decapsulates the director's packets;
//   - IPv4, both: net.ipv4.conf.all.arp_ignore=1 and arp_announce=2, so the
//     real server neither answers ARP for the VIP nor uses it as the source
//     of its own ARP requests (the director must stay the VIP's only owner
//     on the link);
//   - TUN: rp_filter 0 on tunl0, and all.rp_filter loose (2) if it was
//     strict (1): a decapsulated packet comes in on tunl0 but its reply
//     leaves on the real interface, which strict reverse-path filtering
//     (the effective value is the larger of all and the device's) drops.
//
// It is idempotent (a second run changes nothing and says so) and records
// what it changed in a state file, so that --undo removes exactly that:
// addresses it added, links it brought up, sysctls it set (restored to
// their old value unless someone changed them since). Running it again
// after an edit of the file also removes the VIPs it added that the file
// no longer gives this real server.

const defaultRSState = "/run/tandem/realserver.json"

// rsVIP is one VIP a real server must hold.
type rsVIP struct {
	Addr netip.Addr
	Mode conf.Forward // DR or TUN
}

// rsDevice is the device that holds a VIP: lo for DR, the tunnel fallback
// device of the VIP's family for TUN.
func (v rsVIP) rsDevice() string {
	switch {
	case v.Mode == conf.DR:
		return "lo"
	case v.Addr.Is4():
		return "tunl0"
	}
	return "ip6tnl0"
}

func (v rsVIP) prefix() netip.Prefix {
	return netip.PrefixFrom(v.Addr, v.Addr.BitLen())
}

// rsFromCluster returns the VIPs of the real servers of c that are this
// host: those whose address is in local, or, with names, those named so.
// Only DR and TUN real servers (and sorry servers) count; fwmark services
// have no VIP to hold and are skipped. It is a pure function.
func rsFromCluster(c *conf.Cluster, local []netip.Addr, names []string) ([]rsVIP, error) {
	var out []rsVIP
	add := func(v rsVIP) error {
		for _, o := range out {
			if o.Addr == v.Addr && o.Mode != v.Mode {
				return fmt.Errorf("VIP %s is both %s and %s for this real server: choose one", v.Addr, o.Mode, v.Mode)
			}
			if o == v {
				return nil
			}
		}
		out = append(out, v)
		return nil
	}
	matched := false
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.FWMark != 0 {
			continue
		}
		vip := vs.Address.Addr()
		for _, rs := range vs.RealServers {
			me := slices.Contains(local, rs.Address.Addr())
			if len(names) > 0 {
				me = slices.Contains(names, rs.Name)
			}
			if !me {
				continue
			}
			matched = true
			if rs.Forward != conf.DR && rs.Forward != conf.TUN {
				continue
			}
			if rs.Forward == conf.TUN && conf.FamilyOf(rs.Address.Addr()) != conf.FamilyOf(vip) {
				return nil, fmt.Errorf("real server %s of %s: TUN across address families is not prepared by tandem realserver", rs.Name, vs.Name)
			}
			if err := add(rsVIP{Addr: vip, Mode: rs.Forward}); err != nil {
				return nil, err
			}
		}
		if ss := vs.SorryServer; ss != nil && len(names) == 0 && slices.Contains(local, ss.Address.Addr()) &&
			(ss.Forward == conf.DR || ss.Forward == conf.TUN) {
			matched = true
			if err := add(rsVIP{Addr: vip, Mode: ss.Forward}); err != nil {
				return nil, err
			}
		}
	}
	if !matched {
		if len(names) > 0 {
			return nil, fmt.Errorf("no real_server named %s in the file", strings.Join(names, ", "))
		}
		return nil, errors.New("no real_server of the file has an address of this host (use --name, or --mode and --vip)")
	}
	return out, nil
}

// rsSysctl is one sysctl the real server needs: set want unless the value
// is one of ok.
type rsSysctl struct {
	Key  string // below /proc/sys, e.g. net/ipv4/conf/all/arp_ignore
	Want string
	OK   []string
}

// rsSysctls are the sysctls vips need. A pure function.
func rsSysctls(vips []rsVIP) []rsSysctl {
	var v4, tun4 bool
	for _, v := range vips {
		if v.Addr.Is4() {
			v4 = true
			tun4 = tun4 || v.Mode == conf.TUN
		}
	}
	var out []rsSysctl
	if v4 {
		out = append(out,
			// 1: answer only for addresses on the interface asked; 2 is
			// stricter and fine too.
			rsSysctl{Key: "net/ipv4/conf/all/arp_ignore", Want: "1", OK: []string{"1", "2"}},
			rsSysctl{Key: "net/ipv4/conf/all/arp_announce", Want: "2", OK: []string{"2"}},
		)
	}
	if tun4 {
		out = append(out,
			rsSysctl{Key: "net/ipv4/conf/tunl0/rp_filter", Want: "0", OK: []string{"0"}},
			rsSysctl{Key: "net/ipv4/conf/all/rp_filter", Want: "2", OK: []string{"0", "2"}},
		)
	}
	return out
}

// rsState is the state file: what tandem realserver changed on this host.
type rsState struct {
	Addrs   []rsAddr       `json:"addresses,omitempty"`
	Links   []string       `json:"links_up,omitempty"`
	Sysctls []rsSysctlDone `json:"sysctls,omitempty"`
}

type rsAddr struct {
	Device string       `json:"device"`
	Prefix netip.Prefix `json:"prefix"`
}

type rsSysctlDone struct {
	Key string `json:"key"`
	Old string `json:"old"`
	New string `json:"new"`
}

// rsHost is the system a real server is prepared on: the real one
// (realserver_linux.go) or a fake in tests.
type rsHost interface {
	LocalAddrs() ([]netip.Addr, error)
	HasAddr(dev string, p netip.Prefix) (bool, error)
	AddAddr(dev string, p netip.Prefix) error
	DelAddr(dev string, p netip.Prefix) error
	// IsUp reports whether dev is up; a missing device is an error.
	IsUp(dev string) (bool, error)
	SetUp(dev string, up bool) error
	Sysctl(key string) (string, error)
	SetSysctl(key, value string) error
}

// rsPrepare makes h hold vips and their sysctls, removes the addresses st
// records that vips no longer has, and returns what it did, one line each
// (none when h was ready), updating st.
func rsPrepare(h rsHost, vips []rsVIP, st *rsState) ([]string, error) {
	var did []string
	wanted := map[rsAddr]bool{}
	for _, v := range vips {
		wanted[rsAddr{Device: v.rsDevice(), Prefix: v.prefix()}] = true
	}
	// Addresses tandem added that are wanted no more.
	var keep []rsAddr
	for i, a := range st.Addrs {
		if wanted[a] {
			keep = append(keep, a)
			continue
		}
		if err := rsDelAddr(h, a); err != nil {
			st.Addrs = append(keep, st.Addrs[i:]...)
			return did, err
		}
		did = append(did, fmt.Sprintf("removed %s from %s (no longer in the file)", a.Prefix, a.Device))
	}
	st.Addrs = keep
	// Devices first: a tunnel device must exist and be up.
	for _, v := range vips {
		dev := v.rsDevice()
		up, err := h.IsUp(dev)
		if err != nil {
			if dev != "lo" {
				mod := map[string]string{"tunl0": "ipip", "ip6tnl0": "ip6_tunnel"}[dev]
				return did, fmt.Errorf("TUN needs the %s device (modprobe %s): %w", dev, mod, err)
			}
			return did, err
		}
		if !up {
			if err := h.SetUp(dev, true); err != nil {
				return did, fmt.Errorf("set %s up: %w", dev, err)
			}
			st.Links = append(st.Links, dev)
			did = append(did, "set "+dev+" up")
		}
	}
	// Sysctls before addresses: a VIP must never be answered for by ARP.
	for _, s := range rsSysctls(vips) {
		old, err := h.Sysctl(s.Key)
		if err != nil {
			return did, err
		}
		if slices.Contains(s.OK, old) {
			continue
		}
		if err := h.SetSysctl(s.Key, s.Want); err != nil {
			return did, err
		}
		if i := slices.IndexFunc(st.Sysctls, func(d rsSysctlDone) bool { return d.Key == s.Key }); i >= 0 {
			st.Sysctls[i].New = s.Want // keep the first old value
		} else {
			st.Sysctls = append(st.Sysctls, rsSysctlDone{Key: s.Key, Old: old, New: s.Want})
		}
		did = append(did, fmt.Sprintf("%s = %s (was %s)", sysctlDotted(s.Key), s.Want, old))
	}
	for _, v := range vips {
		a := rsAddr{Device: v.rsDevice(), Prefix: v.prefix()}
		has, err := h.HasAddr(a.Device, a.Prefix)
		if err != nil {
			return did, err
		}
		if has {
			continue
		}
		if err := h.AddAddr(a.Device, a.Prefix); err != nil {
			return did, fmt.Errorf("add %s to %s: %w", a.Prefix, a.Device, err)
		}
		st.Addrs = append(st.Addrs, a)
		did = append(did, fmt.Sprintf("added %s to %s (%s)", a.Prefix, a.Device, v.Mode))
	}
	return did, nil
}

func rsDelAddr(h rsHost, a rsAddr) error {
	has, err := h.HasAddr(a.Device, a.Prefix)
	if err != nil || !has {
		return err // a device that is gone took its address with it
	}
	if err := h.DelAddr(a.Device, a.Prefix); err != nil {
		return fmt.Errorf("remove %s from %s: %w", a.Prefix, a.Device, err)
	}
	return nil
}

// rsUndo reverts what st records, in reverse: addresses, sysctls (unless
// changed since), links. It returns what it did; st keeps what is left.
func rsUndo(h rsHost, st *rsState) ([]string, error) {
	var did []string
	for len(st.Addrs) > 0 {
		a := st.Addrs[len(st.Addrs)-1]
		if err := rsDelAddr(h, a); err != nil {
			return did, err
		}
		st.Addrs = st.Addrs[:len(st.Addrs)-1]
		did = append(did, fmt.Sprintf("removed %s from %s", a.Prefix, a.Device))
	}
	for len(st.Sysctls) > 0 {
		s := st.Sysctls[len(st.Sysctls)-1]
		cur, err := h.Sysctl(s.Key)
		switch {
		case errors.Is(err, os.ErrNotExist): // its device is gone
		case err != nil:
			return did, err
		case cur != s.New:
			did = append(did, fmt.Sprintf("left %s = %s (changed since tandem set %s)", sysctlDotted(s.Key), cur, s.New))
		default:
			if err := h.SetSysctl(s.Key, s.Old); err != nil {
				return did, err
			}
			did = append(did, fmt.Sprintf("%s = %s (restored)", sysctlDotted(s.Key), s.Old))
		}
		st.Sysctls = st.Sysctls[:len(st.Sysctls)-1]
	}
	for len(st.Links) > 0 {
		dev := st.Links[len(st.Links)-1]
		if up, err := h.IsUp(dev); err == nil && up {
			if err := h.SetUp(dev, false); err != nil {
				return did, err
			}
			did = append(did, "set "+dev+" down")
		}
		st.Links = st.Links[:len(st.Links)-1]
	}
	return did, nil
}

func sysctlDotted(key string) string { return strings.ReplaceAll(key, "/", ".") }

func readRSState(path string) (*rsState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &rsState{}, nil
	}
	if err != nil {
		return nil, err
	}
	st := &rsState{}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return st, nil
}

// writeRSState writes st, or removes the file when st records nothing.
func writeRSState(path string, st *rsState) error {
	if len(st.Addrs) == 0 && len(st.Links) == 0 && len(st.Sysctls) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// listFlag is a repeatable flag; a value may also hold a comma-separated
// list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// Main is `tandem realserver`: it returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	return realServer(args, stdout, stderr, newRSHost)
}

func realServer(args []string, stdout, stderr io.Writer, host func() (rsHost, error)) int {
	fs := flag.NewFlagSet("realserver", flag.ContinueOnError)
	path := fs.String("c", "", "cluster file: prepare the VIPs of the DR/TUN real servers that are this host")
	var names, vipArgs, addrs listFlag
	fs.Var(&names, "name", "with -c: the real_server block name(s) of this host, instead of matching its addresses")
	fs.Var(&addrs, "address", "with -c: this host's real-server address(es), instead of reading its interfaces")
	mode := fs.String("mode", "", "without -c: dr or tun")
	fs.Var(&vipArgs, "vip", "without -c: a VIP to prepare (repeatable)")
	undo := fs.Bool("undo", false, "remove exactly what earlier runs added, and restore the sysctls they set")
	statePath := fs.String("state", defaultRSState, "where the changes are recorded for --undo")
	dryRun := fs.Bool("n", false, "print the VIPs this host would prepare and change nothing")
	if code := cli.ParseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "tandem realserver: "+format+"\n", a...)
		return code
	}
	if *undo && (*path != "" || *mode != "" || len(vipArgs) > 0) {
		return fail(2, "--undo takes no -c, --mode or --vip: it reverts what the state file records")
	}
	h, err := host()
	if err != nil {
		return fail(1, "%v", err)
	}
	st, err := readRSState(*statePath)
	if err != nil {
		return fail(1, "%v", err)
	}
	report := func(did []string, err error, none string) int {
		for _, l := range did {
			fmt.Fprintln(stdout, l)
		}
		if werr := writeRSState(*statePath, st); werr != nil && err == nil {
			err = fmt.Errorf("state file: %w", werr)
		}
		if err != nil {
			return fail(1, "%v", err)
		}
		if len(did) == 0 {
			fmt.Fprintln(stdout, none)
		}
		return 0
	}
	if *undo {
		did, err := rsUndo(h, st)
		return report(did, err, "nothing to undo")
	}

	var vips []rsVIP
	switch {
	case *path != "" && (*mode != "" || len(vipArgs) > 0):
		return fail(2, "-c and --mode/--vip exclude each other")
	case *path != "":
		c, files, diags := conf.Load(*path)
		if diags.HasErrors() {
			files.WriteDiagnostics(stderr, diags)
			return 1
		}
		var local []netip.Addr
		for _, a := range addrs {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				return fail(2, "bad --address %q", a)
			}
			local = append(local, ip.Unmap())
		}
		if len(local) == 0 && len(names) == 0 {
			if local, err = h.LocalAddrs(); err != nil {
				return fail(1, "%v", err)
			}
		}
		if vips, err = rsFromCluster(c, local, names); err != nil {
			return fail(1, "%v", err)
		}
	case *mode != "":
		m := conf.Forward(*mode)
		if m != conf.DR && m != conf.TUN {
			return fail(2, "bad --mode %q: dr or tun", *mode)
		}
		if len(vipArgs) == 0 {
			return fail(2, "--mode needs at least one --vip")
		}
		for _, a := range vipArgs {
			ip, err := netip.ParseAddr(a)
			if err != nil || ip.Zone() != "" {
				return fail(2, "bad --vip %q", a)
			}
			vips = append(vips, rsVIP{Addr: ip.Unmap(), Mode: m})
		}
	default:
		return fail(2, "give -c FILE, or --mode dr|tun --vip ADDR")
	}
	if len(vips) == 0 {
		fmt.Fprintln(stdout, "this host is a real server of the file, but none of its real servers uses dr or tun: nothing to prepare")
		return 0
	}
	if *dryRun {
		for _, v := range vips {
			fmt.Fprintf(stdout, "%s %s on %s\n", v.Mode, v.prefix(), v.rsDevice())
		}
		return 0
	}
	did, err := rsPrepare(h, vips, st)
	return report(did, err, "already prepared: nothing changed")
}
