package healthcheck

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"time"
)

// Body limits of an HTTP check.
const (
	// MaxRegexBody is how much of the body the regex is matched against.
	MaxRegexBody = 64 << 10
	// MaxDigestBody is the largest body whose digest is checked; a longer
	// body fails the check.
	MaxDigestBody = 1 << 20
)

// MaxReuse is how many probes a kept connection serves by default (see
// Spec.Reuse, Spec.KeepaliveRequests): then a fresh one, so that a server
// that still answers on its open connections but no longer accepts new
// ones is seen within MaxReuse intervals.
const MaxReuse = 10

// httpChecker sends GET Path to the target over a new connection per probe
// (with Spec.Reuse: one kept for up to MaxReuse probes) and checks the
// status, and the body's digest and regex when set.
type httpChecker struct {
	url     string // kind://target/path; its name (String) is made from it when needed
	host    string
	timeout time.Duration
	status  []StatusRange
	digest  Digest
	newHash func() hash.Hash
	regex   *regexp.Regexp
	client  *http.Client

	// With Spec.Reuse: the probes a connection serves (0: no reuse); on
	// net/http, the probes so far.
	maxReuse int
	probes   atomic.Int64
}

// newHTTPChecker returns the checker of an http or https Spec: on the
// probe poller where it can run there (plain http on Linux, see
// http_linux.go; polled says whether a poller will run it), through
// net/http otherwise.
func newHTTPChecker(s Spec, polled func() bool) (Checker, error) {
	c := &httpChecker{
		url:     string(s.Kind) + "://" + s.Target.String() + s.Path,
		host:    s.Host,
		timeout: s.Timeout,
		status:  s.Status,
		digest:  s.Digest,
	}
	if _, err := url.Parse(c.url); err != nil {
		return nil, fmt.Errorf("path %q: %w", s.Path, err)
	}
	switch s.Digest.Algorithm {
	case "sha256":
		c.newHash = sha256.New
	case "md5":
		c.newHash = md5.New
	}
	if s.Regex != "" {
		c.regex = regexp.MustCompile(s.Regex) // Validate compiled it
	}
	if s.Reuse {
		// The first connection's probes (see MaxReuse) are cut by a
		// random number, so that checks started together do not all
		// renew their connections in the same interval.
		c.maxReuse = s.KeepaliveRequests
		c.probes.Store(rand.Int64N(int64(c.maxReuse)))
	}
	if pc := newPolledHTTP(c, s, polled); pc != nil {
		return pc, nil
	}
	tr := &http.Transport{
		Proxy:       nil, // never the environment's proxy
		DialContext: dialer(s).DialContext,
		// One connection per probe unless asked (Spec.Reuse): a pooled
		// connection could hide a server that no longer accepts new
		// ones. net/http retries a request whose pooled connection
		// turns out closed on a new one.
		DisableKeepAlives:   !s.Reuse,
		MaxIdleConnsPerHost: 1,
		// The digest is of the bytes the server sends, as keepalived's.
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	if s.Kind == KindHTTPS {
		cfg, err := tlsConfig(s)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	c.client = &http.Client{
		Transport: tr,
		// A redirect is an answer like any other, judged by its status.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// maxCAFile bounds a check's CA file: five times Debian's whole bundle
// (/etc/ssl/certs/ca-certificates.crt, 220 KB).
const maxCAFile = 1 << 20

// readCAFile reads path, a regular file of at most maxCAFile bytes: a
// device or a fifo named by mistake would be read forever.
func readCAFile(path string) ([]byte, error) {
	// Stat before opening: opening a fifo waits for a writer.
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err == nil && len(b) > maxCAFile {
		err = fmt.Errorf("%s: larger than %d KiB", path, maxCAFile>>10)
	}
	return b, err
}

// tlsConfig builds the client TLS configuration of an HTTPS check.
func tlsConfig(s Spec) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         s.TLS.ServerName,
		InsecureSkipVerify: s.TLS.InsecureSkipVerify,
	}
	if cfg.ServerName == "" && s.Host != "" {
		cfg.ServerName = s.Host
		if h, _, err := net.SplitHostPort(s.Host); err == nil {
			cfg.ServerName = h
		}
	}
	// An empty ServerName makes the transport verify against the URL's
	// host, the target's address.
	if s.TLS.CAFile != "" {
		pem, err := readCAFile(s.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca file %s: no PEM certificate", s.TLS.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// String is the check's name: "http 10.0.0.1:80/health".
func (c *httpChecker) String() string { return strings.Replace(c.url, "://", " ", 1) }

// closeIdle implements idleCloser.
func (c *httpChecker) closeIdle() {
	if c.client != nil {
		c.client.CloseIdleConnections()
	}
}

// Check sends one request and judges the answer.
func (c *httpChecker) Check(ctx context.Context) error {
	ctx, cancel := deadline(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return err
	}
	if c.host != "" {
		req.Host = c.host
	}
	req.Header.Set("User-Agent", "tandem-healthcheck")
	if c.maxReuse > 0 && c.probes.Add(1)%int64(c.maxReuse) == 0 {
		// The pooled connection's last probe (see MaxReuse).
		req.Close = true
	}
	resp, err := c.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the `Get "url":` prefix
		}
		return err
	}
	defer resp.Body.Close()
	if !statusOK(resp.StatusCode, c.status) {
		return fmt.Errorf("status %d not in %s", resp.StatusCode, rangesString(c.status))
	}
	if c.newHash == nil && c.regex == nil {
		if c.maxReuse > 0 {
			// A body read to its end lets the connection serve
			// the next probe; a long one is not waited for.
			io.CopyN(io.Discard, resp.Body, 4<<10)
		}
		return nil
	}
	var h hash.Hash
	var w io.Writer = io.Discard
	limit := int64(MaxRegexBody)
	if c.newHash != nil {
		h = c.newHash()
		w = h
		limit = MaxDigestBody
	}
	var head *bytes.Buffer
	if c.regex != nil {
		head = &bytes.Buffer{}
		w = io.MultiWriter(w, &capped{buf: head, n: MaxRegexBody})
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	if h != nil {
		if n > limit {
			return fmt.Errorf("body longer than %d bytes, %s not checked", limit, c.digest.Algorithm)
		}
		if sum := h.Sum(nil); !bytes.Equal(sum, c.digest.Sum) {
			return fmt.Errorf("body %s mismatch: got %x, want %x", c.digest.Algorithm, sum, c.digest.Sum)
		}
	}
	if c.regex != nil && !c.regex.Match(head.Bytes()) {
		return fmt.Errorf("regex %q not found in body", c.regex.String())
	}
	return nil
}

// capped keeps the first n bytes written to it and drops the rest.
type capped struct {
	buf *bytes.Buffer
	n   int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func statusOK(code int, ranges []StatusRange) bool {
	for _, r := range ranges {
		if code >= r.Min && code <= r.Max {
			return true
		}
	}
	return false
}

func rangesString(ranges []StatusRange) string {
	s := make([]string, len(ranges))
	for i, r := range ranges {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}
