package integration

import (
	"bufio"
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/lab"
)

var resultRe = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([^)]*)\)`)

// TestLab runs the VM scenarios (integration/scenarios) in the lab VM and
// reports each one here. TANDEM_LAB_RUN narrows them (a go test -run
// regexp).
func TestLab(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the lab VM takes a minute")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	var console strings.Builder
	code, err := lab.Run(ctx, lab.Options{
		Binaries: lab.DefaultBinaries,
		Spec:     lab.TestSpec(os.Getenv("TANDEM_LAB_RUN")),
		Console:  &console,
		Log:      testWriter{t},
	})
	if errors.Is(err, lab.ErrNoQemu) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("%v\nconsole:\n%s", err, console.String())
	}

	// Split the console by top-level test and replay each as a subtest.
	type result struct {
		name, verdict string
		log           []string
	}
	var results []*result
	var cur *result
	sc := bufio.NewScanner(strings.NewReader(console.String()))
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "=== RUN   "); ok && !strings.Contains(name, "/") {
			cur = &result{name: name}
			results = append(results, cur)
			continue
		}
		if m := resultRe.FindStringSubmatch(line); m != nil && cur != nil && m[2] == cur.name {
			cur.verdict = m[1]
			cur.log = append(cur.log, line)
			cur = nil
			continue
		}
		if cur != nil {
			cur.log = append(cur.log, line)
		}
	}
	if len(results) == 0 {
		t.Fatalf("no scenario ran in the VM (exit %d):\n%s", code, console.String())
	}
	passed := 0
	for _, r := range results {
		t.Run(r.name, func(t *testing.T) {
			switch r.verdict {
			case "PASS":
				passed++
				t.Log(strings.Join(r.log, "\n"))
			case "SKIP":
				t.Skip(strings.Join(r.log, "\n"))
			default:
				t.Errorf("in the VM:\n%s", strings.Join(r.log, "\n"))
			}
		})
	}
	if code != 0 && !t.Failed() {
		t.Errorf("scenarios exited %d:\n%s", code, console.String())
	}
	t.Logf("%d scenarios passed in the lab VM", passed)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
