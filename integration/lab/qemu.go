package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// ExitMarker is printed by the VM's init, followed by the exit code of the
// command it ran, just before it powers the VM off.
const ExitMarker = "TANDEM-LAB-EXIT="

// ErrNoQemu is returned by Boot when qemu-system-x86_64 is not installed.
var ErrNoQemu = errors.New("lab: qemu-system-x86_64 not found (apt-get install qemu-system-x86)")

// VM describes one boot of the lab.
type VM struct {
	Kernel  *Kernel
	Initrd  string
	MemMB   int // default 1024
	CPUs    int // default 2
	Console io.Writer
	// Append is added to the kernel's command line, e.g. preempt=full.
	Append string
}

// Boot runs the VM until its init powers it off, copying the serial console
// (minus the exit marker) to vm.Console, and returns the exit code of the
// command the init ran. The VM uses software emulation (TCG): KVM on the
// machines this project runs on hangs.
//
// The kernel is told to trust the TSC: under TCG it finds the vCPUs' TSCs
// unsynchronised and falls back to the HPET, which the vDSO cannot read,
// so every clock_gettime becomes a system call and an emulated HPET read.
// That inflates the cost of any program that reads the clock often (the
// Go runtime does, in its scheduler) far beyond real hardware, where the
// vDSO reads the TSC.
func Boot(ctx context.Context, vm VM) (int, error) {
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return -1, ErrNoQemu
	}
	if vm.MemMB == 0 {
		vm.MemMB = 1024
	}
	if vm.CPUs == 0 {
		vm.CPUs = 2
	}
	cmd := exec.CommandContext(ctx, qemu,
		"-accel", "tcg,thread=multi", "-cpu", "max",
		"-m", strconv.Itoa(vm.MemMB), "-smp", strconv.Itoa(vm.CPUs),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-serial", "stdio", "-monitor", "none",
		"-kernel", vm.Kernel.Vmlinuz, "-initrd", vm.Initrd,
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init tsc=reliable clocksource=tsc "+vm.Append),
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return -1, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	code := -1
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if i := strings.Index(line, ExitMarker); i >= 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(line[i+len(ExitMarker):])); err == nil {
				code = n
			}
			continue
		}
		if strings.HasSuffix(line, "] reboot: Power down") {
			continue
		}
		if vm.Console != nil {
			fmt.Fprintln(vm.Console, line)
		}
	}
	werr := cmd.Wait()
	if ctx.Err() != nil {
		return -1, fmt.Errorf("lab: VM did not finish: %w", ctx.Err())
	}
	if code < 0 {
		return -1, fmt.Errorf("lab: VM stopped without an exit code (qemu: %v %s)", werr, stderr.String())
	}
	return code, nil
}
