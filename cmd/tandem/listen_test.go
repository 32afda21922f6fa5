package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/metrics"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/conf"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// The listener follows the file: started, moved, stopped.
func TestStatusListener(t *testing.T) {
	get := func(context.Context) (*status.Status, error) {
		return &status.Status{Schema: status.Schema, Node: "d1"}, nil
	}
	l := newStatusListener(slog.New(slog.DiscardHandler), metrics.New(get, "test"), get, nil)
	defer l.Close()
	fetch := func(port int, path string) (string, error) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b), nil
	}
	file := func(port int) *conf.Cluster {
		src := `node "d1" {}`
		if port != 0 {
			src += fmt.Sprintf("\nmetrics {\n  listen = \"127.0.0.1:%d\"\n}\n", port)
		}
		c, diags := conf.Parse([]byte(src), "t.hcl")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return c
	}
	p1, p2 := freePort(t), freePort(t)
	c := file(p1)
	l.configure(c, &c.Nodes[0])
	if body, err := fetch(p1, "/metrics"); err != nil || !strings.Contains(body, "tandem_build_info") {
		t.Fatalf("metrics on %d: %v\n%s", p1, err, body)
	}
	if body, err := fetch(p1, "/status.json"); err != nil || !strings.Contains(body, `"node": "d1"`) {
		t.Fatalf("status.json: %v\n%s", err, body)
	}
	if body, err := fetch(p1, "/grafana-dashboard.json"); err != nil || !strings.Contains(body, `"title": "tandem"`) {
		t.Fatalf("dashboard: %v", err)
	}
	c = file(p2)
	l.configure(c, &c.Nodes[0])
	if _, err := fetch(p2, "/metrics"); err != nil {
		t.Errorf("after the move: %v", err)
	}
	if _, err := fetch(p1, "/metrics"); err == nil {
		t.Errorf("the old address still answers")
	}
	c = file(0)
	l.configure(c, &c.Nodes[0])
	if _, err := fetch(p2, "/metrics"); err == nil {
		t.Errorf("still listening without a metrics block")
	}
}
