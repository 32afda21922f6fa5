package manpage

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFromMarkdown(t *testing.T) {
	md := "# The thing\n\nIntro `a-b` and **bold**, a [link](https://x.example/p) and [an anchor](#nat).\n" +
		"A line from .dot and 'quote\\slash · µ.\n\n" +
		"## Syntax\n\n- one\n  continued\n- two\n\n1. first\n2. second\n\n" +
		"## `node \"NAME\"`\n\n### `garp` (in `vrrp`)\n\n" +
		"| attribute | type | default | meaning |\n|---|---|---|---|\n| `count` | number | `5` | 0..10000, `a|b`. |\n\n" +
		"| attribute | default |\n|---|---|\n| `tcp` | kernel's |\n\n" +
		"```hcl\nnode \"d1\" {\n\tpriority = -1\n}\n.x\n\n```\n"
	got := string(FromMarkdown(md, Header{Name: "tandem-x", Section: "5", About: "a test", Date: "Dec 2026", Source: "tandem", Manual: "File Formats"}))
	want := `.TH "TANDEM-X" "5" "Dec 2026" "tandem" "File Formats"
.SH NAME
tandem-x \- a test
.SH DESCRIPTION
.PP
Intro \fBa\-b\fR and \fBbold\fR, a link <\fIhttps://x.example/p\fR> and an anchor.
A line from .dot and 'quote\eslash \[u00B7] \[u00B5].
.SH
SYNTAX
.IP \(bu 2
one
continued
.IP \(bu 2
two
.IP 1. 4
first
.IP 2. 4
second
.SH
\fBnode "NAME"\fR
.SS
\fBgarp\fR (in \fBvrrp\fR)
.TP
\fBcount\fR (type number; default \fB5\fR)
0..10000, \fBa|b\fR.
.PP
.TP
\fBtcp\fR (default kernel's)
.PP
.PP
.RS 4
.nf
node "d1" {
    priority = \-1
}
\&.x
\&
.fi
.RE
`
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("roff (-want +got):\n%s", d)
	}
}

// cluster.md is conf/README.md: `go generate ./cmd/tandem/internal/manpage`
// copies it.
func TestClusterIsTheReadme(t *testing.T) {
	readme, err := os.ReadFile("../../../../conf/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readme, []byte(clusterMarkdown)) {
		t.Error("cluster.md differs from conf/README.md: run go generate ./cmd/tandem/internal/manpage")
	}
}

// tandem-cluster(5) renders without a warning, and has every section of
// the README.
func TestClusterRenders(t *testing.T) {
	page := Cluster(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "tandem v1.0.0")
	for _, l := range strings.Split(clusterMarkdown, "\n") {
		if strings.HasPrefix(l, "## ") && !strings.Contains(l, "`") {
			if h := strings.ToUpper(strings.TrimPrefix(l, "## ")); !bytes.Contains(page, []byte("\n"+h+"\n")) {
				t.Errorf("no section %q", h)
			}
		}
	}
	if _, err := exec.LookPath("groff"); err != nil {
		t.Fatal("groff not found: run scripts/setup (it installs groff-base)")
	}
	cmd := exec.Command("groff", "-man", "-ww", "-z")
	cmd.Stdin = bytes.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff -man -ww -z: %v\n%s", err, out)
	}
	cmd = exec.Command("groff", "-man", "-Tutf8", "-rLL=80n")
	cmd.Stdin = bytes.NewReader(page)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"tandem-cluster - the tandem cluster file", "SYNTAX", "track_virtual_servers", "conn_sync (in director)"} {
		if !strings.Contains(stripOverstrike(string(out)), s) {
			t.Errorf("rendered page lacks %q", s)
		}
	}
}

// stripOverstrike removes grotty's bold and underline (x\bx, _\bx).
func stripOverstrike(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i := 0; i < len(r); i++ {
		if i+1 < len(r) && r[i+1] == '\b' {
			i++
			continue
		}
		b.WriteRune(r[i])
	}
	return b.String()
}
