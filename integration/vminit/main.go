// Command vminit is the /init of the lab VM (see integration/lab). It
// mounts the pseudo file systems, brings up loopback, loads the kernel
// modules listed in /etc/lab-modules in order, runs the command described
// by /lab/run.json with its output on the console, prints the exit marker
// with the command's exit code and powers the VM off.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandem-lb/tandem/integration/lab"
)

func main() {
	code := run()
	fmt.Printf("\n%s%d\n", lab.ExitMarker, code)
	unix.Sync()
	// Give the serial console a moment to drain before the power goes.
	time.Sleep(50 * time.Millisecond)
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func run() int {
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"},
		{"tmpfs", "/run", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Printf("vminit: mount %s: %v\n", m.dst, err)
			return 120
		}
	}
	os.MkdirAll("/run/netns", 0o755)
	os.Setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
	os.Setenv("HOME", "/")
	if err := loadModules("/etc/lab-modules"); err != nil {
		fmt.Printf("vminit: %v\n", err)
		return 121
	}
	if lo, err := netlink.LinkByName("lo"); err == nil {
		netlink.LinkSetUp(lo)
	}
	b, err := os.ReadFile("/lab/run.json")
	if err != nil {
		fmt.Printf("vminit: %v\n", err)
		return 122
	}
	var spec lab.RunSpec
	if err := json.Unmarshal(b, &spec); err != nil || len(spec.Argv) == 0 {
		fmt.Printf("vminit: bad /lab/run.json: %v\n", err)
		return 122
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env = append(append(os.Environ(), "TANDEM_LAB_VM=1"), spec.Env...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
	cmd.Dir = "/tmp"
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Printf("vminit: %v\n", err)
		return 123
	}
	return 0
}

func loadModules(list string) error {
	b, err := os.ReadFile(list)
	if err != nil {
		return err
	}
	for _, p := range strings.Fields(string(b)) {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load %s: %w", p, err)
		}
	}
	return nil
}
