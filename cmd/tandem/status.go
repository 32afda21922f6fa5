package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/control"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
)

// cmdStatus prints the running daemon's state: its VRRP instances, then
// its table in ipvsadm -Ln's layout with each real server's health.
func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	socket := fs.String("socket", defaultSocket(), "the control socket of the running tandem")
	asJSON := fs.Bool("json", false, "print the status document (schema tandem/status/v1) as JSON")
	totals := fs.Bool("stats", false, "the kernel's counters (ipvsadm -L --stats)")
	rates := fs.Bool("rate", false, "the kernel's rate estimates (ipvsadm -L --rate)")
	if code := cli.ParseFlags(fs, args, stdout, stderr); code >= 0 {
		return code
	}
	if *totals && *rates {
		fmt.Fprintln(stderr, "tandem status: --stats or --rate, not both")
		return 2
	}
	ctx, cancel := requestContext()
	defer cancel()
	format, cols := "text", ""
	switch {
	case *asJSON:
		format = "json"
	case *totals:
		cols = "stats"
	case *rates:
		cols = "rate"
	}
	// The daemon renders it (the same status.Write): the answer is
	// copied as it comes.
	bw := bufio.NewWriterSize(stdout, 64<<10)
	err := control.Client{Path: *socket}.StatusTo(ctx, bw, format, cols)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "tandem status: %v\n", err)
		return 1
	}
	return 0
}

// cmdMaintain is `tandem drain|disable|enable VS RS`: an operator's
// override of one real server, kept across reloads and restarts.
func cmdMaintain(mode director.Mode, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(string(mode), flag.ContinueOnError)
	socket := fs.String("socket", defaultSocket(), "the control socket of the running tandem")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	var now *bool
	if mode == director.ModeDisable {
		now = fs.Bool("now", false, "out of the table at once, without waiting for its connections to end")
	}
	ops, code := cli.ParseOperands(fs, args, []string{"VIRTUAL-SERVER", "REAL-SERVER"},
		"VIRTUAL-SERVER: its name, ip:port, proto/ip:port or fwmark:N; REAL-SERVER: its name, ip:port or ip.", stdout, stderr)
	if code >= 0 {
		return code
	}
	req := director.MaintenanceRequest{VirtualServer: ops[0], RealServer: ops[1], Mode: mode}
	if now != nil {
		req.Now = *now
	}
	ctx, cancel := requestContext()
	defer cancel()
	res, err := control.Client{Path: *socket}.Maintain(ctx, req)
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
	if *asJSON {
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
