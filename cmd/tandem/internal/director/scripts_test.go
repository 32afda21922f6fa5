package director

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
)

func scriptsConf(t *testing.T, scripts, prog string) *conf.Cluster {
	t.Helper()
	c, diags := conf.Parse([]byte(scripts+`
node "d" {}
track_script "chk" { command = ["`+prog+`"] }
`), "s.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return c
}

// TestScriptUser: the scripts block's user resolves to its uid, primary
// gid (or the group's) and groups; an unknown one is an error at its
// place in the file; none runs the scripts as tandem itself. runScript
// runs them as that user, without a shell.
func TestScriptUser(t *testing.T) {
	if cred, err := ScriptUser(scriptsConf(t, "", "/bin/true")); cred != nil || err != nil {
		t.Errorf("no user: %+v %v", cred, err)
	}
	cred, err := ScriptUser(scriptsConf(t, `scripts { user = "nobody" }`, "/bin/true"))
	if err != nil || cred.UID != 65534 || cred.GID != 65534 {
		t.Errorf("nobody: %+v %v", cred, err)
	}
	cred, err = ScriptUser(scriptsConf(t, "scripts {\n  user = \"nobody\"\n  group = \"4242\"\n}", "/bin/true"))
	if err != nil || cred.UID != 65534 || cred.GID != 4242 {
		t.Errorf("nobody, group 4242: %+v %v", cred, err)
	}
	_, err = ScriptUser(scriptsConf(t, `scripts { user = "no-such-user-tandem" }`, "/bin/true"))
	if err == nil || !strings.Contains(err.Error(), `s.hcl:1:18: scripts user "no-such-user-tandem": no such user. Hint: create it`) {
		t.Errorf("unknown user: %v", err)
	}
	err = CheckScripts(scriptsConf(t, "", "/no/such/program"))
	if err == nil || !strings.Contains(err.Error(), `s.hcl:3:32: track_script "chk": program /no/such/program does not exist`) {
		t.Errorf("missing program: %v", err)
	}
	if os.Geteuid() != 0 {
		return
	}
	out := filepath.Join(t.TempDir(), "out")
	d := &Director{log: slog.New(slog.DiscardHandler)}
	d.setScripts(scriptsConf(t, `scripts { user = "nobody" }`, "/bin/true"))
	// An argument is an argument: no shell evaluates it.
	if err := d.runScript(context.Background(), []string{"/bin/echo", "$(touch " + out + ")"}); err != nil {
		t.Errorf("echo: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("an argument was evaluated by a shell")
	}
	if err := d.runScript(context.Background(), []string{"/bin/sh", "-c", `test "$(id -u)" = 65534`}); err != nil {
		t.Errorf("runScript as nobody: %v", err)
	}
	d.setScripts(scriptsConf(t, "", "/bin/true"))
	if err := d.runScript(context.Background(), []string{"/bin/sh", "-c", `test "$(id -u)" = 0`}); err != nil {
		t.Errorf("runScript as root: %v", err)
	}
}
