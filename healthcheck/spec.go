package healthcheck

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of probe a Spec runs.
type Kind string

// Kind values.
const (
	KindTCP     Kind = "tcp"
	KindHTTP    Kind = "http"
	KindHTTPS   Kind = "https"
	KindCommand Kind = "command"
)

// Defaults applied to zero fields of a Spec (see Spec.Normalize).
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second // or Interval if shorter
	DefaultPath     = "/"
)

// Spec describes one check: what to probe, how often, and how many results
// in a row change its state. It is a plain value; the binary builds it from
// the configuration. Zero fields take the defaults listed on Normalize.
type Spec struct {
	Kind Kind
	// Target is where to connect: the real server's address, with any
	// port or address override already applied. A command check gets it
	// in its environment (TANDEM_CHECK_ADDR, TANDEM_CHECK_PORT).
	Target netip.AddrPort
	// Source binds the probe's source address; zero lets the kernel choose.
	Source   netip.Addr
	Interval time.Duration
	Timeout  time.Duration
	Rise     int // successes in a row to go from Down to Up
	Fall     int // failures in a row to go from Up to Down

	// HalfOpen makes a tcp check a half-open probe (tcp only): a SYN
	// sent from a raw socket, up on the SYN-ACK, down on a reset or no
	// answer. No connection is made, so none is accepted, logged or
	// reset by the real server's application; see tcp_halfopen_linux.go.
	HalfOpen bool

	// HTTP and HTTPS only.
	Path   string        // request path (with any query); default "/"
	Host   string        // Host header; "" = Target
	Status []StatusRange // accepted status codes; default 200-299
	Digest Digest        // body digest; zero = not checked
	Regex  string        // must match the body; "" = not checked
	TLS    TLSConfig     // HTTPS only
	// Reuse keeps the connection open between probes (HTTP/1.1
	// keep-alive) for up to KeepaliveRequests probes (default MaxReuse);
	// a kept connection that the server has closed is replaced by a
	// fresh one within the same probe.
	Reuse             bool
	KeepaliveRequests int

	// Command only: the argv to run; exit status 0 means up.
	Command []string
	// RunAs, Command only, returns the user the command runs as at each
	// probe (nil: this process's own); not part of the ID, so a change of
	// user applies to the next probe.
	RunAs func() *Credential
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

func (r StatusRange) String() string {
	if r.Min == r.Max {
		return strconv.Itoa(r.Min)
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}

// Digest is an expected digest of the response body.
type Digest struct {
	Algorithm string // "sha256" or "md5"; "" = not checked
	Sum       []byte
}

// TLSConfig holds the TLS settings of an HTTPS check. The server's
// certificate is verified unless InsecureSkipVerify is set.
type TLSConfig struct {
	// ServerName is sent as SNI and verified against the certificate;
	// "" = the Host header's name, or else Target's address.
	ServerName string
	// CAFile is a PEM file of the CA certificates to trust instead of the
	// system's; "" = the system's roots.
	CAFile             string
	InsecureSkipVerify bool
}

// Normalize returns s with the defaults filled in and the fields that do not
// apply to its Kind cleared: Interval 2s; Timeout 1s, or Interval if
// shorter; Rise and Fall 1; Path "/"; Status 200-299. Two Specs that
// normalise to the same value are the same check (see ID).
func (s Spec) Normalize() Spec {
	if s.Interval <= 0 {
		s.Interval = DefaultInterval
	}
	if s.Timeout <= 0 {
		s.Timeout = min(DefaultTimeout, s.Interval)
	}
	s.Rise = max(s.Rise, 1)
	s.Fall = max(s.Fall, 1)
	if s.Kind != KindHTTP && s.Kind != KindHTTPS {
		s.Path, s.Host, s.Status, s.Digest, s.Regex, s.Reuse = "", "", nil, Digest{}, "", false
	} else {
		if s.Path == "" {
			s.Path = DefaultPath
		}
		if len(s.Status) == 0 {
			s.Status = []StatusRange{{Min: 200, Max: 299}}
		}
		if s.Digest.Algorithm == "" {
			s.Digest = Digest{}
		}
	}
	if s.Kind != KindHTTPS {
		s.TLS = TLSConfig{}
	}
	switch {
	case !s.Reuse:
		s.KeepaliveRequests = 0
	case s.KeepaliveRequests <= 0:
		s.KeepaliveRequests = MaxReuse
	}
	if s.Kind != KindTCP {
		s.HalfOpen = false
	}
	if s.Kind != KindCommand {
		s.Command = nil
	}
	return s
}

// Validate reports what is wrong with s (after Normalize), without touching
// the system: an unknown kind, a missing target or command, a bad path,
// status range, digest or regex.
func (s Spec) Validate() error {
	s = s.Normalize()
	var errs []error
	switch s.Kind {
	case KindTCP, KindHTTP, KindHTTPS:
		if !s.Target.Addr().IsValid() || s.Target.Port() == 0 {
			errs = append(errs, fmt.Errorf("%s check needs a target address and port, got %v", s.Kind, s.Target))
		}
	case KindCommand:
		if len(s.Command) == 0 || s.Command[0] == "" {
			errs = append(errs, errors.New("command check needs a command"))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown check kind %q", s.Kind))
	}
	if s.Source.IsValid() && s.Target.Addr().IsValid() && s.Source.Is4() != s.Target.Addr().Unmap().Is4() {
		errs = append(errs, fmt.Errorf("source %v and target %v are of different families", s.Source, s.Target.Addr()))
	}
	if s.Kind == KindHTTP || s.Kind == KindHTTPS {
		if !strings.HasPrefix(s.Path, "/") {
			errs = append(errs, fmt.Errorf("path %q does not start with /", s.Path))
		}
		for _, r := range s.Status {
			if r.Min < 100 || r.Max > 999 || r.Min > r.Max {
				errs = append(errs, fmt.Errorf("bad status range %v", r))
			}
		}
		if err := s.Digest.validate(); err != nil {
			errs = append(errs, err)
		}
		if s.Regex != "" {
			if _, err := regexp.Compile(s.Regex); err != nil {
				errs = append(errs, fmt.Errorf("regex: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

func (d Digest) validate() error {
	var want int
	switch d.Algorithm {
	case "":
		return nil
	case "sha256":
		want = sha256.Size
	case "md5":
		want = 16
	default:
		return fmt.Errorf("unknown digest algorithm %q (want sha256 or md5)", d.Algorithm)
	}
	if len(d.Sum) != want {
		return fmt.Errorf("%s digest is %d bytes, want %d", d.Algorithm, len(d.Sum), want)
	}
	return nil
}

// ID identifies a check. Specs that normalise to the same value (same kind,
// target, source and parameters) share one ID, so a real server listed under
// several virtual services with the same check is probed once per interval.
// An ID reads "kind target[ from source]#hash", the hash covering every
// field; it is stable across runs and releases that keep this encoding.
type ID string

// ID returns the ID of s.
func (s Spec) ID() ID {
	s = s.Normalize()
	// The encoding is built in one buffer and hashed once: the daemon
	// computes IDs for every real server of a virtual server each time a
	// verdict touches it. The buffers stay on the stack: the ID string is
	// the one allocation (with the target's text, used twice).
	target := s.Target.String()
	w := make(idWriter, 0, 256)
	w = w.str(string(s.Kind))
	w = w.str(target)
	w = w.str(s.Source.String())
	w = w.int(int64(s.Interval))
	w = w.int(int64(s.Timeout))
	w = w.int(int64(s.Rise))
	w = w.int(int64(s.Fall))
	w = w.str(s.Path)
	w = w.str(s.Host)
	w = w.int(int64(len(s.Status)))
	for _, r := range s.Status {
		w = w.int(int64(r.Min))
		w = w.int(int64(r.Max))
	}
	w = w.str(s.Digest.Algorithm)
	w = w.str(string(s.Digest.Sum))
	w = w.str(s.Regex)
	w = w.str(s.TLS.ServerName)
	w = w.str(s.TLS.CAFile)
	w = w.bool(s.TLS.InsecureSkipVerify)
	w = w.int(int64(len(s.Command)))
	for _, a := range s.Command {
		w = w.str(a)
	}
	if s.HalfOpen {
		// Last and only when set: the IDs of other checks do not change.
		w = w.str("half_open")
	}
	if s.Reuse {
		w = w.str("reuse_connection") // as half_open
		w = w.int(int64(s.KeepaliveRequests))
	}
	sum := sha256.Sum256(w)
	b := make([]byte, 0, 96)
	b = append(b, s.Kind...)
	if s.Target.IsValid() {
		b = append(b, ' ')
		b = append(b, target...)
	}
	if s.Source.IsValid() {
		b = append(b, " from "...)
		b = s.Source.AppendTo(b)
	}
	b = append(b, '#')
	b = hex.AppendEncode(b, sum[:8])
	return ID(b)
}

// idWriter writes length-prefixed fields, so that no two different Specs
// share an encoding.
type idWriter []byte

func (w idWriter) int(v int64) idWriter {
	return binary.BigEndian.AppendUint64(w, uint64(v))
}

func (w idWriter) str(s string) idWriter {
	return append(w.int(int64(len(s))), s...)
}

func (w idWriter) bool(v bool) idWriter {
	if v {
		return w.int(1)
	}
	return w.int(0)
}
