package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// DefaultRefresh is the page's reload interval in seconds when the URL
// has no ?refresh=.
const DefaultRefresh = 5

// MaxRefresh is the largest ?refresh= accepted, in seconds.
const MaxRefresh = 3600

// Handler serves the read-only status page at "/" and the status document
// at "/status.json". Any other path is 404, so it can be mounted as a
// ServeMux's "/" beside "/metrics". Only GET and HEAD are allowed (405
// otherwise). get is called once per request with the request's context;
// an error from it is a 503 carrying the error's text. The handler is
// safe for concurrent use if get is.
func Handler(get func(ctx context.Context) (*status.Status, error)) http.Handler {
	return &handler{get: get}
}

type handler struct {
	get func(ctx context.Context) (*status.Status, error)
}

// csp allows the page's inline <style> and nothing else: no scripts, no
// frames, no fetches.
const csp = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && r.URL.Path != "/status.json" {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the status page is read-only", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/status.json" {
		h.serveJSON(w, r)
		return
	}
	h.servePage(w, r)
}

func (h *handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	var body any
	code := http.StatusOK
	st, err := h.get(r.Context())
	if err == nil && st == nil {
		err = errNoDocument
	}
	if err != nil {
		body, code = map[string]string{"error": err.Error()}, http.StatusServiceUnavailable
	} else {
		body = st
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(body); err != nil {
		http.Error(w, "encoding the status document: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	refresh := DefaultRefresh
	if q := r.URL.Query(); q.Has("refresh") {
		n, err := strconv.Atoi(q.Get("refresh"))
		if err != nil || n < 0 || n > MaxRefresh {
			http.Error(w, "refresh must be a number of seconds from 0 (off) to "+strconv.Itoa(MaxRefresh), http.StatusBadRequest)
			return
		}
		refresh = n
	}
	var buf bytes.Buffer
	code := http.StatusOK
	st, err := h.get(r.Context())
	if err == nil && st == nil {
		err = errNoDocument
	}
	if err != nil {
		code = http.StatusServiceUnavailable
		err = pageTmpl.ExecuteTemplate(&buf, "error", errorPage{Title: "tandem · status unavailable", Refresh: refresh, Error: err.Error()})
	} else {
		err = pageTmpl.ExecuteTemplate(&buf, "page", newPage(st, refresh))
	}
	if err != nil {
		http.Error(w, "rendering the status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", csp)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// errNoDocument stands for a get that returned neither a document nor an
// error.
var errNoDocument = errors.New("no status document")
