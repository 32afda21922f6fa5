package lab

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// KernelMeta is the Debian metapackage whose dependency names the kernel
// the lab boots.
const KernelMeta = "linux-image-cloud-amd64"

// Kernel is an unpacked Debian kernel package in the cache.
type Kernel struct {
	Release string // e.g. 6.1.0-56-cloud-amd64
	Root    string // directory the package was unpacked into
	Vmlinuz string // path of the kernel image
}

// ModulesDir is /lib/modules/<release> inside the unpacked package.
func (k *Kernel) ModulesDir() string {
	return filepath.Join(k.Root, "lib", "modules", k.Release)
}

// CacheDir is where downloaded kernels and built base images are kept
// between runs: $TANDEM_LAB_CACHE, or /var/cache/tandem-lab.
func CacheDir() string {
	if d := os.Getenv("TANDEM_LAB_CACHE"); d != "" {
		return d
	}
	return "/var/cache/tandem-lab"
}

var dependsRe = regexp.MustCompile(`(?m)^\s*Depends:\s*(linux-image-\S+)\s*$`)

// FetchKernel makes sure the kernel package that KernelMeta depends on is
// downloaded (apt-get download) and unpacked (dpkg -x) in cache, and
// returns it. A kernel already in cache is reused without asking apt.
func FetchKernel(cache string) (*Kernel, error) {
	if k, err := cachedKernel(cache); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	out, err := exec.Command("apt-cache", "depends", KernelMeta).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("lab: apt-cache depends %s: %v: %s (run apt-get update first)", KernelMeta, err, out)
	}
	m := dependsRe.FindSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("lab: %s depends on no linux-image package (apt-cache said %q; run apt-get update first)", KernelMeta, out)
	}
	pkg := string(m[1])
	dl := exec.Command("apt-get", "download", pkg)
	dl.Dir = cache
	if out, err := dl.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lab: apt-get download %s: %v: %s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(cache, pkg+"_*.deb"))
	if len(debs) == 0 {
		return nil, fmt.Errorf("lab: apt-get download %s left no .deb in %s", pkg, cache)
	}
	tmp := filepath.Join(cache, "unpack.tmp")
	os.RemoveAll(tmp)
	if out, err := exec.Command("dpkg", "-x", debs[0], tmp).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lab: dpkg -x %s: %v: %s", debs[0], err, out)
	}
	if err := os.Rename(tmp, filepath.Join(cache, "kernel")); err != nil {
		return nil, err
	}
	return cachedKernel(cache)
}

func cachedKernel(cache string) (*Kernel, error) {
	root := filepath.Join(cache, "kernel")
	imgs, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	if len(imgs) != 1 {
		return nil, errors.New("lab: no kernel in cache")
	}
	rel := strings.TrimPrefix(filepath.Base(imgs[0]), "vmlinuz-")
	if _, err := os.Stat(filepath.Join(root, "lib", "modules", rel)); err != nil {
		return nil, err
	}
	return &Kernel{Release: rel, Root: root, Vmlinuz: imgs[0]}, nil
}

// Modules the lab loads at boot: IPVS with every scheduler, conntrack and
// NAT, nftables masquerading, veth, bridge, ipip, ip6_tunnel, macvlan and
// dummy links.
// The kernel cannot autoload them (there is no modprobe in the VM), so the
// init loads them all, dependencies first.
var Modules = []string{
	"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc",
	"ip_vs_lblcr", "ip_vs_dh", "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_fo",
	"ip_vs_ovf", "ip_vs_mh",
	"nf_conntrack", "nf_nat", "nf_tables", "nft_chain_nat", "nft_masq", "nft_nat",
	"veth", "bridge", "ipip", "ip6_tunnel", "macvlan", "dummy",
}

// ResolveModules returns the .ko files (relative to the modules dir) for
// names and everything they depend on, in load order (dependencies first).
// Dependencies are read from each module's .modinfo section, so no depmod is
// needed on the host. Modules built into the kernel are skipped.
func (k *Kernel) ResolveModules(names []string) ([]string, error) {
	dir := k.ModulesDir()
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[modName(l)] = true
		}
	}
	paths := map[string]string{}
	err := filepath.WalkDir(filepath.Join(dir, "kernel"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".ko") {
			rel, _ := filepath.Rel(dir, p)
			paths[modName(p)] = rel
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string, from string) error
	visit = func(n, from string) error {
		n = strings.ReplaceAll(n, "-", "_")
		if builtin[n] || state[n] == 2 {
			return nil
		}
		if state[n] == 1 {
			return fmt.Errorf("lab: module dependency cycle at %s", n)
		}
		rel, ok := paths[n]
		if !ok {
			return fmt.Errorf("lab: module %s (needed by %s) not in %s", n, from, dir)
		}
		state[n] = 1
		deps, err := moduleDeps(filepath.Join(dir, rel))
		if err != nil {
			return err
		}
		for _, d := range deps {
			if err := visit(d, n); err != nil {
				return err
			}
		}
		state[n] = 2
		order = append(order, rel)
		return nil
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if err := visit(n, "lab"); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func modName(p string) string {
	b := filepath.Base(p)
	b = strings.TrimSuffix(b, ".ko")
	return strings.ReplaceAll(b, "-", "_")
}

// moduleDeps reads the depends= entry of a module's .modinfo section.
func moduleDeps(path string) ([]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lab: %s: %w", path, err)
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, nil
	}
	data, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			if len(v) == 0 {
				return nil, nil
			}
			return strings.Split(string(v), ","), nil
		}
	}
	return nil, nil
}
