// Package control is tandem's control socket: the one request/response
// protocol that every command talking to a running `tandem run` uses
// (`tandem reload`, `tandem plan`, `tandem status`, the maintenance
// commands).
//
// It is HTTP/1.1 over a unix socket, one JSON document each way. The
// socket is mode 0600 (root and the daemon's own user), or 0660 and of
// the group Access.Group names; every connection's peer is checked again
// with SO_PEERCRED (Access), so that a socket whose mode or directory is
// looser than meant still serves no one else:
//
//	POST /v1/reload          -> Response{Plan, Timing} or {Error, Diagnostics}
//	POST /v1/plan  {"path"}  -> Response{Plan} or {Error, Diagnostics}
//	GET  /v1/status          -> Response{Status}
//	POST /v1/maintenance {"virtual_server", "real_server", "mode", "now"}
//	                         -> Response{Maintenance}
//	POST /v1/drain-node      -> Response{Drain} (then the daemon stops)
//
// An error answer has status 422 (the file), 404 (a maintenance request
// naming no server of the file), 400 (a bad request), 403 (a caller that
// is not root nor of the group) or 500 (the host); the body always
// decodes as a Response.
package control

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
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/memtrim"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// Daemon is what the socket serves: a *director.Director.
type Daemon interface {
	Reload(ctx context.Context) (*director.ReloadResult, error)
	Plan(ctx context.Context, path string) (*director.Plan, error)
	Status(ctx context.Context) (*status.Status, error)
	Maintain(ctx context.Context, req director.MaintenanceRequest) (*director.MaintenanceResult, error)
	DrainNode(ctx context.Context) (*director.DrainResult, error)
}

// PlanRequest asks for the plan of a file; Path is absolute (the client
// resolves it: the daemon's working directory is not the operator's).
type PlanRequest struct {
	Path string `json:"path"`
}

// Response is every answer.
type Response struct {
	Plan   *director.Plan   `json:"plan,omitempty"`
	Timing *director.Timing `json:"timing,omitempty"`
	Status *status.Status   `json:"status,omitempty"`

	Maintenance *director.MaintenanceResult `json:"maintenance,omitempty"`
	Drain       *director.DrainResult       `json:"drain,omitempty"`
	// Error is set when the request failed; Diagnostics then holds the
	// file's diagnostics as `tandem check` prints them, when it has any.
	Error       string `json:"error,omitempty"`
	Diagnostics string `json:"diagnostics,omitempty"`
}

// maxRequest bounds a request body: a plan request is a path.
const maxRequest = 64 << 10

// Serve listens on the unix socket at path (replacing a stale one: the
// caller holds the node's lock, so no other daemon owns it) and serves d,
// to the callers a allows, until Close. Refusals are logged to log (nil:
// not logged).
func Serve(path string, d Daemon, a Access, log *slog.Logger) (*Server, error) {
	gid, err := ResolveGroup(a.Group)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pl := policy{self: uint32(os.Geteuid()), gid: gid, group: a.Group, groups: procGroups}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mode := os.FileMode(0o600)
	if gid >= 0 {
		mode = 0o660
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("control socket: chgrp %d %s: %w", gid, path, err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		res, err := d.Reload(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, http.StatusOK, Response{Plan: res.Plan, Timing: &res.Timing})
	})
	mux.HandleFunc("POST /v1/plan", func(w http.ResponseWriter, r *http.Request) {
		var req PlanRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequest)).Decode(&req); err != nil || !filepath.IsAbs(req.Path) {
			reply(w, http.StatusBadRequest, Response{Error: "bad request: want {\"path\": ABSOLUTE-PATH}"})
			return
		}
		p, err := d.Plan(r.Context(), req.Path)
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, http.StatusOK, Response{Plan: p})
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := d.Status(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		// The daemon renders what `tandem status` prints: at 10 000 real
		// servers, a document decoded and rendered again by the client
		// would cost it more than the kernel read.
		q := r.URL.Query()
		switch q.Get("format") {
		case "text":
			cols := status.Conns
			switch q.Get("columns") {
			case "stats":
				cols = status.Totals
			case "rate":
				cols = status.Rates
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			bw := bufio.NewWriterSize(w, 64<<10)
			status.Write(bw, st, cols, time.Now())
			bw.Flush()
		case "json":
			w.Header().Set("Content-Type", "application/json")
			bw := bufio.NewWriterSize(w, 64<<10)
			enc := json.NewEncoder(bw)
			enc.SetIndent("", "  ")
			enc.Encode(st)
			bw.Flush()
		default:
			reply(w, http.StatusOK, Response{Status: st})
		}
	})
	mux.HandleFunc("POST /v1/maintenance", func(w http.ResponseWriter, r *http.Request) {
		var req director.MaintenanceRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, maxRequest)).Decode(&req); err != nil {
			reply(w, http.StatusBadRequest, Response{Error: "bad request: " + err.Error()})
			return
		}
		res, err := d.Maintain(r.Context(), req)
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, http.StatusOK, Response{Maintenance: res})
	})
	mux.HandleFunc("POST /v1/drain-node", func(w http.ResponseWriter, r *http.Request) {
		res, err := d.DrainNode(r.Context())
		if err != nil {
			writeError(w, err)
			return
		}
		reply(w, http.StatusOK, Response{Drain: res})
	})
	s := &Server{ln: ln, path: path, srv: &http.Server{
		Handler:           guard(pl, log, memtrim.Handler(mux)),
		ReadHeaderTimeout: 5 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			p, err := peerOf(c)
			return context.WithValue(ctx, peerKey{}, peerInfo{p, err})
		},
	}}
	go s.srv.Serve(ln)
	return s, nil
}

