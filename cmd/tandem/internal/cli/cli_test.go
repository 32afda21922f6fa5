package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

func testRoot(ran *string) *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	sub := &cobra.Command{Use: "sub", Args: NoArgs, RunE: func(c *cobra.Command, _ []string) error {
		*ran = fmt.Sprint(c.Flag("config").Value, " ", c.Flag("json").Value, " ", c.Flag("socket").Value)
		return nil
	}}
	sub.Flags().StringP("config", "c", "def", "")
	sub.Flags().Bool("json", false, "")
	sub.Flags().String("socket", "", "")
	fail := &cobra.Command{Use: "fail", RunE: func(*cobra.Command, []string) error { return Exit(ExitFailure) }}
	pair := &cobra.Command{Use: "pair", Args: Operands("A", "B"), RunE: func(*cobra.Command, []string) error { return nil }}
	root.AddCommand(sub, fail, pair, Wrap(&cobra.Command{Use: "own"}, ownMain(ran)))
	return root
}

// ownMain is a subcommand that parses its own flags with Go's package.
func ownMain(ran *string) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs := flag.NewFlagSet("own", flag.ContinueOnError)
		c := fs.String("c", "", "cluster file")
		undo := fs.Bool("undo", false, "undo")
		if code := ParseFlags(fs, args, stdout, stderr); code >= 0 {
			return code
		}
		*ran = fmt.Sprint("own ", *c, " ", *undo)
		return 0
	}
}

func TestGoStyle(t *testing.T) {
	root := testRoot(new(string))
	for _, tc := range []struct{ in, want string }{
		{"sub -c f --json", "sub -c f --json"},
		{"sub -config f -json", "sub --config f --json"},
		{"sub --c f -socket=/s", "sub -c f --socket=/s"},
		{"sub --socket -json -json", "sub --socket -json --json"},
		{"sub -c -json", "sub -c -json"},
		{"sub -help", "sub --help"},
		{"-version", "--version"},
		{"sub -- -json", "sub -- -json"},
		{"sub -cfile -nope", "sub -cfile -nope"},
		{"own -c f -undo", "own -c f -undo"},
	} {
		if got := strings.Join(GoStyle(root, strings.Fields(tc.in)), " "); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExecute(t *testing.T) {
	for _, tc := range []struct {
		args           string
		code           int
		ran            string
		stdout, stderr string
	}{
		{args: "sub -c f -json", ran: "f true "},
		{args: "sub --config=g --socket /s", ran: "g false /s"},
		{args: "sub --help", stdout: "--config"},
		{args: "sub extra", code: 2, stderr: `tool sub: unexpected argument "extra" (every value is given with a flag)`},
		{args: "sub --frob", code: 2, stderr: "tool sub: unknown flag: --frob\nUsage:"},
		{args: "fail", code: 1},
		{args: "pair a", code: 2, stderr: "want 2 operands (A B), got 1"},
		{args: "pair a b"},
		{args: "own -c f -undo", ran: "own f true"},
		{args: "own --c f --undo", ran: "own f true"},
		{args: "own --help", stdout: "--undo"},
		{args: "own -h", stdout: "Usage:"},
		{args: "own x", code: 2, stderr: `tandem own: unexpected argument "x"`},
		{args: "own -frob", code: 2, stderr: "flag provided but not defined: -frob"},
		{args: "nope", code: 2, stderr: `unknown command "nope"`},
	} {
		t.Run(tc.args, func(t *testing.T) {
			var ran string
			var out, errb strings.Builder
			code := Execute(testRoot(&ran), strings.Fields(tc.args), &out, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstderr: %s", code, tc.code, errb.String())
			}
			if ran != tc.ran {
				t.Errorf("ran %q, want %q", ran, tc.ran)
			}
			if !strings.Contains(out.String(), tc.stdout) || tc.stdout == "" && out.Len() > 0 {
				t.Errorf("stdout %q, want %q", out.String(), tc.stdout)
			}
			if !strings.Contains(errb.String(), tc.stderr) || tc.stderr == "" && errb.Len() > 0 {
				t.Errorf("stderr %q, want %q", errb.String(), tc.stderr)
			}
		})
	}
}

// Wrap shows the flags of a subcommand that parses its own.
func TestWrapFlags(t *testing.T) {
	root := testRoot(new(string))
	own, _, err := root.Find([]string{"own"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range []string{"c", "undo"} {
		if f := own.Flags().Lookup(n); f != nil {
			names = append(names, f.Name+":"+f.Usage)
		}
	}
	if d := cmp.Diff([]string{"c:cluster file", "undo:undo"}, names); d != "" {
		t.Error(d)
	}
}
