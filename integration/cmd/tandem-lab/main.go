// Command tandem-lab drives the real-kernel lab (see integration/lab).
//
//	tandem-lab demo             boot the VM and show the seed LVS-NAT scenario
//	tandem-lab test [-run RE]   run the VM scenarios, verbose
//	tandem-lab bench [-run RE]  run the benchmarks recorded in BENCHMARKS.md (default ^TestBench);
//	                            TANDEM_BENCH_* variables are passed to them, and
//	                            TANDEM_BENCH_ALT=<host path> puts that tandem binary in the VM as /tandem-alt
//	tandem-lab exec -- CMD...   boot the VM and run CMD (busybox sh, ipvsadm, /tandem)
//
// TANDEM_LAB_APPEND adds to the VM kernel's command line (e.g.
// preempt=full), and TANDEM_LAB_WITNESSES (comma-separated host paths)
// puts more host binaries, with their libraries, in the VM.
//
// -timeout bounds the whole run (default 30m; bench passes it on as the
// tests' -test.timeout, less a minute): the soak's long run needs more.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/tandem-lb/tandem/integration/lab"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage: tandem-lab demo | test [-run RE] | bench [-run RE] | exec -- CMD...`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	opts := lab.Options{Binaries: lab.DefaultBinaries, Console: os.Stdout, Log: os.Stderr, Append: os.Getenv("TANDEM_LAB_APPEND")}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	run := fs.String("run", "", "scenarios to run (regexp, as go test -run)")
	timeout := fs.Duration("timeout", 30*time.Minute, "bound on the whole run (bench: the tests' -test.timeout is a minute less)")
	fs.Parse(os.Args[2:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	switch os.Args[1] {
	case "demo":
		opts.Spec = lab.RunSpec{
			Argv: []string{"/scenarios.test", "-test.v", "-test.run", "^TestSeed$"},
			Env:  []string{"TANDEM_LAB_DEMO=1"},
		}
	case "test":
		opts.Spec = lab.TestSpec(*run)
	case "bench":
		re := "^TestBench"
		if *run != "" {
			re = *run
		}
		testTimeout := 20 * time.Minute
		if *timeout > 30*time.Minute {
			testTimeout = *timeout - time.Minute
		}
		opts.Spec = lab.RunSpec{
			Argv: []string{"/scenarios.test", "-test.v", "-test.run", re, "-test.timeout", testTimeout.String()},
			Env:  []string{"TANDEM_LAB_BENCH=1"},
		}
		// The benchmarks' own knobs (TANDEM_BENCH_KINDS, ..., and the
		// soak's TANDEM_SOAK) go along.
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "TANDEM_BENCH_") || strings.HasPrefix(kv, "TANDEM_SOAK") {
				opts.Spec.Env = append(opts.Spec.Env, kv)
			}
		}
		// TANDEM_BENCH_ALT: another build of tandem (a host path), which
		// TANDEM_BENCH_AB=1 runs beside this one in the same window.
		if alt := os.Getenv("TANDEM_BENCH_ALT"); alt != "" {
			opts.Files = append(opts.Files, lab.File{Name: "tandem-alt", Src: alt, Mode: 0o755})
		}
		opts.MemMB = 2048
	case "exec":
		if fs.NArg() == 0 {
			usage()
		}
		opts.Binaries = lab.DefaultBinaries[:2] // init and tandem
		opts.Spec = lab.RunSpec{Argv: fs.Args()}
	default:
		usage()
	}
	code, err := lab.Run(ctx, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}
