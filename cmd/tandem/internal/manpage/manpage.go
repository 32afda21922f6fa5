// Package manpage writes tandem's man pages: tandem(1) and one page per
// subcommand from the cobra command tree (through cobra/doc), and
// tandem-cluster(5), the cluster file's reference, converted from
// conf/README.md by FromMarkdown, so that the page says what the README
// says.
//
// cluster.md is conf/README.md, copied by go generate (embed cannot reach
// outside the package); a test fails when the two differ.
package manpage

//go:generate cp ../../../../conf/README.md cluster.md

import (
	_ "embed"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

//go:embed cluster.md
var clusterMarkdown string

// Cluster returns tandem-cluster(5).
func Cluster(date time.Time, source string) []byte {
	return FromMarkdown(clusterMarkdown, Header{
		Name:    "tandem-cluster",
		Section: "5",
		About:   "the tandem cluster file (/etc/tandem/cluster.hcl)",
		Date:    date.Format("Jan 2006"),
		Source:  source,
		Manual:  "File Formats",
	})
}

// Write writes the man pages of the command tree root (root.1 and
// root-SUBCOMMAND.1 for each available subcommand) and tandem-cluster.5
// into dir, which it creates, and returns their names. date is the pages'
// date (give a fixed one, the commit's, for reproducible pages); source
// names the version.
func Write(root *cobra.Command, dir string, date time.Time, source string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	h := &doc.GenManHeader{Section: "1", Date: &date, Source: source, Manual: "tandem manual"}
	if err := doc.GenManTree(root, h, dir); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tandem-cluster.5"), Cluster(date, source), 0o644); err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, root.Name()+"*.[15]"))
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	sort.Strings(names)
	return names, err
}
