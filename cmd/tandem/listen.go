package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/memtrim"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/metrics"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/web"
	"github.com/tandem-lb/tandem/conf"
)

// statusListener is the file's metrics listener: /metrics for
// Prometheus, / and /status.json for people. It follows the running
// config: a reload that changes metrics.listen moves it, one that
// removes the block closes it.
type statusListener struct {
	log     *slog.Logger
	handler http.Handler

	mu   sync.Mutex
	addr netip.AddrPort // zero: not listening
	srv  *http.Server
}

func newStatusListener(log *slog.Logger, m *metrics.Metrics, get func(context.Context) (*status.Status, error),
	placement func() (director.Placement, bool)) *statusListener {
	mux := http.NewServeMux()
	// The other directors of a BGP cluster read it (director's
	// placement.go): small, and no kernel read.
	mux.HandleFunc("GET /placement.json", func(w http.ResponseWriter, _ *http.Request) {
		p, ok := director.Placement{}, false
		if placement != nil {
			p, ok = placement()
		}
		if !ok {
			http.Error(w, "no placement: not running, or no bgp block", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(p)
	})
	mux.Handle("/metrics", m.Handler())
	mux.HandleFunc("GET /grafana-dashboard.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(metrics.Dashboard)
	})
	mux.Handle("/", web.Handler(get))
	return &statusListener{log: log, handler: memtrim.Handler(mux)}
}

// configure is the director's OnConfig: it (re)binds the listener to c's
// address for n, the new one bound before the old one closes (or after,
// when they collide). A bind that fails is logged and leaves the
// listener off: metrics never stop a running director (a start fails
// instead: start).
func (l *statusListener) configure(c *conf.Cluster, n *conf.Node) {
	ap, ok := c.MetricsListen(n)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok && ap == l.addr && l.srv != nil {
		return
	}
	if !ok {
		l.closeLocked()
		return
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil && l.srv != nil {
		l.closeLocked() // 0.0.0.0:9115 -> 127.0.0.1:9115: the old one holds the port
		ln, err = net.Listen("tcp", ap.String())
	}
	if err != nil {
		l.log.Error("metrics listener not started", "listen", ap.String(), "err", err)
		return
	}
	l.closeLocked()
	l.serveLocked(ap, ln)
}

// start binds the listener of c for n at the start of tandem run: unlike
// a reload's, a port that cannot be bound fails the start, before
// anything is applied (the director's first configure then finds it
// bound).
func (l *statusListener) start(c *conf.Cluster, n *conf.Node) error {
	ap, ok := c.MetricsListen(n)
	if !ok {
		return nil
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		where := "metrics listen"
		if p := c.MetricsListenPos(n); p != "" {
			where += ", " + p
		}
		return fmt.Errorf("metrics listener %s (%s): %w. Hint: stop what holds the port (ss -ltnp 'sport = :%d'), or change metrics.listen", ap, where, err, ap.Port())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.serveLocked(ap, ln)
	return nil
}

// serveLocked serves on ln, bound to ap.
func (l *statusListener) serveLocked(ap netip.AddrPort, ln net.Listener) {
	l.addr = ap
	l.srv = &http.Server{Handler: l.handler, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func(srv *http.Server) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("metrics listener failed", "err", err)
		}
	}(l.srv)
	l.log.Info("metrics and status page", "listen", ln.Addr().String())
}

func (l *statusListener) closeLocked() {
	if l.srv != nil {
		l.srv.Close()
		l.log.Info("metrics listener closed", "listen", l.addr.String())
	}
	l.srv, l.addr = nil, netip.AddrPort{}
}

// Close stops listening.
func (l *statusListener) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closeLocked()
}
