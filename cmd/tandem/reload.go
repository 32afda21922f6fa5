package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/control"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/ipvs"
)

// requestTimeout bounds a request to the daemon: a reload of the largest
// file takes seconds.
const requestTimeout = 2 * time.Minute

func reloadCommand() *cobra.Command {
	var socket string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "reload the running daemon's file and print what changed",
		Long: `reload is SIGHUP with an answer: the running tandem run reloads its file
and this prints what changed, or the file's diagnostics and exits 1 (the
daemon keeps its running config).`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Exit(cmdReload(socket, asJSON, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", defaultSocket(), "the control socket of the running tandem")
	fs.BoolVar(&asJSON, "json", false, "print the answer as JSON")
	return cmd
}

// cmdReload is SIGHUP with an answer: the running daemon reloads its
// file and this prints what changed, or the file's diagnostics and exits
// 1 (the daemon keeps its running config).
func cmdReload(socket string, asJSON bool, stdout, stderr io.Writer) int {
	ctx, cancel := requestContext()
	defer cancel()
	res, err := control.Client{Path: socket}.Reload(ctx)
	return answer("reload", res, err, asJSON, stdout, stderr)
}

func planCommand() *cobra.Command {
	var path, socket, node string
	var kernel, asJSON bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "print what a reload with the file would change, applying nothing",
		Long: `plan prints what a reload with a file would change, applying nothing:
against the running daemon (over its control socket), or with --kernel,
with no daemon, against this host's IPVS table as tandem run would start on
it.`,
		Example: `  tandem plan -c /etc/tandem/cluster.hcl
  tandem plan --kernel -c /etc/tandem/cluster.hcl --node director1`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Exit(cmdPlan(path, socket, node, kernel, asJSON, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&path, "config", "c", defaultConfig, "the cluster file to plan")
	fs.StringVar(&socket, "socket", defaultSocket(), "the control socket of the running tandem")
	fs.BoolVar(&kernel, "kernel", false, "no daemon: plan a start against this host's kernel table")
	fs.StringVar(&node, "node", "", "with --kernel: this director's node name (default: the node whose hostname matches)")
	fs.BoolVar(&asJSON, "json", false, "print the plan as JSON")
	cmd.RegisterFlagCompletionFunc("config", hclFiles)
	return cmd
}

// cmdPlan prints what a reload with a file would change, applying
// nothing: against the running daemon, or with kernel against the
// kernel's table as `tandem run` would start on it.
func cmdPlan(path, socket, node string, kernel, asJSON bool, stdout, stderr io.Writer) int {
	if node != "" && !kernel {
		fmt.Fprintln(stderr, "tandem plan: --node is for --kernel (the daemon plans for its own node)")
		return 2
	}
	if kernel {
		return planOffline(path, node, asJSON, stdout, stderr)
	}
	ctx, cancel := requestContext()
	defer cancel()
	res, err := control.Client{Path: socket}.Plan(ctx, path)
	if errors.Is(err, control.ErrNoDaemon) {
		err = fmt.Errorf("%w\nHint: with no tandem running, `tandem plan --kernel -c %s` plans against the kernel's table", err, path)
	}
	return answer("plan", res, err, asJSON, stdout, stderr)
}

func requestContext() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	return ctx, func() { cancel(); stop() }
}

// answer prints the daemon's answer: the plan, or the error with the
// file's diagnostics.
func answer(cmd string, res *control.Response, err error, asJSON bool, stdout, stderr io.Writer) int {
	if err != nil {
		fmt.Fprintf(stderr, "tandem %s: %v\n", cmd, err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
		if res.Error != "" {
			return 1
		}
		return 0
	}
	if res.Error != "" {
		io.WriteString(stderr, res.Diagnostics)
		fmt.Fprintf(stderr, "tandem %s: %s\n", cmd, res.Error)
		if cmd == "reload" {
			fmt.Fprintln(stderr, "tandem reload: nothing changed: the running config is kept")
		}
		return 1
	}
	printPlan(stdout, cmd, res.Plan, res.Timing)
	return 0
}

func printPlan(w io.Writer, cmd string, p *director.Plan, t *director.Timing) {
	switch cmd {
	case "reload":
		fmt.Fprintf(w, "reloaded %s:\n", p.File)
	default:
		fmt.Fprintf(w, "plan for %s:\n", p.File)
	}
	p.Write(w)
	if t != nil {
		fmt.Fprintf(w, "took: load %v, plan %v, apply %v\n", t.Load.Round(time.Microsecond),
			t.Plan.Round(time.Microsecond), t.Apply.Round(time.Microsecond))
	}
}

// planOffline plans a start on this host's kernel table, with no daemon.
func planOffline(path, nodeName string, asJSON bool, stdout, stderr io.Writer) int {
	ld := &loader{nodeName: nodeName}
	c, n, err := ld.load(path)
	if err != nil {
		var le *director.LoadError
		if errors.As(err, &le) && le.Diags != nil {
			le.Files.WriteDiagnostics(stderr, le.Diags)
			fmt.Fprintf(stderr, "%s: %d error(s)\n", path, len(le.Diags.Errs()))
		} else {
			fmt.Fprintf(stderr, "tandem plan: %v\n", err)
		}
		return 1
	}
	kernel, err := dumpKernel()
	if err != nil {
		fmt.Fprintf(stderr, "tandem plan: reading the kernel's IPVS table: %v\n", err)
		return 1
	}
	p := director.OfflinePlan(c, n, path, kernel)
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(control.Response{Plan: p})
		return 0
	}
	printPlan(stdout, "plan", p, nil)
	return 0
}

// dumpKernel reads this network namespace's IPVS table.
func dumpKernel() (ipvs.Table, error) {
	rec, err := ipvs.Open("")
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return rec.Dump(ctx)
}
