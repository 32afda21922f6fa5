package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/html"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/web/webtest"
)

func serve(st *status.Status, err error) http.Handler {
	return Handler(func(context.Context) (*status.Status, error) { return st, err })
}

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func parse(t *testing.T, resp *http.Response) *html.Node {
	t.Helper()
	doc, err := html.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestPageFields: every data-field on the page equals the document's
// value at its scope and path, every instance, virtual server, real
// server, foreign service and destination has its scope, and each scope
// shows the fields an operator looks for.
func TestPageFields(t *testing.T) {
	st := webtest.Status()
	resp := get(t, serve(st, nil), "GET", "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	got := fieldsOf(t, parse(t, resp))
	checkFields(t, got, st)

	want := map[string][]string{
		"": {"node", "version", "file", "config_hash", "loaded", "started", "taken", "reloads.ok", "reloads.failed",
			"reloads.last", "reloads.last_error", "ipvs.managed", "ipvs.reconciles", "ipvs.reconcile_errors", "vrrp_dropped", "schema"},
		"vrrp/public": {"name", "interface", "vrid", "state", "priority", "configured_priority", "master", "since",
			"transitions", "adverts_sent", "adverts_received", "dropped", "addresses", "track"},
		"vrrp/private":                 {"master", "master_priority"},
		"vs/web":                       {"name", "service", "scheduler", "forward", "up", "healthy_weight", "quorum", "stats.conns"},
		"vs/mail":                      {"flags", "persistence_seconds", "sorry"},
		"vs/web/rs/rs1":                {"name", "address", "forward", "weight", "configured_weight", "active_conns", "inactive_conns", "persistent_conns", "health", "check", "since", "last_probe", "last_probe_seconds", "last_error", "stats.conns", "stats.cps", "stats.in_bps", "stats.out_bps"},
		"vs/web/rs/rs2":                {"override.mode", "override.since"},
		"vs/web/rs/rs3":                {"check_transitions"},
		"vs/mail/rs/sorry_server":      {"sorry"},
		"vs/mail/rs/10.0.2.29:25":      {"removed"},
		"foreign/TCP 198.51.100.7:443": {"service", "scheduler", "stats.conns"},
		"foreign/TCP 198.51.100.7:443/dest/192.168.5.1:443": {"address", "forward", "weight", "active_conns", "inactive_conns"},
	}
	for scope, fields := range want {
		for _, f := range fields {
			if _, ok := got[scope][f]; !ok {
				t.Errorf("%s: no data-field %q", scope, f)
			}
		}
	}
	var scopes []string
	for _, in := range st.VRRP {
		scopes = append(scopes, "vrrp/"+in.Name)
	}
	for _, vs := range st.VirtualServers {
		scopes = append(scopes, "vs/"+vs.Name)
		for _, rs := range vs.RealServers {
			key := rs.Name
			if key == "" {
				key = rs.Address
			}
			scopes = append(scopes, "vs/"+vs.Name+"/rs/"+key)
		}
	}
	for _, f := range st.Foreign {
		scopes = append(scopes, "foreign/"+f.Service)
		for _, d := range f.RealServers {
			scopes = append(scopes, "foreign/"+f.Service+"/dest/"+d.Address)
		}
	}
	for _, s := range scopes {
		if len(got[s]) == 0 {
			t.Errorf("no scope %s on the page", s)
		}
	}

	// What people read, beside the values machines read.
	for _, c := range []struct{ scope, field, text, class string }{
		{"vrrp/public", "state", "MASTER", "st-master"},
		{"vrrp/private", "state", "BACKUP", "st-backup"},
		{"vrrp/private", "priority", "80", ""},
		{"vrrp/public", "dropped", "3", "warn"},
		{"vs/web", "up", "UP", "up"},
		{"vs/mail", "up", "DOWN", "down"},
		{"vs/web/rs/rs1", "health", "up", "health"},
		{"vs/web/rs/rs2", "health", "draining", "health"},
		{"vs/web/rs/rs2", "weight", "0", ""},
		{"vs/web/rs/rs2", "override.mode", "drain", "ovr"},
		{"vs/web/rs/rs2", "override.since", "12m30s", ""},
		{"vs/web/rs/rs3", "health", "down", "health"},
		{"vs/web/rs/rs3", "last_error", st.VirtualServers[0].RealServers[2].LastError, "err"},
		{"vs/web/rs/rs1", "last_probe_seconds", "1.23ms", ""},
		{"vs/mail/rs/mx1", "health", "maintenance", ""},
		{"vs/mail/rs/mx2", "weight", "-", ""},
		{"vs/mail/rs/mx2", "health", "unknown", ""},
		{"", "config_hash", "9f86d081884c", ""},
		{"", "loaded", "2025-03-14 08:44:46 UTC (42m7s ago)", ""},
	} {
		f, ok := got[c.scope][c.field]
		if !ok {
			continue // reported above
		}
		if f.text != c.text {
			t.Errorf("%s %s: text %q, want %q", c.scope, c.field, f.text, c.text)
		}
		if c.class != "" && !slices.Contains(strings.Fields(f.class), c.class) {
			t.Errorf("%s %s: class %q, want %q in it", c.scope, c.field, f.class, c.class)
		}
	}
	rows := map[string]string{}
	walk(parse(t, get(t, serve(st, nil), "GET", "/")), func(n *html.Node) {
		if rs := attr(n, "data-rs"); rs != "" {
			rows[attr(n, "data-vs")+"/"+rs] = attr(n, "class")
		}
	})
	for key, class := range map[string]string{"web/rs1": "h-up", "web/rs2": "h-draining", "web/rs3": "h-down",
		"mail/mx1": "h-maintenance", "mail/mx2": "h-unknown", "mail/sorry_server": "h-unchecked", "mail/10.0.2.29:25": "removed"} {
		if !slices.Contains(strings.Fields(rows[key]), class) {
			t.Errorf("row %s: class %q, want %q in it", key, rows[key], class)
		}
	}
}

// TestPageWithoutStats: a document without counters has no counter
// columns, and the header's colspan follows.
func TestPageWithoutStats(t *testing.T) {
	st := webtest.Status()
	for i := range st.VirtualServers {
		st.VirtualServers[i].Stats = nil
		for j := range st.VirtualServers[i].RealServers {
			st.VirtualServers[i].RealServers[j].Stats = nil
		}
	}
	for i := range st.Foreign {
		st.Foreign[i].Stats = nil
		for j := range st.Foreign[i].RealServers {
			st.Foreign[i].RealServers[j].Stats = nil
		}
	}
	doc := parse(t, get(t, serve(st, nil), "GET", "/"))
	got := fieldsOf(t, doc)
	checkFields(t, got, st)
	if _, ok := got["vs/web/rs/rs1"]["stats.conns"]; ok {
		t.Error("stats.conns shown without stats")
	}
	walk(doc, func(n *html.Node) {
		if attr(n, "data-rs") == "" {
			return
		}
		cells := 0
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data == "td" {
				cells++
			}
		}
		if cells != rsFixedCols+1 {
			t.Errorf("row %s has %d cells, want %d", attr(n, "data-rs"), cells, rsFixedCols+1)
		}
	})
}

// TestEscape: names from the file reach the page as text and attribute
// values, never as markup.
func TestEscape(t *testing.T) {
	const evil = `<script>alert(1)</script>"'&<b>`
	st := webtest.Status()
	st.Node = evil
	st.File = evil
	st.Reloads.LastError = evil
	st.VRRP[0].Name = evil
	st.VRRP[0].Addresses = []string{evil}
	st.VirtualServers[0].Name = evil
	st.VirtualServers[0].RealServers[0].Name = evil
	st.VirtualServers[0].RealServers[0].LastError = evil
	st.Foreign[0].Service = evil

	resp := get(t, serve(st, nil), "GET", "/")
	body, _ := io.ReadAll(resp.Body)
	if bytes.Contains(body, []byte("<script")) || bytes.Contains(body, []byte("<b>")) {
		t.Errorf("markup from a name reached the page:\n%s", body)
	}
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	walk(doc, func(n *html.Node) {
		if n.Data == "script" || n.Data == "b" && n.Parent != nil && n.Parent.Data != "nav" {
			t.Errorf("element <%s> from a name", n.Data)
		}
	})
	got := fieldsOf(t, doc)
	checkFields(t, got, st)
	for _, c := range []struct{ scope, field string }{
		{"", "node"}, {"", "file"}, {"", "reloads.last_error"},
		{"vrrp/" + evil, "name"}, {"vs/" + evil, "name"}, {"vs/" + evil + "/rs/" + evil, "name"},
		{"vs/" + evil + "/rs/" + evil, "last_error"}, {"foreign/" + evil, "service"},
	} {
		if f, ok := got[c.scope][c.field]; !ok || f.value != evil {
			t.Errorf("%s %s: %q, want %q", c.scope, c.field, f.value, evil)
		}
	}
	if title := text(find(doc, "title")); title != "tandem · "+evil {
		t.Errorf("title %q", title)
	}
}

func TestRefresh(t *testing.T) {
	h := serve(webtest.Status(), nil)
	for _, c := range []struct {
		query string
		code  int
		want  string // the meta refresh's content; "" for none
	}{
		{"", 200, "5"},
		{"?refresh=30", 200, "30"},
		{"?refresh=3600", 200, "3600"},
		{"?refresh=0", 200, ""},
		{"?refresh=3601", 400, ""},
		{"?refresh=-1", 400, ""},
		{"?refresh=5s", 400, ""},
		{"?refresh=", 400, ""},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp := get(t, h, "GET", "/"+c.query)
			if resp.StatusCode != c.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.code)
			}
			if c.code != 200 {
				return
			}
			var got string
			metas := 0
			walk(parse(t, resp), func(n *html.Node) {
				if n.Data == "meta" && strings.EqualFold(attr(n, "http-equiv"), "refresh") {
					got = attr(n, "content")
					metas++
				}
			})
			if got != c.want || metas > 1 {
				t.Errorf("meta refresh %q (%d), want %q", got, metas, c.want)
			}
		})
	}
}

