package healthcheck

import (
	"crypto/sha256"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var target = netip.MustParseAddrPort("192.0.2.10:80")

func TestSpecID(t *testing.T) {
	base := Spec{Kind: KindHTTP, Target: target, Interval: time.Second, Timeout: time.Second, Rise: 2, Fall: 2}
	same := []struct {
		name string
		a, b Spec
	}{
		{name: "identical", a: base, b: base},
		{name: "default path", a: base, b: with(base, func(s *Spec) { s.Path = "/" })},
		{name: "default status", a: base, b: with(base, func(s *Spec) { s.Status = []StatusRange{{200, 299}} })},
		{name: "tcp ignores http fields", a: Spec{Kind: KindTCP, Target: target}, b: Spec{Kind: KindTCP, Target: target, Path: "/x", Regex: "ok"}},
		{name: "http ignores tls", a: base, b: with(base, func(s *Spec) { s.TLS.InsecureSkipVerify = true })},
		{name: "default rise", a: Spec{Kind: KindTCP, Target: target}, b: Spec{Kind: KindTCP, Target: target, Rise: 1, Fall: 1}},
		{name: "default timings", a: Spec{Kind: KindTCP, Target: target}, b: Spec{Kind: KindTCP, Target: target, Interval: 2 * time.Second, Timeout: time.Second}},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			if a, b := tt.a.ID(), tt.b.ID(); a != b {
				t.Errorf("IDs differ: %s, %s", a, b)
			}
		})
	}
	differ := []struct {
		name string
		b    Spec
	}{
		{"kind", with(base, func(s *Spec) { s.Kind = KindHTTPS })},
		{"target", with(base, func(s *Spec) { s.Target = netip.MustParseAddrPort("192.0.2.11:80") })},
		{"port", with(base, func(s *Spec) { s.Target = netip.MustParseAddrPort("192.0.2.10:81") })},
		{"source", with(base, func(s *Spec) { s.Source = netip.MustParseAddr("192.0.2.1") })},
		{"interval", with(base, func(s *Spec) { s.Interval = 3 * time.Second })},
		{"timeout", with(base, func(s *Spec) { s.Timeout = 500 * time.Millisecond })},
		{"rise", with(base, func(s *Spec) { s.Rise = 3 })},
		{"fall", with(base, func(s *Spec) { s.Fall = 3 })},
		{"path", with(base, func(s *Spec) { s.Path = "/health" })},
		{"host", with(base, func(s *Spec) { s.Host = "example.org" })},
		{"status", with(base, func(s *Spec) { s.Status = []StatusRange{{200, 200}} })},
		{"digest", with(base, func(s *Spec) { s.Digest = Digest{"sha256", make([]byte, 32)} })},
		{"regex", with(base, func(s *Spec) { s.Regex = "ok" })},
	}
	seen := map[ID]string{base.ID(): "base"}
	for _, tt := range differ {
		t.Run("differ/"+tt.name, func(t *testing.T) {
			id := tt.b.ID()
			if prev, ok := seen[id]; ok {
				t.Errorf("ID %s of %s equals that of %s", id, tt.name, prev)
			}
			seen[id] = tt.name
		})
	}
	t.Run("readable", func(t *testing.T) {
		id := string(with(base, func(s *Spec) { s.Source = netip.MustParseAddr("192.0.2.1") }).ID())
		if !strings.HasPrefix(id, "http 192.0.2.10:80 from 192.0.2.1#") || len(id) != len("http 192.0.2.10:80 from 192.0.2.1#")+16 {
			t.Errorf("ID %q", id)
		}
	})
	t.Run("command argv boundaries", func(t *testing.T) {
		a := Spec{Kind: KindCommand, Command: []string{"a b", "c"}}
		b := Spec{Kind: KindCommand, Command: []string{"a", "b c"}}
		if a.ID() == b.ID() {
			t.Errorf("argv %q and %q share an ID", a.Command, b.Command)
		}
	})
}

func with(s Spec, f func(*Spec)) Spec {
	s.Status = append([]StatusRange(nil), s.Status...)
	f(&s)
	return s
}

