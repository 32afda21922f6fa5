package director

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/conf"
)

func TestPlacementPeers(t *testing.T) {
	c, diags := conf.Parse([]byte(strings.Replace(announceConf, `node "d1" {}`, `node "d1" {}
node "d2" {
  metrics {
    listen = "10.0.0.2:9115"
  }
}
node "d3" {
  metrics {
    listen = "127.0.0.1:9115"
  }
}
node "d4" {}
metrics {
  listen = "0.0.0.0:9115"
}`, 1)), "p.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := placementPeers(c, &c.Nodes[0])
	if len(got) != 1 || got[0].Node != "d2" || got[0].URL != "http://10.0.0.2:9115/placement.json" {
		t.Errorf("peers = %+v, want only d2 (d3 loopback, d4 the wildcard)", got)
	}
}

func TestReadPlacement(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(Placement{Node: "d2", PlacementHash: "abc"})
	}))
	defer srv.Close()
	hc := &http.Client{Timeout: time.Second}
	if h, e := readPlacement(context.Background(), hc, srv.URL, "d2"); h != "abc" || e != "" {
		t.Errorf("read %q, %q", h, e)
	}
	if h, e := readPlacement(context.Background(), hc, srv.URL, "d3"); h != "" || !strings.Contains(e, `answers as node "d2"`) {
		t.Errorf("another node's answer: %q, %q", h, e)
	}
	srv.Close()
	if h, e := readPlacement(context.Background(), hc, srv.URL, "d2"); h != "" || e == "" {
		t.Errorf("closed server: %q, %q", h, e)
	}

	d := New(Config{})
	d.placement = "abc"
	d.notePlacement([]PeerPlacement{{Node: "d2", Hash: "abc"}, {Node: "d3", Hash: "xyz"}, {Node: "d4", Err: "refused"}})
	if len(d.peerPlacement) != 3 {
		t.Fatalf("kept %+v", d.peerPlacement)
	}
}
