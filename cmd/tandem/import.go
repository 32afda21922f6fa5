package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/conf/importer"
	"github.com/tandem-lb/tandem/conf/ipvsadm"
	"github.com/tandem-lb/tandem/conf/keepalived"
)

// importCommand is `tandem import keepalived|ipvsadm`: an existing
// director's configuration as a cluster file on stdout (or -o FILE), and
// on stderr, with file:line, everything that did not carry over as it was.
func importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "turn keepalived.conf, or ipvsadm rules and lvs_nat.sh-style scripts, into a cluster file",
		Long: `import writes a cluster file equivalent to an existing director's
configuration, and lists on stderr, each with its file:line, every keyword
or line that did not carry over as it was (also left as a comment at its
place in the output). The output passes tandem check; review it before use.`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			io.WriteString(c.ErrOrStderr(), c.UsageString())
			return cli.Exit(cli.ExitUsage)
		},
	}
	var out string
	ka := &cobra.Command{
		Use:   "keepalived FILE [PEER-FILE]",
		Short: "import keepalived.conf: one director's, or both directors' into one file",
		Long: `keepalived reads keepalived.conf as keepalived does (includes, conditional
lines, $VARIABLES) and writes one cluster file. Given both directors' files,
it makes one node of each, with their priorities and unicast peers.`,
		Example: `  tandem import keepalived /etc/keepalived/keepalived.conf peer-keepalived.conf -o /etc/tandem/cluster.hcl`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("want 1 or 2 files (this director's keepalived.conf, and its peer's), got %d", len(args))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			res, err := keepalived.Import(args)
			return cli.Exit(writeImport(c, "keepalived", res, err, out))
		},
	}
	ka.Flags().StringVarP(&out, "output", "o", "", "write the cluster file here instead of stdout")
	ipv := &cobra.Command{
		Use:   "ipvsadm FILE|-",
		Short: "import ipvsadm-save / ipvsadm -Sn output, or an lvs_nat.sh-style script of ipvsadm commands",
		Example: `  ipvsadm-save -n | tandem import ipvsadm - -o cluster.hcl
  tandem import ipvsadm lvs_nat.sh`,
		Args: cli.Operands("FILE"),
		RunE: func(c *cobra.Command, args []string) error {
			name := args[0]
			var src []byte
			var err error
			if name == "-" {
				name = "<stdin>"
				src, err = io.ReadAll(io.LimitReader(c.InOrStdin(), conf.MaxFileSize+1))
			} else {
				src, err = readLimited(name)
			}
			if err != nil {
				fmt.Fprintf(c.ErrOrStderr(), "tandem import ipvsadm: %v\n", err)
				return cli.Exit(cli.ExitFailure)
			}
			res, err := ipvsadm.Import(name, src)
			return cli.Exit(writeImport(c, "ipvsadm", res, err, out))
		},
	}
	ipv.Flags().StringVarP(&out, "output", "o", "", "write the cluster file here instead of stdout")
	cmd.AddCommand(ka, ipv)
	return cmd
}

// readLimited reads a file of at most conf.MaxFileSize bytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, conf.MaxFileSize+1))
	if err == nil && len(b) > conf.MaxFileSize {
		err = fmt.Errorf("%s is larger than %d MiB", path, conf.MaxFileSize>>20)
	}
	return b, err
}

// writeImport prints the findings on stderr and the cluster file on
// stdout or to out, after checking that it loads.
func writeImport(c *cobra.Command, what string, res *importer.Result, err error, out string) int {
	stderr := c.ErrOrStderr()
	if err != nil {
		fmt.Fprintf(stderr, "tandem import %s: %v\n", what, err)
		return cli.ExitFailure
	}
	for _, f := range res.Findings {
		fmt.Fprintln(stderr, f.String())
	}
	name := out
	if name == "" {
		name = "<stdout>"
	}
	if _, diags := conf.Parse(res.HCL, name); diags.HasErrors() {
		// An importer's bug: say so, and show the file anyway.
		var b bytes.Buffer
		conf.Files{name: res.HCL}.WriteDiagnostics(&b, diags)
		fmt.Fprintf(stderr, "%standem import %s: the output does not pass tandem check (a bug: please report it with the input)\n", b.String(), what)
		c.OutOrStdout().Write(res.HCL)
		return cli.ExitFailure
	}
	if out != "" {
		if err := os.WriteFile(out, res.HCL, 0o644); err != nil {
			fmt.Fprintf(stderr, "tandem import %s: %v\n", what, err)
			return cli.ExitFailure
		}
	} else {
		c.OutOrStdout().Write(res.HCL)
	}
	fmt.Fprintf(stderr, "tandem import %s: %d finding(s); the file passes tandem check: review it, then tandem check -c FILE --node NAME on each director\n", what, len(res.Findings))
	return cli.ExitOK
}
