package ipvs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func procTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, v := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readProc(t *testing.T, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(p)))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestApplySysctls(t *testing.T) {
	root := procTree(t, map[string]string{
		"net/ipv4/ip_forward":                   "0\n",
		"net/ipv4/conf/all/send_redirects":      "1\n",
		"net/ipv4/conf/default/send_redirects":  "0\n",
		"net/ipv4/conf/eth1/send_redirects":     "1\n",
		"net/ipv4/conf/eth0.100/send_redirects": "1\n",
		"net/ipv4/conf/eth2/send_redirects":     "1\n", // not named: untouched
	})
	s := DirectorSettings{IPForward: true, SendRedirectsOff: true, Interfaces: []string{"eth1", "eth0.100", "eth1"}}

	changes, err := ApplySysctls(s, root)
	if err != nil {
		t.Fatal(err)
	}
	changed := lines(changes)
	want := []string{
		"net.ipv4.ip_forward 0 -> 1",
		"net.ipv4.conf.all.send_redirects 1 -> 0",
		"net.ipv4.conf.eth1.send_redirects 1 -> 0",
		"net.ipv4.conf.eth0/100.send_redirects 1 -> 0",
	}
	if diff := cmp.Diff(want, changed); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	for p, v := range map[string]string{
		"net/ipv4/ip_forward":                   "1",
		"net/ipv4/conf/all/send_redirects":      "0",
		"net/ipv4/conf/default/send_redirects":  "0",
		"net/ipv4/conf/eth1/send_redirects":     "0",
		"net/ipv4/conf/eth0.100/send_redirects": "0",
		"net/ipv4/conf/eth2/send_redirects":     "1",
	} {
		if got := readProc(t, root, p); got != v {
			t.Errorf("%s = %q, want %q", p, got, v)
		}
	}

	// Second run: nothing to do, nothing written (a read-only file proves it).
	ro := filepath.Join(root, "net/ipv4/ip_forward")
	if err := os.Chmod(ro, 0o444); err != nil {
		t.Fatal(err)
	}
	changes, err = ApplySysctls(s, root)
	if err != nil || len(changes) != 0 {
		t.Errorf("second run: %v, %v; want no changes", changed, err)
	}

	// Off means leave alone, not revert.
	if changed, err := ApplySysctls(DirectorSettings{}, root); err != nil || len(changed) != 0 {
		t.Errorf("empty settings: %v, %v", changed, err)
	}
}

func TestApplySysctlsExpireNodestConn(t *testing.T) {
	root := procTree(t, map[string]string{"net/ipv4/vs/expire_nodest_conn": "0\n"})
	changed, err := ApplySysctls(DirectorSettings{ExpireNodestConn: true}, root)
	if err != nil || len(changed) != 1 || changed[0].String() != "net.ipv4.vs.expire_nodest_conn 0 -> 1" {
		t.Fatalf("first run: %v, %v", changed, err)
	}
	if got := readProc(t, root, "net/ipv4/vs/expire_nodest_conn"); got != "1" {
		t.Errorf("expire_nodest_conn = %q, want 1", got)
	}
	if changed, err := ApplySysctls(DirectorSettings{ExpireNodestConn: true}, root); err != nil || len(changed) != 0 {
		t.Errorf("second run: %v, %v; want no changes", changed, err)
	}
}

func TestApplySysctlsSloppy(t *testing.T) {
	root := procTree(t, map[string]string{"net/ipv4/vs/sloppy_tcp": "0\n", "net/ipv4/vs/sloppy_sctp": "0\n"})
	changed, err := ApplySysctls(DirectorSettings{SloppyTCP: true, SloppySCTP: true}, root)
	if err != nil || len(changed) != 2 || changed[0].String() != "net.ipv4.vs.sloppy_tcp 0 -> 1" || changed[1].String() != "net.ipv4.vs.sloppy_sctp 0 -> 1" {
		t.Fatalf("first run: %v, %v", changed, err)
	}
	if changed, err := ApplySysctls(DirectorSettings{SloppyTCP: true, SloppySCTP: true}, root); err != nil || len(changed) != 0 {
		t.Errorf("second run: %v, %v; want no changes", changed, err)
	}
}

func TestApplySysctlsErrors(t *testing.T) {
	root := procTree(t, map[string]string{"net/ipv4/ip_forward": "1\n"})
	for _, tt := range []struct {
		name string
		s    DirectorSettings
		want string
	}{
		{"missing interface", DirectorSettings{SendRedirectsOff: true}, "net.ipv4.conf.all.send_redirects: no such setting"},
		{"bad name", DirectorSettings{SendRedirectsOff: true, Interfaces: []string{"../x"}}, `bad interface name "../x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ApplySysctls(tt.s, root)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

func lines(cs []SysctlChange) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

// A setting that is missing (an unknown interface) fails the whole apply
// before anything is written; a write that fails undoes the ones before
// it; UndoSysctls restores what is still as written.
func TestApplySysctlsAllOrNothing(t *testing.T) {
	root := procTree(t, map[string]string{
		"net/ipv4/ip_forward":                  "0\n",
		"net/ipv4/conf/all/send_redirects":     "1\n",
		"net/ipv4/conf/default/send_redirects": "1\n",
	})
	s := DirectorSettings{IPForward: true, SendRedirectsOff: true, Interfaces: []string{"eth9"}}
	if _, err := ApplySysctls(s, root); err == nil || !strings.Contains(err.Error(), "eth9.send_redirects: no such setting") {
		t.Fatalf("error = %v, want eth9 missing", err)
	}
	for _, p := range []string{"net/ipv4/ip_forward", "net/ipv4/conf/all/send_redirects"} {
		if got := readProc(t, root, p); got != map[string]string{"net/ipv4/ip_forward": "0", "net/ipv4/conf/all/send_redirects": "1"}[p] {
			t.Errorf("%s = %q: written although the apply failed", p, got)
		}
	}

	// A write that fails (a read-only file: not when running as root,
	// which ignores the mode, so a directory stands in) undoes the others.
	ro := filepath.Join(root, "net/ipv4/conf/default/send_redirects")
	if err := os.Remove(ro); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	s.Interfaces = nil
	if _, err := ApplySysctls(s, root); err == nil {
		t.Fatal("a failed write was not reported")
	}
	if got := readProc(t, root, "net/ipv4/ip_forward"); got != "0" {
		t.Errorf("ip_forward = %q after a failed apply, want 0 (undone)", got)
	}
	if err := os.Remove(ro); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ro, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	changes, err := ApplySysctls(s, root)
	if err != nil || len(changes) != 3 {
		t.Fatalf("apply: %v, %v", changes, err)
	}
	// Someone sets default back by hand: the undo leaves that one alone.
	if err := os.WriteFile(ro, []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := UndoSysctls(changes); err != nil {
		t.Fatal(err)
	}
	for p, v := range map[string]string{
		"net/ipv4/ip_forward":                  "0",
		"net/ipv4/conf/all/send_redirects":     "1",
		"net/ipv4/conf/default/send_redirects": "7",
	} {
		if got := readProc(t, root, p); got != v {
			t.Errorf("after undo %s = %q, want %q", p, got, v)
		}
	}
}
