// Package browser drives Debian's chromium in headless mode, as a plain
// program (no DevTools protocol): it loads a page and returns its DOM
// after the load event (--dump-dom), or saves a screenshot of it
// (--screenshot). Tests use it to check what a real browser makes of the
// status page.
//
// Each call starts one chromium with a fresh profile in a temporary
// directory, removed afterwards, and flags that let it run as root in a
// container: --no-sandbox, --disable-gpu, --disable-dev-shm-usage (a
// container's /dev/shm is often 64 MiB). Chromium runs in its own process
// group, killed as a whole when the call's context ends or its Timeout
// passes, and once it has exited, so no renderer outlives a call.
// Chromium reports a page that does not load (refused, unknown host)
// only on stderr and still exits 0: that line, or an empty DOM, is an
// error here, with the rest of stderr (less the D-Bus complaints of a
// machine without a session bus) in its text.
//
// scripts/setup installs chromium; a test that needs it should fail, not
// skip, where it is missing (see ErrNotInstalled).
package browser

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one chromium run when Browser.Timeout is zero.
const DefaultTimeout = time.Minute

// ErrNotInstalled is returned (wrapped) when no chromium binary is found.
var ErrNotInstalled = errors.New("browser: chromium is not installed: run scripts/setup (apt-get install chromium)")

// A Browser says how to run chromium. The zero value runs the chromium
// found by Find in the caller's network namespace. A Browser holds no
// state: its methods may be called concurrently, each starting its own
// chromium.
type Browser struct {
	// NetNS is a named network namespace (under /run/netns) to run
	// chromium in, through `ip netns exec`, for a page served by a daemon
	// listening inside it. Empty: the caller's namespace.
	NetNS string
	// Path is the chromium binary. Empty: Find.
	Path string
	// Timeout bounds one run (the context may end it sooner). Zero:
	// DefaultTimeout.
	Timeout time.Duration
}

// DumpDOM loads url in headless Chromium and returns the DOM after load
// (chromium --headless --dump-dom), with the zero Browser.
func DumpDOM(ctx context.Context, url string) (string, error) {
	return Browser{}.DumpDOM(ctx, url)
}

// Screenshot saves a PNG of url at the given window size, with the zero
// Browser.
func Screenshot(ctx context.Context, url, path string, width, height int) error {
	return Browser{}.Screenshot(ctx, url, path, width, height)
}

// Find returns the chromium binary: chromium in PATH, else
// /usr/bin/chromium. The error wraps ErrNotInstalled.
func Find() (string, error) {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	const deb = "/usr/bin/chromium"
	if fi, err := os.Stat(deb); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return deb, nil
	}
	return "", ErrNotInstalled
}

// DumpDOM loads url and returns the DOM serialised after the load event.
// Scripts have run; timers set for later have not, so a page's
// <meta http-equiv="refresh"> does not fire.
func (b Browser) DumpDOM(ctx context.Context, url string) (string, error) {
	out, err := b.run(ctx, url, "--dump-dom")
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return "", fmt.Errorf("browser: chromium --dump-dom %s: empty DOM", url)
	}
	return string(out), nil
}

// Screenshot loads url in a window of width×height CSS pixels and saves
// the viewport as a PNG at path (created or replaced).
func (b Browser) Screenshot(ctx context.Context, url, path string, width, height int) error {
	if width <= 0 || height <= 0 {
		return fmt.Errorf("browser: screenshot size %dx%d", width, height)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// Chromium exits 0 without writing when the page does not load:
	// start from no file, so a stale one never passes for a new one.
	if err := os.Remove(abs); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if _, err := b.run(ctx, url, "--screenshot="+abs, "--window-size="+strconv.Itoa(width)+","+strconv.Itoa(height)); err != nil {
		return err
	}
	if fi, err := os.Stat(abs); err != nil || fi.Size() == 0 {
		return fmt.Errorf("browser: chromium --screenshot %s: no image written to %s", url, abs)
	}
	return nil
}

// flags are the ones every run takes: headless as root in a container,
// nothing fetched or stored beyond the page.
var flags = []string{
	"--headless", // chromium ≥ 132: the new headless mode (the old one is a separate binary now)
	"--no-sandbox",
	"--disable-gpu",
	"--disable-dev-shm-usage",
	"--no-first-run",
	"--no-default-browser-check",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
	"--disable-breakpad",
	"--disable-extensions",
	"--password-store=basic",
	"--hide-scrollbars",
	"--mute-audio",
}

// run starts chromium on url with extra flags and returns its stdout.
func (b Browser) run(ctx context.Context, url string, extra ...string) ([]byte, error) {
	bin := b.Path
	if bin == "" {
		var err error
		if bin, err = Find(); err != nil {
			return nil, err
		}
	}
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	profile, err := os.MkdirTemp("", "tandem-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)

	args := append(append(append([]string{}, flags...), "--user-data-dir="+profile), extra...)
	args = append(args, url)
	name := bin
	if b.NetNS != "" {
		name, args = "ip", append([]string{"netns", "exec", b.NetNS, bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+profile)
	newGroup(cmd)
	// Renderers and helpers inherit the output pipes: stop waiting for
	// them a little after chromium itself is gone.
	cmd.WaitDelay = 5 * time.Second

	what := "chromium " + strings.Join(extra, " ") + " " + url
	if b.NetNS != "" {
		what += " (netns " + b.NetNS + ")"
	}
	err = cmd.Run()
	if cmd.Process != nil {
		killGroup(cmd) // whatever chromium left behind
	}
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("browser: %s: killed after %v: %w%s", what, timeout, ctx.Err(), tail(stderr.Bytes()))
	case err != nil:
		return nil, fmt.Errorf("browser: %s: %w%s", what, err, tail(stderr.Bytes()))
	}
	if i := bytes.Index(stderr.Bytes(), []byte("Page load failed")); i >= 0 {
		line, _, _ := bytes.Cut(stderr.Bytes()[i:], []byte("\n"))
		return nil, fmt.Errorf("browser: %s: %s%s", what, line, tail(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// tail is the end of chromium's stderr for an error's text, without the
// D-Bus complaints every run on a machine without a session bus makes.
func tail(stderr []byte) string {
	var keep []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if strings.TrimSpace(l) == "" || strings.Contains(l, ":ERROR:dbus/") {
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > 30 {
		keep = keep[len(keep)-30:]
	}
	if len(keep) == 0 {
		return ""
	}
	return "\nchromium's stderr:\n" + strings.Join(keep, "\n")
}
