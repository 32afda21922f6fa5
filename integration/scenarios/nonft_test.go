package scenarios

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nftModules are unloaded, in this order, to make a kernel without
// nftables (the VM has no modprobe, so nothing loads them back behind the
// test's back).
var nftModules = []string{"nft_masq", "nft_nat", "nft_chain_nat", "nf_tables", "nfnetlink"}

// withoutNFTables unloads nftables for the rest of t and loads it back
// (every module of /etc/lab-modules, as the VM's init did) at cleanup.
func withoutNFTables(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		b, err := os.ReadFile("/etc/lab-modules")
		if err != nil {
			t.Errorf("reload nftables: %v", err)
			return
		}
		for _, p := range strings.Fields(string(b)) {
			f, err := os.Open(p)
			if err != nil {
				t.Errorf("reload %s: %v", p, err)
				continue
			}
			err = unix.FinitModule(int(f.Fd()), "", 0)
			f.Close()
			if err != nil && !errors.Is(err, unix.EEXIST) {
				t.Errorf("reload %s: %v", p, err)
			}
		}
	})
	for _, m := range nftModules {
		// Namespaces of earlier scenarios (and their tables) are torn
		// down asynchronously: a module may be busy for a moment.
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := unix.DeleteModule(m, unix.O_NONBLOCK)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("rmmod %s: %v", m, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestWithoutNFTables: on a kernel without nftables, a file with
// masquerade fails at once, naming the modules, with nothing written; one
// without runs as usual (tandem used to fail at start listing its nftables
// table: "socket: protocol not supported").
func TestWithoutNFTables(t *testing.T) {
	vmOnly(t)
	withoutNFTables(t)
	l := newNATLab(t, "nonft", 2)
	must(t, l.director.Sysctl("net/ipv4/ip_forward", "0"))
	masq := strings.Replace(seedConfig, "director {", "director {\n  masquerade = [\"192.168.100.0/24\"]", 1)
	p := startTandem(t, l.director, "run", "-c", writeConfig(t, masq), "--node", "director")
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("tandem runs with masquerade and no nftables:\n%s", p.tail)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(p.tail.String(), "modprobe -a nf_tables nft_chain_nat nft_masq") {
		t.Errorf("the error does not name the modules:\n%s", p.tail)
	}
	if v, _ := l.director.ReadSysctl("net/ipv4/ip_forward"); strings.TrimSpace(v) != "0" {
		t.Errorf("ip_forward = %q after a start that failed, want 0 (untouched)", v)
	}
	if out := ipvsadm(t, l.director, "-Ln"); strings.Contains(out, "203.0.113.10") {
		t.Errorf("the failed start programmed IPVS:\n%s", out)
	}

	p = startTandem(t, l.director, "run", "-c", writeConfig(t, seedConfig), "--node", "director")
	p.reconciled(0)
	alternate(t, l.client, vip)
	must(t, p.stop())
	if strings.Contains(p.tail.String(), "nftables") || strings.Contains(p.tail.String(), "level=ERROR") {
		t.Errorf("tandem touched nftables or failed without masquerade:\n%s", p.tail)
	}
}
