package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/tandem-lb/tandem/conf"
)

// cmdCheck validates a cluster file: every diagnostic is printed with its
// file:line:col, and any error makes the exit status 1.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "/etc/tandem/cluster.hcl", "cluster file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c, files, diags := conf.Load(*path)
	if len(diags) > 0 {
		files.WriteDiagnostics(stderr, diags)
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "%s: %d error(s)\n", *path, len(diags.Errs()))
		return 1
	}
	rs := 0
	for _, vs := range c.VirtualServers {
		rs += len(vs.RealServers)
	}
	fmt.Fprintf(stdout, "%s: ok (%d nodes, %d vrrp instances, %d virtual servers, %d real servers)\n",
		*path, len(c.Nodes), len(c.VRRP), len(c.VirtualServers), rs)
	return 0
}
