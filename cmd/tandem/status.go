package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/control"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
)

func statusCommand() *cobra.Command {
	var socket string
	var asJSON, totals, rates bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "the running daemon's VRRP state and table with each real server's health",
		Long: `status prints the running daemon's state: its VRRP instances, then its
table in ipvsadm -Ln's layout with each real server's health.`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Exit(cmdStatus(socket, asJSON, totals, rates, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", defaultSocket(), "the control socket of the running tandem")
	fs.BoolVar(&asJSON, "json", false, "print the status document (schema tandem/status/v1) as JSON")
	fs.BoolVar(&totals, "stats", false, "the kernel's counters (ipvsadm -L --stats)")
	fs.BoolVar(&rates, "rate", false, "the kernel's rate estimates (ipvsadm -L --rate)")
	return cmd
}

// cmdStatus prints the running daemon's state: its VRRP instances, then
// its table in ipvsadm -Ln's layout with each real server's health.
func cmdStatus(socket string, asJSON, totals, rates bool, stdout, stderr io.Writer) int {
	if totals && rates {
		fmt.Fprintln(stderr, "tandem status: --stats or --rate, not both")
		return 2
	}
	ctx, cancel := requestContext()
	defer cancel()
	format, cols := "text", ""
	switch {
	case asJSON:
		format = "json"
	case totals:
		cols = "stats"
	case rates:
		cols = "rate"
	}
	// The daemon renders it (the same status.Write): the answer is
	// copied as it comes.
	bw := bufio.NewWriterSize(stdout, 64<<10)
	err := control.Client{Path: socket}.StatusTo(ctx, bw, format, cols)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "tandem status: %v\n", err)
		return 1
	}
	return 0
}

func maintainCommand(mode director.Mode, short string) *cobra.Command {
	var socket string
	var asJSON, now bool
	cmd := &cobra.Command{
		Use:   string(mode) + " [flags] VIRTUAL-SERVER REAL-SERVER",
		Short: short,
		Long: short + `: an operator's override of one real server, kept across
reloads and restarts of tandem run (tandem enable drops it).
VIRTUAL-SERVER: its name, ip:port, proto/ip:port or fwmark:N; REAL-SERVER:
its name, ip:port or ip.`,
		Example: "  tandem " + string(mode) + " web rs2",
		Args:    cli.Operands("VIRTUAL-SERVER", "REAL-SERVER"),
		RunE: func(c *cobra.Command, ops []string) error {
			return cli.Exit(cmdMaintain(mode, ops[0], ops[1], socket, asJSON, now, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", defaultSocket(), "the control socket of the running tandem")
	fs.BoolVar(&asJSON, "json", false, "print the answer as JSON")
	if mode == director.ModeDisable {
		fs.BoolVar(&now, "now", false, "out of the table at once, without waiting for its connections to end")
	}
	return cmd
}

// cmdMaintain is `tandem drain|disable|enable VS RS`: an operator's
// override of one real server, kept across reloads and restarts.
func cmdMaintain(mode director.Mode, vs, rs, socket string, asJSON, now bool, stdout, stderr io.Writer) int {
	req := director.MaintenanceRequest{VirtualServer: vs, RealServer: rs, Mode: mode, Now: now}
	ctx, cancel := requestContext()
	defer cancel()
	res, err := control.Client{Path: socket}.Maintain(ctx, req)
	if err == nil && res.Error != "" {
		err = errors.New(res.Error)
	}
	if err == nil && res.Maintenance == nil {
		err = errors.New("the daemon sent no answer")
	}
	if err != nil {
		fmt.Fprintf(stderr, "tandem %s: %v\n", mode, err)
		return 1
	}
	m := res.Maintenance
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(m)
		return 0
	}
	weight := "out of the table"
	if m.Weight >= 0 {
		weight = fmt.Sprintf("weight %d", m.Weight)
	}
	verb := string(m.Mode) + "d"
	if m.Mode == director.ModeDrain {
		verb = "draining"
	}
	if !m.Changed {
		verb = "unchanged"
	}
	fmt.Fprintf(stdout, "%s %s (%s) in %s: %s, now %s; %s\n", verb, m.RealServer, m.Address, m.VirtualServer, m.Mode, weight, m.Note)
	return 0
}

func drainNodeCommand() *cobra.Command {
	var socket string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "drain-node",
		Short: "BGP: withdraw this director's routes, let the router move its flows, then stop tandem run",
		Long: `drain-node is the planned way out of a BGP cluster (a bgp block): the
running tandem withdraws its routes from every peer, waits until the
withdrawals are sent and then the file's drain_timeout, answers, and
stops (exit 0: systemd does not restart it). The IPVS table, the
addresses and the sync daemons stay, so the flows the router moved to
the other directors go on there. Start tandem again to rejoin.`,
		Example: "  tandem drain-node",
		Args:    cli.Operands(),
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Exit(cmdDrainNode(socket, asJSON, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&socket, "socket", defaultSocket(), "the control socket of the running tandem")
	fs.BoolVar(&asJSON, "json", false, "print the answer as JSON")
	return cmd
}

func cmdDrainNode(socket string, asJSON bool, stdout, stderr io.Writer) int {
	ctx, cancel := requestContext()
	defer cancel()
	res, err := control.Client{Path: socket}.DrainNode(ctx)
	if err == nil && res.Error != "" {
		err = errors.New(res.Error)
	}
	if err == nil && res.Drain == nil {
		err = errors.New("the daemon sent no answer")
	}
	if err != nil {
		fmt.Fprintf(stderr, "tandem drain-node: %v\n", err)
		return 1
	}
	dr := res.Drain
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(dr)
		return 0
	}
	addrs := make([]string, len(dr.Withdrawn))
	for i, a := range dr.Withdrawn {
		addrs[i] = a.String()
	}
	fmt.Fprintf(stdout, "withdrew %d routes (%s) from %d peers; sent in %s, then waited %s; tandem run stops\n",
		len(dr.Withdrawn), strings.Join(addrs, ", "), dr.Peers, dr.Sent.Round(time.Millisecond), dr.Waited)
	if dr.Error != "" {
		fmt.Fprintf(stderr, "tandem drain-node: warning: %s\n", dr.Error)
	}
	return 0
}
