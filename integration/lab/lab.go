// Package lab boots the project's real-kernel lab: Debian's cloud kernel
// under qemu (TCG), with an initramfs of busybox-static, the kernel modules
// IPVS needs, witnesses such as ipvsadm, and static Go binaries built from
// this module (tandem itself, the VM's init and the scenario tests).
//
// The kernel package and the base archive are cached (CacheDir) between
// runs; each run appends a small archive with fresh binaries to the base.
// Inside the VM, /init (integration/vminit) mounts the pseudo file systems,
// loads the modules listed in /etc/lab-modules, runs the command in
// /lab/run.json and powers off after printing ExitMarker and its exit code.
package lab

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Binary is a static binary the run builds from this module and puts in
// the VM.
type Binary struct {
	Pkg  string // package path relative to the module root, e.g. ./cmd/tandem
	Name string // path inside the VM, e.g. tandem (becomes /tandem)
	Test bool   // build the package's tests (go test -c) instead
}

// Options describe one lab run.
type Options struct {
	Binaries []Binary
	Files    []File
	Spec     RunSpec
	Console  io.Writer // serial console output; nil discards it
	Log      io.Writer // progress lines; nil discards them
	MemMB    int
	CPUs     int
	Append   string // added to the kernel's command line (see VM)
}

// DefaultBinaries are what the tests need: the VM's init, tandem, the
// scenario tests and the ipvs package's tests (whose kernel tests skip
// outside the VM).
var DefaultBinaries = []Binary{
	{Pkg: "./integration/vminit", Name: "init"},
	{Pkg: "./cmd/tandem", Name: "tandem"},
	{Pkg: "./integration/scenarios", Name: "scenarios.test", Test: true},
	{Pkg: "./ipvs", Name: "ipvs.test", Test: true},
}

// TestSpec runs, in the VM, the ipvs package's kernel tests and then the
// scenarios, verbose; run narrows both (a go test -run regexp, "" = all
// scenarios and ipvs's TestKernel). The exit code is non-zero if either
// failed.
func TestSpec(run string, env ...string) RunSpec {
	ipvsRun := run
	if ipvsRun == "" {
		ipvsRun = "^TestKernel"
	}
	script := `rc=0
/ipvs.test -test.v -test.run "$1" || rc=1
/scenarios.test -test.v -test.timeout 15m -test.run "$2" || rc=1
exit $rc`
	return RunSpec{Argv: []string{"/bin/sh", "-c", script, "lab", ipvsRun, run}, Env: env}
}

// Run builds everything, boots the VM and returns the exit code of the
// command in opts.Spec.
func Run(ctx context.Context, opts Options) (int, error) {
	logf := func(format string, a ...any) {
		if opts.Log != nil {
			fmt.Fprintf(opts.Log, format+"\n", a...)
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return -1, ErrNoQemu
	}
	cache := CacheDir()
	k, err := FetchKernel(cache)
	if err != nil {
		return -1, err
	}
	base, err := BaseImage(cache, k)
	if err != nil {
		return -1, err
	}
	logf("lab: kernel %s, base image %s", k.Release, filepath.Base(base))
	root, err := ModuleRoot()
	if err != nil {
		return -1, err
	}
	tmp, err := os.MkdirTemp("", "tandem-lab-")
	if err != nil {
		return -1, err
	}
	defer os.RemoveAll(tmp)
	files := append([]File(nil), opts.Files...)
	for _, b := range opts.Binaries {
		out := filepath.Join(tmp, strings.ReplaceAll(b.Name, "/", "_"))
		if err := Build(ctx, root, b, out); err != nil {
			return -1, err
		}
		files = append(files, File{Name: b.Name, Src: out, Mode: 0o755})
	}
	initrd := filepath.Join(tmp, "initrd.cpio")
	if err := Initramfs(initrd, base, opts.Spec, files); err != nil {
		return -1, err
	}
	logf("lab: booting %s under qemu (tcg)", k.Release)
	return Boot(ctx, VM{Kernel: k, Initrd: initrd, MemMB: opts.MemMB, CPUs: opts.CPUs, Console: opts.Console, Append: opts.Append})
}

// Build compiles one static binary (CGO_ENABLED=0) from the module at root.
func Build(ctx context.Context, root string, b Binary, out string) error {
	args := []string{"build", "-trimpath", "-o", out, b.Pkg}
	if b.Test {
		args = []string{"test", "-c", "-trimpath", "-o", out, b.Pkg}
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lab: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// ModuleRoot is the directory of this module's go.mod.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("lab: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("lab: not inside the tandem module (run from the repository)")
	}
	return filepath.Dir(gomod), nil
}
