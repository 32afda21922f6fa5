package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
)

// version is set at link time (-ldflags "-X main.version=..."); otherwise
// the module's build info is used.
var version = ""

// build is what the binary knows of its build: from -ldflags and
// runtime/debug.ReadBuildInfo, which `go build` stamps with the module
// version and the VCS state (-buildvcs, on by default in a checkout).
type build struct {
	Version  string // the module version, or -X main.version
	Revision string // vcs.revision: the commit
	Time     string // vcs.time: the commit's time, the build's date (reproducible)
	Modified bool   // vcs.modified: built from a tree with uncommitted changes
	Go       string // the toolchain
}

func readBuild() build {
	b := build{Version: "(unknown)", Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		b = buildOf(bi)
	}
	if version != "" {
		b.Version = version
	}
	return b
}

func buildOf(bi *debug.BuildInfo) build {
	b := build{Version: bi.Main.Version, Go: bi.GoVersion}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionString is the one-line version that status, the metrics'
// build_info and the log show: the version, the commit's first 12 digits,
// the toolchain.
func versionString() string {
	b := readBuild()
	return b.short()
}

func (b build) short() string {
	v := b.Version
	if len(b.Revision) >= 12 {
		v += " " + b.Revision[:12]
	}
	return v + " " + b.Go
}

// versionText is what `tandem version` and `tandem --version` print.
func versionText() string { return readBuild().text() }

func (b build) text() string {
	var s strings.Builder
	fmt.Fprintf(&s, "tandem %s\n", b.Version)
	if b.Revision != "" {
		mod := ""
		if b.Modified {
			mod = " (modified)"
		}
		fmt.Fprintf(&s, "commit: %s%s\n", b.Revision, mod)
	}
	if b.Time != "" {
		fmt.Fprintf(&s, "date:   %s\n", b.Time)
	}
	fmt.Fprintf(&s, "go:     %s %s/%s\n", b.Go, runtime.GOOS, runtime.GOARCH)
	return s.String()
}

func versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, the commit it was built from, its date and the Go version",
		Long: `version prints tandem's version (the module version, or the one set at link
time), the VCS commit it was built from (with "(modified)" if the tree had
uncommitted changes), that commit's date, which is the build's (builds are
reproducible), and the Go toolchain.`,
		Args: cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if _, err := fmt.Fprint(c.OutOrStdout(), versionText()); err != nil {
				return cli.Exit(cli.ExitFailure)
			}
			return nil
		},
	}
}

// lookupEnvInt returns the integer value of an environment variable.
func lookupEnvInt(name string) (int64, bool) {
	n, err := strconv.ParseInt(os.Getenv(name), 10, 64)
	return n, err == nil
}
