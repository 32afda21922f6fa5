package healthcheck

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testPKI is a CA and a leaf certificate for backend.example only (no IP
// SAN), signed by it.
type testPKI struct {
	caFile string
	leaf   tls.Certificate
}

func newPKI(t *testing.T) testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tandem test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "backend.example"},
		DNSNames:     []string{"backend.example"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return testPKI{caFile: caFile, leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}
}

func TestHTTPS(t *testing.T) {
	pki := newPKI(t)
	var mu sync.Mutex
	var sni []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sni = append(sni, r.TLS.ServerName)
		mu.Unlock()
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.leaf}}
	srv.StartTLS()
	defer srv.Close()
	addr := (&server{Server: srv}).addr()

	tests := []struct {
		name    string
		tls     TLSConfig
		host    string
		want    string // substring of the error; "" = up
		wantSNI string // the SNI the server saw when up
	}{
		{name: "ca file and server name", tls: TLSConfig{CAFile: pki.caFile, ServerName: "backend.example"}, wantSNI: "backend.example"},
		{name: "server name from host", tls: TLSConfig{CAFile: pki.caFile}, host: "backend.example:443", wantSNI: "backend.example"},
		{name: "system roots", tls: TLSConfig{ServerName: "backend.example"}, want: "tls: failed to verify certificate: x509: certificate signed by unknown authority"},
		{name: "wrong name", tls: TLSConfig{CAFile: pki.caFile, ServerName: "other.example"}, want: "x509: certificate is valid for backend.example, not other.example"},
		{name: "ip address", tls: TLSConfig{CAFile: pki.caFile}, want: "x509: cannot validate certificate for 127.0.0.1"},
		{name: "insecure", tls: TLSConfig{InsecureSkipVerify: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			sni = nil
			mu.Unlock()
			c := mustChecker(t, Spec{Kind: KindHTTPS, Target: addr, Host: tt.host, TLS: tt.tls})
			err := probe(t, c, 5*time.Second)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if tt.want == "" && (len(sni) != 1 || sni[0] != tt.wantSNI) {
				t.Errorf("server saw SNI %q, want [%q]", sni, tt.wantSNI)
			}
		})
	}

	t.Run("missing ca file", func(t *testing.T) {
		_, err := NewChecker(Spec{Kind: KindHTTPS, Target: addr, TLS: TLSConfig{CAFile: filepath.Join(t.TempDir(), "nope.pem")}})
		if err == nil || !strings.Contains(err.Error(), "ca file") {
			t.Errorf("NewChecker: %v, want a ca file error", err)
		}
	})
	t.Run("ca file not a regular file", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"/dev/zero", t.TempDir(), fifo} {
			_, err := NewChecker(Spec{Kind: KindHTTPS, Target: addr, TLS: TLSConfig{CAFile: f}})
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s: NewChecker: %v, want not a regular file", f, err)
			}
		}
	})
	t.Run("ca file too large", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "big.pem")
		os.WriteFile(f, make([]byte, maxCAFile+1), 0o644)
		_, err := NewChecker(Spec{Kind: KindHTTPS, Target: addr, TLS: TLSConfig{CAFile: f}})
		if err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
			t.Errorf("NewChecker: %v, want larger than 1024 KiB", err)
		}
	})
	t.Run("ca file without certificates", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "empty.pem")
		os.WriteFile(f, []byte("not a certificate\n"), 0o644)
		_, err := NewChecker(Spec{Kind: KindHTTPS, Target: addr, TLS: TLSConfig{CAFile: f}})
		if err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Errorf("NewChecker: %v, want no PEM certificate", err)
		}
	})
	t.Run("http against https", func(t *testing.T) {
		err := probe(t, mustChecker(t, Spec{Kind: KindHTTP, Target: addr}), 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "status 400") {
			t.Errorf("plain HTTP to a TLS port: %v, want status 400", err)
		}
	})
}
