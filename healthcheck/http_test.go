package healthcheck

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is an httptest.Server whose handler answers by path and records
// the Host headers and connections it sees.
type server struct {
	*httptest.Server
	mu    sync.Mutex
	hosts []string
	conns int
}

func newServer(t *testing.T, tls bool) *server {
	t.Helper()
	s := &server{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hosts = append(s.hosts, r.Host)
		s.mu.Unlock()
		fmt.Fprint(w, "status: ok\n")
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(r.PathValue("code"), &code)
		w.WriteHeader(code)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", MaxRegexBody) + "needle"))
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/", http.StatusFound)
	})
	s.Server = httptest.NewUnstartedServer(mux)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	startTestServer(t, s.Server, tls)
	return s
}

// startTestServer starts srv, over TLS when tls is set, until the test
// ends.
func startTestServer(t *testing.T, srv *httptest.Server, tls bool) {
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
}

func (s *server) addr() netip.AddrPort {
	return netip.MustParseAddrPort(s.Listener.Addr().String())
}

func TestHTTP(t *testing.T) {
	srv := newServer(t, false)
	body := []byte("status: ok\n")
	sha := sha256.Sum256(body)
	md := md5.Sum(body)
	tests := []struct {
		name string
		spec Spec
		want string // substring of the error; "" = up
	}{
		{name: "ok", spec: Spec{}},
		{name: "status 503", spec: Spec{Path: "/status/503"}, want: "status 503 not in 200-299"},
		{name: "status 404 accepted", spec: Spec{Path: "/status/404", Status: []StatusRange{{200, 299}, {404, 404}}}},
		{name: "status 204 not in list", spec: Spec{Path: "/status/204", Status: []StatusRange{{200, 200}, {301, 302}}}, want: "status 204 not in 200,301-302"},
		{name: "redirect not followed", spec: Spec{Path: "/redirect"}, want: "status 302 not in 200-299"},
		{name: "redirect accepted", spec: Spec{Path: "/redirect", Status: []StatusRange{{302, 302}}}},
		{name: "sha256 ok", spec: Spec{Digest: Digest{"sha256", sha[:]}}},
		{name: "md5 ok", spec: Spec{Digest: Digest{"md5", md[:]}}},
		{name: "sha256 mismatch", spec: Spec{Digest: Digest{"sha256", make([]byte, 32)}}, want: "body sha256 mismatch"},
		{name: "md5 mismatch", spec: Spec{Digest: Digest{"md5", make([]byte, 16)}}, want: "body md5 mismatch"},
		{name: "regex ok", spec: Spec{Regex: `status: o+k`}},
		{name: "regex missing", spec: Spec{Regex: "healthy"}, want: `regex "healthy" not found in body`},
		{name: "regex beyond the limit", spec: Spec{Path: "/big", Regex: "needle"}, want: `regex "needle" not found`},
		{name: "regex and digest", spec: Spec{Regex: "ok", Digest: Digest{"sha256", sha[:]}}},
		{name: "closed port", spec: Spec{Target: closedPort(t)}, want: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec
			s.Kind = KindHTTP
			if !s.Target.IsValid() {
				s.Target = srv.addr()
			}
			err := probe(t, mustChecker(t, s), 5*time.Second)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestHTTPHostAndConnections(t *testing.T) {
	srv := newServer(t, false)
	withHost := mustChecker(t, Spec{Kind: KindHTTP, Target: srv.addr(), Host: "www.example.org"})
	without := mustChecker(t, Spec{Kind: KindHTTP, Target: srv.addr()})
	for range 3 {
		if err := probe(t, withHost, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if err := probe(t, without, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	want := []string{"www.example.org", "www.example.org", "www.example.org", srv.addr().String()}
	if fmt.Sprint(srv.hosts) != fmt.Sprint(want) {
		t.Errorf("Host headers %q, want %q", srv.hosts, want)
	}
	if srv.conns != 4 {
		t.Errorf("4 probes used %d connections, want one each", srv.conns)
	}
}

func TestHTTPHangingServer(t *testing.T) {
	ln := listen(t)
	hang(t, ln)
	c := mustChecker(t, Spec{Kind: KindHTTP, Target: addrOf(ln)})
	start := time.Now()
	err := probe(t, c, 100*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Errorf("hanging server: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %v with a 100ms timeout", d)
	}
}
