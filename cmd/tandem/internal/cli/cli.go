// Package cli holds what tandem's subcommands share in parsing their
// command lines: the conventions of the cobra command tree (exit
// statuses, help on stdout, usage errors on stderr, Go's single-dash long
// flags), and ParseFlags for the subcommands that parse their own command
// line with Go's flag package (tandem realserver), which Wrap puts in the
// tree.
//
// # Exit status
//
// 0 for success (and for --help), 1 for a runtime error or an invalid
// file, 2 for a usage error: an unknown command or flag, a bad flag value,
// wrong operands.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1 // a runtime error or an invalid file
	ExitUsage   = 2 // a bad flag, wrong operands
)

// ExitStatus documents the exit statuses, for help and man pages.
const ExitStatus = `Exit status: 0 success; 1 a runtime error or an invalid cluster file;
2 a usage error (an unknown command or flag, a bad flag value, wrong operands).`

// exitError carries a subcommand's exit status out of cobra's Execute:
// the subcommand has already said why.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Exit returns what a RunE returns to make Execute exit with code: nil
// for 0.
func Exit(code int) error {
	if code == ExitOK {
		return nil
	}
	return exitError(code)
}

// Execute runs root with args and returns the exit status. Help goes to
// stdout; a usage error is printed to stderr with the command's usage,
// and is status 2. Go-style single-dash long flags (-node, -json) are
// read as their double-dash forms.
func Execute(root *cobra.Command, args []string, stdout, stderr io.Writer) int {
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(GoStyle(root, args))
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return err // reported below, with the command's usage
	})
	cmd, err := root.ExecuteC()
	if err == nil {
		return ExitOK
	}
	var e exitError
	if errors.As(err, &e) {
		return int(e)
	}
	// Anything else comes from cobra before the command ran: an
	// unknown command or flag, a bad value, wrong operands.
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "%s: %v\n", cmd.CommandPath(), err)
	fmt.Fprint(stderr, cmd.UsageString())
	return ExitUsage
}

// NoArgs is the cobra.PositionalArgs of a subcommand that takes no
// operands: every value is given with a flag.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q (every value is given with a flag)", args[0])
	}
	return nil
}

// Operands is the cobra.PositionalArgs of a subcommand that takes exactly
// the named operands, between or after its flags: `tandem disable web rs1
// --now` as well as `tandem disable --now web rs1`.
func Operands(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return fmt.Errorf("want %d operands (%s), got %d", len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// GoStyle rewrites the long flags that Go's flag package accepts and
// pflag does not: -name (one dash) becomes --name, and --c (two dashes
// before a one-letter shorthand) becomes -c. It touches only the flags of
// the command args select, leaves flag values and everything after "--"
// alone, and leaves a command that parses its own flags (Wrap) as it is.
func GoStyle(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil || cmd.DisableFlagParsing {
		cmd = root
		if root.DisableFlagParsing {
			return args
		}
	}
	lookup := func(name string) *pflag.Flag {
		if f := cmd.Flags().Lookup(name); f != nil {
			return f
		}
		return cmd.InheritedFlags().Lookup(name)
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) < 2 || a[0] != '-' {
			out = append(out, a)
			continue
		}
		double := strings.HasPrefix(a, "--")
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f *pflag.Flag
		switch {
		case !double && len(name) == 1:
			f = cmd.Flags().ShorthandLookup(name)
			if f == nil {
				f = cmd.InheritedFlags().ShorthandLookup(name)
			}
		case !double && (name == "help" || name == "version"):
			a = "-" + a // added by cobra at Execute, so not yet defined
		case !double:
			if f = lookup(name); f != nil {
				a = "-" + a
			}
		case len(name) == 1 && lookup(name) == nil:
			if f = cmd.Flags().ShorthandLookup(name); f == nil {
				f = cmd.InheritedFlags().ShorthandLookup(name)
			}
			if f != nil {
				a = a[1:]
			}
		default:
			f = lookup(name)
		}
		out = append(out, a)
		// The next word is this flag's value, whatever it looks like.
		if f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out
}

// ParseFlags parses the flags of a subcommand that parses its own command
// line (see Wrap). It returns -1 when the command should go on, or the
// exit status: 0 after --help (the usage went to stdout), 2 for a bad
// flag or a trailing argument (flags take every value; no such subcommand
// takes operands). A subcommand calls it before doing anything: Wrap
// calls the subcommand once, with a stdout of its own, to learn its flags.
func ParseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	if d, ok := stdout.(*describer); ok {
		d.fs = fs
		return ExitOK
	}
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
		return ExitOK
	case err != nil:
		return ExitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "tandem %s: unexpected argument %q (every value is given with a flag)\n", fs.Name(), fs.Arg(0))
		fs.Usage()
		return ExitUsage
	}
	return -1
}

// describer is the stdout with which Wrap asks a subcommand for its
// flags: ParseFlags hands the flag set over instead of parsing.
type describer struct {
	fs *flag.FlagSet
}

func (*describer) Write(p []byte) (int, error) { return len(p), nil }

// Wrap puts in the tree a subcommand that parses its own command line
// with Go's flag package through ParseFlags: cobra passes it the
// arguments as they are (so -c FILE, -name and --name all keep working),
// and its flags are those of cmd for help, completion and man pages.
// --help prints the same help as every other subcommand.
func Wrap(cmd *cobra.Command, main func(args []string, stdout, stderr io.Writer) int) *cobra.Command {
	d := &describer{}
	main(nil, d, io.Discard)
	if d.fs != nil {
		cmd.Flags().AddGoFlagSet(d.fs)
	}
	cmd.DisableFlagParsing = true
	cmd.RunE = func(c *cobra.Command, args []string) error {
		for _, a := range args {
			if a == "--" {
				break
			}
			if a == "-h" || a == "-help" || a == "--help" {
				return c.Help()
			}
		}
		return Exit(main(args, c.OutOrStdout(), c.ErrOrStderr()))
	}
	return cmd
}