// peerKey is the context key of a connection's peerInfo.
type peerKey struct{}

type peerInfo struct {
	peer Peer
	err  error
}

// guard serves the requests of the callers pl allows and refuses the
// others with 403 and one line.
func guard(pl policy, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pi, _ := r.Context().Value(peerKey{}).(peerInfo)
		if pi.err != nil {
			log.Warn("control socket: request refused", "reason", "peer credentials unknown", "err", pi.err, "path", r.URL.Path)
			reply(w, http.StatusForbidden, Response{Error: "tandem's control socket refused the request: the caller's credentials cannot be read (" + pi.err.Error() + ")"})
			return
		}
		if ok, why := pl.allow(pi.peer); !ok {
			log.Warn("control socket: request refused", "uid", pi.peer.UID, "gid", pi.peer.GID, "pid", pi.peer.PID, "path", r.URL.Path)
			reply(w, http.StatusForbidden, Response{Error: why})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Server is a serving control socket.
type Server struct {
	ln   net.Listener
	path string
	srv  *http.Server
}

// Close stops serving (requests in progress get up to a second to
// finish, then are cut) and removes the socket.
func (s *Server) Close() error {
	// Requests in flight get their answer (drain-node's comes just
	// before the daemon stops), for at most a second.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	os.Remove(s.path)
	return err
}

func writeError(w http.ResponseWriter, err error) {
	res := Response{Error: err.Error()}
	code := http.StatusInternalServerError
	var le *director.LoadError
	if errors.Is(err, director.ErrNotFound) || errors.Is(err, director.ErrNoBGP) {
		code = http.StatusNotFound
	} else if errors.Is(err, director.ErrBadRequest) {
		code = http.StatusBadRequest
	}
	if errors.As(err, &le) {
		code = http.StatusUnprocessableEntity
		if le.Diags != nil {
			var b bytes.Buffer
			le.Files.WriteDiagnostics(&b, le.Diags)
			res.Diagnostics = b.String()
		}
	}
	reply(w, code, res)
}

func reply(w http.ResponseWriter, code int, res Response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(res)
}

// Client talks to the daemon at a socket path.
type Client struct {
	Path string
}

// ErrNoDaemon is returned when no daemon answers on the socket.
var ErrNoDaemon = errors.New("no tandem run answers on the control socket")

// Reload asks the daemon to reload its file.
func (c Client) Reload(ctx context.Context) (*Response, error) {
	return c.do(ctx, "/v1/reload", nil)
}

// Plan asks the daemon for the plan of the file at path.
func (c Client) Plan(ctx context.Context, path string) (*Response, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, "/v1/plan", PlanRequest{Path: abs})
}

// Status asks the daemon for its status document.
func (c Client) Status(ctx context.Context) (*Response, error) {
	return c.send(ctx, http.MethodGet, "/v1/status", nil)
}

// StatusTo copies the daemon's status, rendered by it, to w: format is
// "text" (columns "", "stats" or "rate") or "json" (the document,
// indented).
func (c Client) StatusTo(ctx context.Context, w io.Writer, format, columns string) error {
	hc := c.http()
	defer hc.CloseIdleConnections()
	q := url.Values{"format": {format}, "columns": {columns}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://tandem/v1/status?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return dialError(c.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var res Response
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil || res.Error == "" {
			return fmt.Errorf("control socket: %s", resp.Status)
		}
		return errors.New(res.Error)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

// Maintain sends a maintenance request.
func (c Client) Maintain(ctx context.Context, req director.MaintenanceRequest) (*Response, error) {
	return c.do(ctx, "/v1/maintenance", req)
}

// DrainNode asks the daemon to withdraw its BGP routes and stop.
func (c Client) DrainNode(ctx context.Context) (*Response, error) {
	return c.do(ctx, "/v1/drain-node", nil)
}

// do posts body (nil: none) and decodes the answer; an answer with an
// error comes back as a Response with Error set, and a nil error.
func (c Client) do(ctx context.Context, url string, body any) (*Response, error) {
	return c.send(ctx, http.MethodPost, url, body)
}

func (c Client) send(ctx context.Context, method, url string, body any) (*Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	hc := c.http()
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, method, "http://tandem"+url, rd)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, dialError(c.Path, err)
	}
	defer resp.Body.Close()
	var res Response
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("control socket: bad answer (%s): %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK && res.Error == "" {
		res.Error = resp.Status
	}
	return &res, nil
}

func (c Client) http() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", c.Path)
		},
	}}
}

// ErrDenied is returned when the socket's mode keeps the caller out.
var ErrDenied = errors.New("permission denied")

// dialError is ErrNoDaemon when the socket does not answer, ErrDenied
// when its mode refuses the caller.
func dialError(path string, err error) error {
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" && errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("control socket %s: %w: only root (and the members of the group tandem run's --socket-group names) may use it", path, ErrDenied)
	}
	if errors.As(err, &ne) && ne.Op == "dial" {
		return fmt.Errorf("%w (%s): %v", ErrNoDaemon, path, ne.Err)
	}
	return err
}
