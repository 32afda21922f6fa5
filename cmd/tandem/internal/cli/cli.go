// Package cli holds what tandem's subcommands share in parsing their
// command lines.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// ParseFlags parses a subcommand's flags. It returns -1 when the command
// should go on, or the exit status: 0 after --help (the usage went to
// stdout), 2 for a bad flag or a trailing argument (flags take every
// value; no subcommand takes operands).
func ParseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage of tandem %s:\n", fs.Name())
		fs.PrintDefaults()
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	case err != nil:
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "tandem %s: unexpected argument %q (every value is given with a flag)\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return 2
	}
	return -1
}