func TestSpecValidate(t *testing.T) {
	sum := sha256.Sum256([]byte("x"))
	tests := []struct {
		name string
		spec Spec
		want string // substring of the error; "" = valid
	}{
		{"tcp", Spec{Kind: KindTCP, Target: target}, ""},
		{"unknown kind", Spec{Kind: "dns", Target: target}, `unknown check kind "dns"`},
		{"no port", Spec{Kind: KindTCP, Target: netip.AddrPortFrom(target.Addr(), 0)}, "needs a target address and port"},
		{"no target", Spec{Kind: KindHTTP}, "needs a target address and port"},
		{"command", Spec{Kind: KindCommand, Command: []string{"true"}}, ""},
		{"empty command", Spec{Kind: KindCommand}, "needs a command"},
		{"path", Spec{Kind: KindHTTP, Target: target, Path: "health"}, "does not start with /"},
		{"status", Spec{Kind: KindHTTP, Target: target, Status: []StatusRange{{300, 200}}}, "bad status range 300-200"},
		{"digest ok", Spec{Kind: KindHTTP, Target: target, Digest: Digest{"sha256", sum[:]}}, ""},
		{"digest length", Spec{Kind: KindHTTP, Target: target, Digest: Digest{"md5", sum[:]}}, "md5 digest is 32 bytes, want 16"},
		{"digest algorithm", Spec{Kind: KindHTTP, Target: target, Digest: Digest{"sha1", sum[:20]}}, `unknown digest algorithm "sha1"`},
		{"regex", Spec{Kind: KindHTTPS, Target: target, Regex: "("}, "regex: error parsing regexp"},
		{"families", Spec{Kind: KindTCP, Target: target, Source: netip.MustParseAddr("::1")}, "different families"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNormalizeTimeout(t *testing.T) {
	s := Spec{Kind: KindTCP, Target: target, Interval: 300 * time.Millisecond}.Normalize()
	if s.Timeout != 300*time.Millisecond {
		t.Errorf("timeout %v, want the interval when shorter than 1s", s.Timeout)
	}
}

// TestSpecIDStable pins the ID's encoding (status, logs and the daemon's
// comparisons across a reload use it) and its cost: the ID string and
// the target's text are its only allocations (it was 256 bytes more on
// the heap for every real server, 10 000 times at each start).
func TestSpecIDStable(t *testing.T) {
	for _, c := range []struct {
		s    Spec
		want ID
	}{
		{Spec{Kind: KindTCP, Target: netip.MustParseAddrPort("10.0.0.12:9000"), Interval: time.Second, Timeout: time.Second, Rise: 1, Fall: 2},
			"tcp 10.0.0.12:9000#83073aa54d316c11"},
		{Spec{Kind: KindHTTP, Target: netip.MustParseAddrPort("[2001:db8::1]:80"), Source: netip.MustParseAddr("10.1.1.1"), Path: "/x", Host: "h",
			Status: []StatusRange{{200, 299}}, Reuse: true, KeepaliveRequests: 5},
			"http [2001:db8::1]:80 from 10.1.1.1#e84eaf7abd199ee0"},
		{Spec{Kind: KindCommand, Command: []string{"/bin/true", "a"}, HalfOpen: true}, "command#38c560854b3ee071"},
		{Spec{Kind: KindHTTPS, Target: netip.MustParseAddrPort("1.2.3.4:443"), TLS: TLSConfig{ServerName: "x", InsecureSkipVerify: true},
			Regex: "ok", Digest: Digest{Algorithm: "md5", Sum: []byte{1, 2}}},
			"https 1.2.3.4:443#ce5550a0a662491a"},
	} {
		if got := c.s.ID(); got != c.want {
			t.Errorf("ID %q, want %q", got, c.want)
		}
	}
	s := Spec{Kind: KindTCP, Target: netip.MustParseAddrPort("10.0.0.12:9000"), Interval: time.Second, Timeout: time.Second}
	if n := testing.AllocsPerRun(100, func() { _ = s.ID() }); n > 2 {
		t.Errorf("ID allocates %v times, want at most 2", n)
	}
}
