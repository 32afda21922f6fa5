package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/manpage"
)

func manCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "man DIR",
		Short: "write the man pages into DIR: tandem(1), one per subcommand, tandem-cluster(5)",
		Long: `man writes tandem's man pages into DIR (created if need be): tandem.1,
tandem-SUBCOMMAND.1 for every subcommand, and tandem-cluster.5, the cluster
file's reference (conf/README.md). They are dated by the commit the binary
was built from (else SOURCE_DATE_EPOCH, else today), so that a build's
pages are reproducible. A package installs them, e.g. DIR/*.1 under
/usr/share/man/man1 and DIR/*.5 under /usr/share/man/man5.`,
		Example: `  tandem man /tmp/man && man -l /tmp/man/tandem-cluster.5`,
		Args:    cli.Operands("DIR"),
		RunE: func(c *cobra.Command, args []string) error {
			// The socket's default is named after the network namespace the
			// command runs in; a page documents the host's.
			var canonical func(*cobra.Command)
			canonical = func(cmd *cobra.Command) {
				if f := cmd.Flags().Lookup("socket"); f != nil {
					f.DefValue = "/run/tandem/tandem.sock"
				}
				for _, sub := range cmd.Commands() {
					canonical(sub)
				}
			}
			canonical(c.Root())
			names, err := manpage.Write(c.Root(), args[0], manDate(), manSource())
			if err != nil {
				fmt.Fprintf(c.ErrOrStderr(), "tandem man: %v\n", err)
				return cli.Exit(cli.ExitFailure)
			}
			for _, n := range names {
				fmt.Fprintln(c.OutOrStdout(), n)
			}
			return nil
		},
	}
}

// manDate is the man pages' date: the commit's, else SOURCE_DATE_EPOCH's,
// else now.
func manDate() time.Time {
	if t, err := time.Parse(time.RFC3339, readBuild().Time); err == nil {
		return t.UTC()
	}
	if s, ok := lookupEnvInt("SOURCE_DATE_EPOCH"); ok {
		return time.Unix(s, 0).UTC()
	}
	return time.Now().UTC()
}

// manSource is the pages' footer: tandem and its version, unless that is
// a long pseudo-version, which would overprint the date.
func manSource() string {
	if v := readBuild().Version; len(v) <= 20 {
		return "tandem " + v
	}
	return "tandem"
}
