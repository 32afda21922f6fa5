package bgp

// The tests run real BGP sessions over loopback TCP between GoBGP
// servers: a "router" (plain GoBGP, listening on 127.0.0.1, a free high
// port) and Speakers (127.0.0.2, .3, ... as session source addresses).
// GoBGP v4 keeps route-selection settings in package variables written by
// every StartBgp (see the package doc), so two GoBGP servers in one
// process race; each router and each Speaker therefore runs in its own
// child process (this test binary, re-executed with TANDEM_BGP_TEST_CHILD
// set, with the same -race instrumentation), driven over stdin/stdout with
// one JSON request and one JSON response per line. A child that reports a
// data race or panics fails the test that started it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
	"github.com/osrg/gobgp/v4/pkg/server"
)

const childEnv = "TANDEM_BGP_TEST_CHILD"

// request is one command to a child.
type request struct {
	Op       string
	Cfg      *Config        `json:",omitempty"`
	Prefixes []netip.Prefix `json:",omitempty"`
	Graceful bool           `json:",omitempty"`
	Timeout  time.Duration  `json:",omitempty"`
	Addr     netip.Addr     `json:",omitzero"`
	Router   *routerSpec    `json:",omitempty"`
}

// response is a child's answer.
type response struct {
	Err        string         `json:",omitempty"`
	Prefixes   []netip.Prefix `json:",omitempty"`
	Peers      []PeerState    `json:",omitempty"`
	Changes    int64          `json:",omitempty"`
	Port       uint16         `json:",omitempty"`
	Paths      []rpath        `json:",omitempty"`
	Neighbor   *neighborInfo  `json:",omitempty"`
	Goroutines int            `json:",omitempty"`
}

// routerSpec configures a router child.
type routerSpec struct {
	AS        uint32
	Neighbors []neighbor
}

type neighbor struct {
	Addr     netip.Addr
	AS       uint32
	GR       bool   // graceful restart helper
	Password string // TCP MD5
}

// rpath is one path in the router's RIB.
type rpath struct {
	Prefix      netip.Prefix
	From        netip.Addr // the neighbour (speaker) it came from
	Nexthop     netip.Addr
	Stale       bool
	Communities []uint32
	MED         *uint32
	LocalPref   *uint32
	ASPath      []uint32
}

func (p rpath) String() string {
	return fmt.Sprintf("%s from %s nh %s stale %v", p.Prefix, p.From, p.Nexthop, p.Stale)
}

// neighborInfo is the router's view of one neighbour.
type neighborInfo struct {
	State                                     string
	RecvNotification, RecvWithdrawn, RecvOpen uint64
	NegotiatedHold                            uint64
	RouterID                                  string
}

func childLog() *slog.Logger {
	if os.Getenv("TANDEM_BGP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// childMain serves requests until stdin closes; it is the whole child.
func childMain(mode string) int {
	dec := json.NewDecoder(bufio.NewReader(os.Stdin))
	enc := json.NewEncoder(os.Stdout)
	var (
		sp      *Speaker
		changes atomic.Int64
		rt      *server.BgpServer
	)
	defer func() {
		if sp != nil {
			sp.Stop(false)
		}
		if rt != nil {
			rt.Stop()
		}
	}()
	errString := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(os.Stderr, "child: bad request:", err)
			return 3
		}
		var resp response
		switch {
		case mode == "router" && req.Op == "start":
			var port uint16
			var err error
			rt, port, err = startRouter(req.Router)
			resp.Port, resp.Err = port, errString(err)
		case mode == "router" && req.Op == "paths":
			var err error
			resp.Paths, err = routerPaths(rt)
			resp.Err = errString(err)
		case mode == "router" && req.Op == "neighbor":
			var err error
			resp.Neighbor, err = routerNeighbor(rt, req.Addr)
			resp.Err = errString(err)
		case mode == "speaker" && req.Op == "start":
			var err error
			sp, err = Start(context.Background(), *req.Cfg, childLog(), func() { changes.Add(1) })
			resp.Err = errString(err)
		case mode == "speaker" && req.Op == "leak":
			resp.Err = errString(leakCycle(*req.Cfg, req.Graceful))
		case mode == "speaker" && sp == nil:
			resp.Err = "no speaker started"
		case mode == "speaker" && req.Op == "announce":
			resp.Err = errString(sp.Announce(req.Prefixes))
		case mode == "speaker" && req.Op == "announced":
			resp.Prefixes = sp.Announced()
		case mode == "speaker" && req.Op == "peers":
			resp.Peers = sp.Peers()
			resp.Changes = changes.Load()
		case mode == "speaker" && req.Op == "withdrawall":
			ctx, cancel := context.WithTimeout(context.Background(), req.Timeout)
			resp.Err = errString(sp.WithdrawAll(ctx))
			cancel()
		case mode == "speaker" && req.Op == "reconfigure":
			resp.Err = errString(sp.Reconfigure(*req.Cfg))
		case mode == "speaker" && req.Op == "stop":
			sp.Stop(req.Graceful)
		default:
			resp.Err = fmt.Sprintf("child %s: unknown op %q", mode, req.Op)
		}
		if err := enc.Encode(&resp); err != nil {
			fmt.Fprintln(os.Stderr, "child: write:", err)
			return 3
		}
	}
}

