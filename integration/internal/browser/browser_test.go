package browser

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needChromium fails (not skips: CI installs it) where chromium is
// missing.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := Find(); err != nil {
		t.Fatalf("%v\n(CI installs it with scripts/setup; these tests never skip)", err)
	}
}

// statusPage builds and starts the status page's demo server (package
// web is internal to cmd/tandem, so it runs as its own program) serving
// the fixture document, and returns its URL. With netns set it runs in
// that namespace.
func statusPage(t *testing.T, netns string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "webdemo")
	build := exec.Command("go", "build", "-o", bin, "github.com/tandem-lb/tandem/cmd/tandem/internal/web/webdemo")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build webdemo: %v\n%s", err, out)
	}
	var cmd *exec.Cmd
	if netns == "" {
		cmd = exec.Command(bin, "-listen", "127.0.0.1:0")
	} else {
		cmd = exec.Command("ip", "netns", "exec", netns, bin, "-listen", "127.0.0.1:0")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- strings.TrimSpace(s)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case url := <-line:
		if !strings.HasPrefix(url, "http://") {
			t.Fatalf("webdemo said %q: %s", url, stderr.String())
		}
		return url
	case <-time.After(30 * time.Second):
		t.Fatalf("webdemo did not start: %s", stderr.String())
	}
	return ""
}

// TestStatusPage: the status page as Chromium builds it carries, at
// every data-field, the value /status.json has at that scope and path
// (the contract of package web's doc); and it renders at 1366×768.
func TestStatusPage(t *testing.T) {
	needChromium(t)
	url := statusPage(t, "")
	doc := fetchJSON(t, url+"status.json")

	ctx := context.Background()
	start := time.Now()
	dom, err := DumpDOM(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DumpDOM took %v", time.Since(start).Round(time.Millisecond))
	fields, err := Fields(dom)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	if n < 150 {
		t.Errorf("only %d data-fields in the DOM", n)
	}
	for _, m := range Mismatches(fields, doc) {
		t.Error(m)
	}

	// The cells an operator looks at first, spelled out.
	for _, c := range []struct{ scope, field, value, text string }{
		{"", "node", "lb1", "lb1"},
		{"vrrp/public", "state", "MASTER", "MASTER"},
		{"vrrp/private", "state", "BACKUP", "BACKUP"},
		{"vrrp/private", "priority", "80", "80"},
		{"vrrp/private", "configured_priority", "100", "100"},
		{"vs/web", "up", "true", "UP"},
		{"vs/mail", "up", "false", "DOWN"},
		{"vs/mail", "sorry", "true", "SORRY SERVER IN"},
		{"vs/web/rs/rs1", "weight", "100", "100"},
		{"vs/web/rs/rs1", "active_conns", "123", "123"},
		{"vs/web/rs/rs2", "health", "draining", "draining"},
		{"vs/web/rs/rs2", "weight", "0", "0"},
		{"vs/web/rs/rs2", "override.mode", "drain", "drain"},
		{"vs/web/rs/rs3", "health", "down", "down"},
		{"vs/mail/rs/mx2", "weight", "-1", "-"},
		{"foreign/TCP 198.51.100.7:443/dest/192.168.5.1:443", "active_conns", "3", "3"},
	} {
		f, ok := fields[c.scope][c.field]
		if !ok {
			t.Errorf("%s: no data-field %q", c.scope, c.field)
		} else if f.Value != c.value || f.Text != c.text {
			t.Errorf("%s %s: value %q text %q, want %q and %q", c.scope, c.field, f.Value, f.Text, c.value, c.text)
		}
	}
	for _, scope := range []string{"vrrp/public", "vrrp/private", "vs/web", "vs/mail", "vs/web/rs/rs1", "vs/web/rs/rs2",
		"vs/web/rs/rs3", "vs/mail/rs/mx1", "vs/mail/rs/mx2", "vs/mail/rs/sorry_server", "vs/mail/rs/10.0.2.29:25",
		"foreign/TCP 198.51.100.7:443", "foreign/TCP 198.51.100.7:443/dest/192.168.5.2:443"} {
		if len(fields[scope]) == 0 {
			t.Errorf("no scope %s in the DOM", scope)
		}
	}

	dir := os.Getenv("TANDEM_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "status-page-1366x768.png")
	start = time.Now()
	if err := Screenshot(ctx, url, shot, 1366, 768); err != nil {
		t.Fatal(err)
	}
	t.Logf("Screenshot took %v: %s", time.Since(start).Round(time.Millisecond), shot)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", shot, err)
	}
	if b := img.Bounds(); b.Dx() != 1366 || b.Dy() != 768 {
		t.Errorf("%s is %dx%d, want 1366x768", shot, b.Dx(), b.Dy())
	}
}

// TestNetNS: with NetNS, chromium reaches a page served inside that
// namespace (and only there: 127.0.0.1 is the namespace's own).
func TestNetNS(t *testing.T) {
	needChromium(t)
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: sudo go test ./integration/internal/browser/")
	}
	ns := fmt.Sprintf("tandem-browser-%d", os.Getpid())
	for _, args := range [][]string{{"netns", "add", ns}, {"-n", ns, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		}
	}
	url := statusPage(t, ns)
	dom, err := Browser{NetNS: ns}.DumpDOM(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dom, `data-vrrp="public"`) {
		t.Errorf("not the status page:\n%.300s", dom)
	}
	if _, err := (Browser{Timeout: 20 * time.Second}).DumpDOM(context.Background(), url); err == nil {
		t.Error("the namespace's page was reached from outside it")
	}
}

// TestLoadFailed: a page that does not load is an error naming the
// reason, though chromium exits 0.
func TestLoadFailed(t *testing.T) {
	needChromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close() // refused from now on
	_, err = DumpDOM(context.Background(), url)
	if err == nil || !strings.Contains(err.Error(), "ERR_CONNECTION_REFUSED") {
		t.Errorf("DumpDOM of a closed port: %v", err)
	}
	shot := filepath.Join(t.TempDir(), "x.png")
	if err := Screenshot(context.Background(), url, shot, 200, 100); err == nil {
		t.Error("Screenshot of a closed port: no error")
	}
}

// TestTimeout: a page that never answers is killed at the timeout, and
// no chromium process of the call survives it.
func TestTimeout(t *testing.T) {
	needChromium(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
	}))
	start := time.Now()
	_, err = Browser{Timeout: 3 * time.Second}.DumpDOM(context.Background(), "http://"+ln.Addr().String()+"/")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a deadline", err)
	}
	if took > 15*time.Second {
		t.Errorf("took %v with a 3s timeout", took)
	}
	if left := orphans(t); len(left) > 0 {
		t.Errorf("chromium processes left behind: %v", left)
	}
}

// orphans lists the processes running on a profile of this package that
// no longer exists: each call removes its profile once its chromium's
// group is dead, so any such process escaped the kill.
func orphans(t *testing.T) []string {
	t.Helper()
	pids, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var left []string
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			dir, ok := strings.CutPrefix(arg, "--user-data-dir=")
			if !ok || !strings.Contains(filepath.Base(dir), "tandem-chromium-") {
				continue
			}
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				left = append(left, filepath.Base(filepath.Dir(p)))
			}
		}
	}
	return left
}

func fetchJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %s", url, resp.Status)
	}
	var doc map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
