// Package cli holds what tandem's subcommands share in parsing their
// command lines.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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

// ParseOperands parses a subcommand that takes operands (named in
// operands, for the usage) between or after its flags: `tandem disable
// web rs1 --now` as well as `tandem disable --now web rs1`. It returns
// the operands, and the exit status as ParseFlags does; a wrong number
// of operands is status 2.
func ParseOperands(fs *flag.FlagSet, args []string, operands []string, about string, stdout, stderr io.Writer) ([]string, int) {
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: tandem %s [flags]", fs.Name())
		for _, o := range operands {
			fmt.Fprintf(fs.Output(), " %s", o)
		}
		fmt.Fprintf(fs.Output(), "\n%s\n", about)
		fs.PrintDefaults()
	}
	var got []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, 0
		case err != nil:
			return nil, 2
		}
		if fs.NArg() == 0 {
			break
		}
		got = append(got, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(got) != len(operands) {
		fmt.Fprintf(stderr, "tandem %s: want %d operands (%s), got %d\n", fs.Name(), len(operands), strings.Join(operands, " "), len(got))
		fs.Usage()
		return nil, 2
	}
	return got, -1
}