// leakCycle starts a Speaker, waits for its session, announces, stops
// it, and checks that the goroutine count comes back (bounded wait).
func leakCycle(cfg Config, graceful bool) error {
	before := runtime.NumGoroutine()
	s, err := Start(context.Background(), cfg, childLog(), nil)
	if err != nil {
		return err
	}
	if err := s.Announce([]netip.Prefix{vip}); err != nil {
		return err
	}
	deadline := time.Now().Add(waitBound)
	for ps := s.Peers(); len(ps) != 1 || ps[0].State != "established"; ps = s.Peers() {
		if time.Now().After(deadline) {
			s.Stop(false)
			return fmt.Errorf("session not established: %+v", ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Stop(graceful)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			return fmt.Errorf("%d goroutines before Start, %d after Stop:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// startRouter starts a GoBGP router with multipath on 127.0.0.1 (a free
// port), passive towards its neighbours, IPv4 and IPv6 unicast on each.
func startRouter(spec *routerSpec) (*server.BgpServer, uint16, error) {
	if spec == nil {
		return nil, 0, errors.New("no router spec")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	lvl := new(slog.LevelVar)
	s := server.NewBgpServer(server.LoggerOption(childLog(), lvl))
	go s.Serve()
	ctx := context.Background()
	if err := s.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn:              spec.AS,
		RouterId:         "127.0.0.1",
		ListenPort:       int32(port),
		ListenAddresses:  []string{"127.0.0.1"},
		UseMultiplePaths: true,
	}}); err != nil {
		return s, 0, err
	}
	for _, n := range spec.Neighbors {
		p := &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: n.Addr.String(), PeerAsn: n.AS, AuthPassword: n.Password},
			Transport: &api.Transport{PassiveMode: true},
		}
		for _, f := range []*api.Family{familyV4, familyV6} {
			af := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}}
			if n.GR {
				af.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
			}
			p.AfiSafis = append(p.AfiSafis, af)
		}
		if n.GR {
			p.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: 120}
		}
		if err := s.AddPeer(ctx, &api.AddPeerRequest{Peer: p}); err != nil {
			return s, 0, err
		}
	}
	return s, port, nil
}

