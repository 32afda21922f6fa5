package director

import (
	"bufio"
	"os"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// written is in the binary's writable data: dropExecutablePages must
// leave it (and every page the process has written) alone.
var written = []string{"before"}

func rssFileKB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

func TestDropExecutablePages(t *testing.T) {
	written[0] = "after"
	before := rssFileKB(t)
	n, err := dropExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKB(t)
	t.Logf("advised %d kB of the executable; RssFile %d → %d kB", n>>10, before, after)
	if n == 0 {
		t.Fatal("no read-only mapping of the executable found")
	}
	if after >= before {
		t.Errorf("RssFile %d kB after, %d kB before: want fewer pages mapped", after, before)
	}
	if written[0] != "after" {
		t.Errorf("a written variable reads %q after, want %q", written[0], "after")
	}
	// The code still runs (its pages come back by minor faults), and so
	// do calls into libc, through the dynamic loader's relocations (a
	// read-only mapping written before it was made so: dropped, they
	// would jump to 0).
	if got := strings.Repeat("ab", 2); got != "abab" {
		t.Errorf("got %q", got)
	}
	if _, err := user.Current(); err != nil {
		t.Errorf("user.Current after the drop: %v", err)
	}
}
