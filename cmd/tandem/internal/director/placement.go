package director

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/tandem-lb/tandem/conf"
)

// The placement check of a BGP cluster: every director must send a flow
// to the same real server, so every director must run the same
// placement (placementHash). Each director serves its own at
// /placement.json on its metrics listener, and reads the other nodes'
// there every placementEvery, when their metrics address names one host
// (a node's own metrics block, or the cluster's when it is not a
// wildcard or loopback address). A mismatch shows in status and metrics.

// placementEvery is how often the other directors' placement is read.
const (
	placementEvery = 10 * time.Second
	placementRetry = 2 * time.Second // while one is not readable
)

// Placement is what /placement.json serves.
type Placement struct {
	Node          string `json:"node"`
	PlacementHash string `json:"placement_hash"`
	ConfigHash    string `json:"config_hash"`
}

// PeerPlacement is another director's placement, as last read.
type PeerPlacement struct {
	Node    string
	URL     string
	Hash    string // "" when it could not be read
	Err     string
	Checked time.Time
}

// Placement returns this director's placement; ok is false before the
// start completed or without BGP.
func (d *Director) Placement() (Placement, bool) {
	s := d.Snapshot()
	if s == nil || s.Config.BGP == nil {
		return Placement{}, false
	}
	return Placement{Node: s.Node, PlacementHash: s.Placement, ConfigHash: s.Config.Hash}, true
}

// placementPeers returns, for each other node whose status can be read,
// its placement URL.
func placementPeers(c *conf.Cluster, self *conf.Node) []PeerPlacement {
	var out []PeerPlacement
	for i := range c.Nodes {
		n := &c.Nodes[i]
		if n.Name == self.Name {
			continue
		}
		ap, ok := c.MetricsListen(n)
		if !ok || ap.Addr().IsUnspecified() || ap.Addr().IsLoopback() {
			continue
		}
		out = append(out, PeerPlacement{Node: n.Name, URL: "http://" + ap.String() + "/placement.json"})
	}
	return out
}

// watchPlacement reads the other directors' placement every
// placementEvery until ctx is done, and posts what it read to the loop.
func (d *Director) watchPlacement(ctx context.Context) {
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		var peers []PeerPlacement
		if err := d.call(ctx, func() {
			if d.c.BGP != nil {
				peers = placementPeers(d.c, d.node)
			}
		}); err != nil {
			return
		}
		for i := range peers {
			p := &peers[i]
			p.Hash, p.Err = readPlacement(ctx, hc, p.URL, p.Node)
			p.Checked = time.Now()
		}
		d.post(ctx, func() { d.notePlacement(peers) })
		// Directors start at about the same time: one not readable yet
		// is tried again sooner.
		wait := placementEvery
		for _, p := range peers {
			if p.Hash == "" {
				wait = placementRetry
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// readPlacement reads one director's placement hash.
func readPlacement(ctx context.Context, hc *http.Client, url, node string) (hash, errMsg string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Sprintf("%s: %s", url, resp.Status)
	}
	var p Placement
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p); err != nil {
		return "", fmt.Sprintf("%s: %v", url, err)
	}
	if p.Node != node {
		return "", fmt.Sprintf("%s answers as node %q", url, p.Node)
	}
	return p.PlacementHash, ""
}

// notePlacement keeps what watchPlacement read, and logs a change of
// verdict (same, different, unreadable).
func (d *Director) notePlacement(peers []PeerPlacement) {
	verdict := func(p PeerPlacement) string {
		switch {
		case p.Hash == "":
			return "unreadable"
		case p.Hash == d.placement:
			return "same"
		}
		return "different"
	}
	old := map[string]PeerPlacement{}
	for _, p := range d.peerPlacement {
		old[p.Node] = p
	}
	for _, p := range peers {
		o, seen := old[p.Node]
		v := verdict(p)
		if seen && verdict(o) == v {
			continue
		}
		switch v {
		case "different":
			d.log.Error("placement differs from another director's: the same flow goes to different real servers", "node", p.Node, "ours", d.placement, "theirs", p.Hash)
		case "unreadable":
			d.log.Warn("placement of another director not readable", "node", p.Node, "err", p.Err)
		default:
			if seen {
				d.log.Info("placement agrees with another director's again", "node", p.Node, "hash", p.Hash)
			}
		}
	}
	d.peerPlacement = peers
}