func routerPaths(s *server.BgpServer) ([]rpath, error) {
	if s == nil {
		return nil, errors.New("no router")
	}
	var out []rpath
	var perr error
	for _, fam := range []bgp.Family{bgp.RF_IPv4_UC, bgp.RF_IPv6_UC} {
		err := s.ListPath(apiutil.ListPathRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL, Family: fam}, func(prefix bgp.NLRI, ps []*apiutil.Path) {
			pfx, err := netip.ParsePrefix(prefix.String())
			if err != nil {
				perr = fmt.Errorf("router prefix %q: %v", prefix, err)
				return
			}
			for _, p := range ps {
				rp := rpath{Prefix: pfx, From: p.PeerAddress, Stale: p.Stale}
				for _, a := range p.Attrs {
					switch a := a.(type) {
					case *bgp.PathAttributeNextHop:
						rp.Nexthop = a.Value
					case *bgp.PathAttributeMpReachNLRI:
						rp.Nexthop = a.Nexthop
					case *bgp.PathAttributeCommunities:
						rp.Communities = a.Value
					case *bgp.PathAttributeMultiExitDisc:
						v := a.Value
						rp.MED = &v
					case *bgp.PathAttributeLocalPref:
						v := a.Value
						rp.LocalPref = &v
					case *bgp.PathAttributeAsPath:
						for _, seg := range a.Value {
							rp.ASPath = append(rp.ASPath, seg.GetAS()...)
						}
					}
				}
				out = append(out, rp)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	return out, perr
}

func routerNeighbor(s *server.BgpServer, a netip.Addr) (*neighborInfo, error) {
	if s == nil {
		return nil, errors.New("no router")
	}
	var p *api.Peer
	if err := s.ListPeer(context.Background(), &api.ListPeerRequest{Address: a.String()}, func(x *api.Peer) { p = x }); err != nil {
		return nil, err
	}
	if p == nil {
		return nil, fmt.Errorf("router has no neighbour %s", a)
	}
	m := p.GetState().GetMessages().GetReceived()
	return &neighborInfo{
		State:            apiStateName(p.GetState().GetSessionState()),
		RecvNotification: m.GetNotification(),
		RecvWithdrawn:    m.GetWithdrawPrefix(),
		RecvOpen:         m.GetOpen(),
		NegotiatedHold:   p.GetTimers().GetState().GetNegotiatedHoldTime(),
		RouterID:         p.GetState().GetRouterId(),
	}, nil
}

// lockedBuffer collects a child's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// child is a running child process.
type child struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	dec    *json.Decoder
	stderr *lockedBuffer
	done   chan struct{}
	dead   atomic.Bool
}

const callBound = 20 * time.Second

// spawn starts a child in mode ("router" or "speaker"); the test's
// cleanup closes its stdin, waits (bounded) and fails the test if the
// child reported a data race, panicked or exited non-zero.
func spawn(t *testing.T, mode, name string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{t: t, name: name, cmd: cmd, in: in, dec: json.NewDecoder(out), stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.close)
	return c
}

func (c *child) close() {
	if c.dead.Swap(true) {
		return
	}
	c.in.Close()
	waited := make(chan error, 1)
	go func() { waited <- c.cmd.Wait() }()
	var err error
	select {
	case err = <-waited:
	case <-time.After(callBound):
		_ = c.cmd.Process.Kill()
		err = <-waited
		c.t.Errorf("child %s did not exit within %s", c.name, callBound)
	}
	serr := c.stderr.String()
	if err != nil || strings.Contains(serr, "DATA RACE") || strings.Contains(serr, "panic:") {
		c.t.Errorf("child %s: exit %v, stderr:\n%s", c.name, err, serr)
	}
}

// call sends req and returns the response; bounded by callBound.
func (c *child) call(req request) response {
	c.t.Helper()
	if c.dead.Load() {
		c.t.Fatalf("child %s already closed", c.name)
	}
	b, err := json.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	type result struct {
		r   response
		err error
	}
	ch := make(chan result, 1)
	go func() {
		var r response
		err := c.dec.Decode(&r)
		ch <- result{r, err}
	}()
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("child %s: write %s: %v\nstderr:\n%s", c.name, req.Op, err, c.stderr.String())
	}
	select {
	case res := <-ch:
		if res.err != nil {
			c.t.Fatalf("child %s: %s: %v\nstderr:\n%s", c.name, req.Op, res.err, c.stderr.String())
		}
		return res.r
	case <-time.After(callBound):
		_ = c.cmd.Process.Kill()
		c.t.Fatalf("child %s: no answer to %s within %s\nstderr:\n%s", c.name, req.Op, callBound, c.stderr.String())
	}
	return response{}
}

// mustCall is call that fails the test on an error response.
func (c *child) mustCall(req request) response {
	c.t.Helper()
	r := c.call(req)
	if r.Err != "" {
		c.t.Fatalf("child %s: %s: %s", c.name, req.Op, r.Err)
	}
	return r
}

// router is a router child.
type router struct {
	c    *child
	as   uint32
	port uint16
}

func newRouter(t *testing.T, as uint32, ns ...neighbor) *router {
	t.Helper()
	c := spawn(t, "router", "router")
	r := c.mustCall(request{Op: "start", Router: &routerSpec{AS: as, Neighbors: ns}})
	return &router{c: c, as: as, port: r.Port}
}

func (r *router) paths() []rpath { return r.c.mustCall(request{Op: "paths"}).Paths }

func (r *router) pathsFrom(a netip.Addr) []rpath {
	var out []rpath
	for _, p := range r.paths() {
		if p.From == a {
			out = append(out, p)
		}
	}
	return out
}

func (r *router) neighbor(a netip.Addr) neighborInfo {
	return *r.c.mustCall(request{Op: "neighbor", Addr: a}).Neighbor
}

func (r *router) established(a netip.Addr) bool { return r.neighbor(a).State == "established" }

func (r *router) speakerCfg(local netip.Addr, as uint32, gr bool) Config {
	return Config{
		LocalAS:    as,
		RouterID:   local,
		ListenPort: -1,
		Peers: []Peer{{
			Address:         netip.MustParseAddr("127.0.0.1"),
			AS:              r.as,
			Port:            r.port,
			LocalAddress:    local,
			GracefulRestart: gr,
		}},
	}
}

// speaker is a Speaker in a child process.
type speaker struct{ c *child }

func errOf(r response) error {
	if r.Err == "" {
		return nil
	}
	return errors.New(r.Err)
}

// startSpeaker starts a child with a Speaker for cfg.
func startSpeaker(t *testing.T, name string, cfg Config) *speaker {
	t.Helper()
	s := &speaker{c: spawn(t, "speaker", name)}
	s.c.mustCall(request{Op: "start", Cfg: &cfg})
	return s
}

func (s *speaker) restart(cfg Config) error {
	return errOf(s.c.call(request{Op: "start", Cfg: &cfg}))
}
func (s *speaker) Announce(ps []netip.Prefix) error {
	return errOf(s.c.call(request{Op: "announce", Prefixes: ps}))
}
func (s *speaker) Announced() []netip.Prefix { return s.c.mustCall(request{Op: "announced"}).Prefixes }
func (s *speaker) Peers() []PeerState        { return s.c.mustCall(request{Op: "peers"}).Peers }
func (s *speaker) changes() int64            { return s.c.mustCall(request{Op: "peers"}).Changes }
func (s *speaker) WithdrawAll(d time.Duration) error {
	return errOf(s.c.call(request{Op: "withdrawall", Timeout: d}))
}
func (s *speaker) Reconfigure(cfg Config) error {
	return errOf(s.c.call(request{Op: "reconfigure", Cfg: &cfg}))
}
func (s *speaker) Stop(graceful bool) { s.c.mustCall(request{Op: "stop", Graceful: graceful}) }
