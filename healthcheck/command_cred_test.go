//go:build unix

package healthcheck

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestCommandRunAs: a command check runs as Spec.RunAs's user, read at
// each probe (a reload's change applies to the next one); nil runs it as
// this process. The ID does not depend on it.
func TestCommandRunAs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running as another user needs root")
	}
	cred := &Credential{UID: 65534, GID: 65534}
	argv := []string{"/bin/sh", "-c", `test "$(id -u):$(id -g):$(id -G)" = 65534:65534:65534 || { id >&2; exit 1; }`}
	s := Spec{Kind: KindCommand, Command: argv, Timeout: 5 * time.Second, RunAs: func() *Credential { return cred }}
	c := mustChecker(t, s)
	if err := probe(t, c, 5*time.Second); err != nil {
		t.Errorf("as nobody: %v", err)
	}
	cred = nil // as this process (root): the test fails
	if err := probe(t, c, 5*time.Second); err == nil || !strings.Contains(err.Error(), "uid=0") {
		t.Errorf("as root: %v", err)
	}
	if s.ID() != (Spec{Kind: KindCommand, Command: argv, Timeout: 5 * time.Second}).ID() {
		t.Error("RunAs changes the ID")
	}
}