func TestUnavailable(t *testing.T) {
	h := serve(nil, errors.New("director <not> running"))
	resp := get(t, h, "GET", "/?refresh=10")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	doc := parse(t, resp)
	if e := text(findID(doc, "error")); e != "director <not> running" {
		t.Errorf("error text %q", e)
	}
	var refresh string
	walk(doc, func(n *html.Node) {
		if n.Data == "meta" && attr(n, "http-equiv") == "refresh" {
			refresh = attr(n, "content")
		}
	})
	if refresh != "10" {
		t.Errorf("the error page should keep refreshing: %q", refresh)
	}

	resp = get(t, h, "GET", "/status.json")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body["error"] != "director <not> running" {
		t.Errorf("body %v", body)
	}

	// Neither a document nor an error is unavailable too.
	if resp := get(t, serve(nil, nil), "GET", "/"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("nil document: status %d", resp.StatusCode)
	}
}

func TestMethodsPathsHeaders(t *testing.T) {
	h := serve(webtest.Status(), nil)
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 200},
		{"HEAD", "/", 200},
		{"GET", "/status.json", 200},
		{"HEAD", "/status.json", 200},
		{"POST", "/", 405},
		{"PUT", "/status.json", 405},
		{"DELETE", "/", 405},
		{"GET", "/metrics", 404},
		{"GET", "/index.html", 404},
		{"GET", "/status.json/", 404},
		{"POST", "/nothing", 404},
	} {
		resp := get(t, h, c.method, c.path)
		if resp.StatusCode != c.code {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.code)
		}
		if c.code == 404 {
			continue
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s %s: Cache-Control %q", c.method, c.path, got)
		}
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q", c.method, c.path, got)
		}
		if c.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", c.method, c.path, resp.Header.Get("Allow"))
		}
	}
	resp := get(t, h, "GET", "/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

// TestJSON: /status.json is the document, indented, and decodes back to
// it.
func TestJSON(t *testing.T) {
	st := webtest.Status()
	resp := get(t, serve(st, nil), "GET", "/status.json")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body, _ := io.ReadAll(resp.Body)
	if !bytes.HasPrefix(body, []byte("{\n  \"schema\": ")) {
		t.Errorf("not indented by 2:\n%.80s", body)
	}
	var back status.Status
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(st, &back); d != "" {
		t.Errorf("round trip (-sent +decoded):\n%s", d)
	}
}

// A field is one data-field element.
type field struct{ value, text, class string }

// fieldsOf reads every data-field of the page by scope: "" for the
// document, "vrrp/NAME", "vs/NAME", "vs/NAME/rs/KEY", "foreign/SERVICE",
// "foreign/SERVICE/dest/ADDRESS" (see the package doc).
func fieldsOf(t *testing.T, doc *html.Node) map[string]map[string]field {
	t.Helper()
	out := map[string]map[string]field{}
	var visit func(n *html.Node, scope string)
	visit = func(n *html.Node, scope string) {
		if n.Type == html.ElementNode {
			if s, ok := scopeOf(n); ok {
				scope = s
			}
			if name, ok := attrOK(n, "data-field"); ok {
				value, ok := attrOK(n, "data-value")
				if !ok {
					t.Errorf("%s %s: no data-value", scope, name)
				}
				if out[scope] == nil {
					out[scope] = map[string]field{}
				}
				if _, dup := out[scope][name]; dup {
					t.Errorf("%s: data-field %q twice", scope, name)
				}
				out[scope][name] = field{value: value, text: text(n), class: attr(n, "class")}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c, scope)
		}
	}
	visit(doc, "")
	return out
}

func scopeOf(n *html.Node) (string, bool) {
	switch {
	case has(n, "data-rs"):
		return "vs/" + attr(n, "data-vs") + "/rs/" + attr(n, "data-rs"), true
	case has(n, "data-dest"):
		return "foreign/" + attr(n, "data-foreign") + "/dest/" + attr(n, "data-dest"), true
	case has(n, "data-vs"):
		return "vs/" + attr(n, "data-vs"), true
	case has(n, "data-foreign"):
		return "foreign/" + attr(n, "data-foreign"), true
	case has(n, "data-vrrp"):
		return "vrrp/" + attr(n, "data-vrrp"), true
	}
	return "", false
}

// checkFields compares every field with st's JSON at its scope and path.
func checkFields(t *testing.T, got map[string]map[string]field, st *status.Status) {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	for scope, fields := range got {
		obj := scopeObject(doc, scope)
		if obj == nil {
			t.Errorf("scope %q is not in the document", scope)
			continue
		}
		for name, f := range fields {
			v, ok := lookup(obj, name)
			if !ok {
				if !slices.Contains([]string{"", "0", "false", "null", "[]", "{}"}, f.value) {
					t.Errorf("%s %s: %q on the page, absent from the document", scope, name, f.value)
				}
				continue
			}
			if want := jsonText(t, v); f.value != want {
				t.Errorf("%s %s: %q on the page, %q in the document", scope, name, f.value, want)
			}
		}
	}
}

func scopeObject(doc map[string]any, scope string) map[string]any {
	if scope == "" {
		return doc
	}
	p := strings.Split(scope, "/")
	// Keys may hold "/" (an evil name): match the known shapes from the
	// outside in.
	switch p[0] {
	case "vrrp":
		return findBy(doc["vrrp"], "name", strings.Join(p[1:], "/"))
	case "vs", "foreign":
		list, inner, key := "virtual_servers", "/rs/", "name"
		if p[0] == "foreign" {
			list, inner, key = "foreign", "/dest/", "service"
		}
		rest := strings.TrimPrefix(scope, p[0]+"/")
		outer, sub, nested := strings.Cut(rest, inner)
		if !nested {
			return findBy(doc[list], key, rest)
		}
		o := findBy(doc[list], key, outer)
		if o == nil {
			return nil
		}
		if p[0] == "foreign" {
			return findBy(o["real_servers"], "address", sub)
		}
		if rs := findBy(o["real_servers"], "name", sub); rs != nil {
			return rs
		}
		for _, rs := range asList(o["real_servers"]) {
			if rs["name"] == nil || rs["name"] == "" {
				if rs["address"] == sub {
					return rs
				}
			}
		}
	}
	return nil
}

func findBy(list any, key, value string) map[string]any {
	for _, o := range asList(list) {
		if o[key] == value {
			return o
		}
	}
	return nil
}

func asList(v any) []map[string]any {
	var out []map[string]any
	l, _ := v.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func lookup(obj map[string]any, path string) (any, bool) {
	var v any = obj
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func jsonText(t *testing.T, v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func walk(n *html.Node, f func(*html.Node)) {
	if n.Type == html.ElementNode {
		f(n)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func find(doc *html.Node, tag string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if found == nil && n.Data == tag {
			found = n
		}
	})
	return found
}

func findID(doc *html.Node, id string) *html.Node {
	var found *html.Node
	walk(doc, func(n *html.Node) {
		if found == nil && attr(n, "id") == id {
			found = n
		}
	})
	return found
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attr(n *html.Node, key string) string { v, _ := attrOK(n, key); return v }

func has(n *html.Node, key string) bool { _, ok := attrOK(n, key); return ok }

func text(n *html.Node) string {
	if n == nil {
		return ""
	}
	var b strings.Builder
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(n)
	return strings.TrimSpace(b.String())
}
