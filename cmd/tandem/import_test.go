package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tandem import: the file on stdout (or -o), the findings on stderr, the
// exit codes.
func TestImport(t *testing.T) {
	run := func(args ...string) (string, string, int) {
		var out, errb strings.Builder
		code := tandem(args, &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := run("import", "ipvsadm", "../../conf/ipvsadm/testdata/lvs_nat.sh")
	if code != 0 || !strings.Contains(out, `virtual_server "vs_tcp_203.0.113.10_80"`) ||
		!strings.Contains(errs, "lvs_nat.sh:16: not translated: ipvsadm -C") {
		t.Errorf("import ipvsadm: exit %d\n%s\n%s", code, out, errs)
	}
	dst := filepath.Join(t.TempDir(), "cluster.hcl")
	ka := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(ka, []byte("global_defs {\n  router_id d1\n}\nvirtual_server 10.0.0.1 80 {\n  lb_algo rr\n  lb_kind NAT\n  weigth 3\n  real_server 192.168.1.1 80 {\n    weight 1\n  }\n}\n"), 0o644)
	out, errs, code = run("import", "keepalived", ka, "-o", dst)
	if b, _ := os.ReadFile(dst); code != 0 || out != "" || !strings.Contains(string(b), `address = "192.168.1.1:80"`) ||
		!strings.Contains(errs, "keepalived.conf:7: invalid: weigth") {
		t.Errorf("import keepalived -o: exit %d\n%s\n%s\n%s", code, out, errs, b)
	}
	if _, errs, code = run("import", "keepalived", filepath.Join(t.TempDir(), "nope.conf")); code != 1 {
		t.Errorf("a missing file: exit %d\n%s", code, errs)
	}
	if _, _, code = run("import", "keepalived"); code != 2 {
		t.Errorf("no file: exit %d", code)
	}
	if _, _, code = run("import", "ipvsadm", "a", "b"); code != 2 {
		t.Errorf("two files for ipvsadm: exit %d", code)
	}
}
