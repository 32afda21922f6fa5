package browser

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Field is one data-field of the status page: its data-value and the
// text people see.
type Field struct{ Value, Text string }

// Fields reads every data-field of a status page's DOM (package web's
// data-field contract) by scope: "" for the document, "vrrp/NAME",
// "vs/NAME", "vs/NAME/rs/KEY", "foreign/SERVICE",
// "foreign/SERVICE/dest/ADDRESS". A field twice in one scope is an error.
func Fields(dom string) (map[string]map[string]Field, error) {
	doc, err := html.Parse(strings.NewReader(dom))
	if err != nil {
		return nil, err
	}
	var dups []string
	out := map[string]map[string]Field{}
	var visit func(n *html.Node, scope string)
	visit = func(n *html.Node, scope string) {
		if n.Type == html.ElementNode {
			switch a := attrs(n); {
			case a["data-rs"] != "":
				scope = "vs/" + a["data-vs"] + "/rs/" + a["data-rs"]
			case a["data-dest"] != "":
				scope = "foreign/" + a["data-foreign"] + "/dest/" + a["data-dest"]
			case a["data-vs"] != "":
				scope = "vs/" + a["data-vs"]
			case a["data-foreign"] != "":
				scope = "foreign/" + a["data-foreign"]
			case a["data-vrrp"] != "":
				scope = "vrrp/" + a["data-vrrp"]
			}
			if name, ok := attrs(n)["data-field"]; ok {
				if out[scope] == nil {
					out[scope] = map[string]Field{}
				}
				if _, dup := out[scope][name]; dup {
					dups = append(dups, fmt.Sprintf("%s: data-field %q twice", scope, name))
				}
				out[scope][name] = Field{Value: attrs(n)["data-value"], Text: text(n)}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c, scope)
		}
	}
	visit(doc, "")
	if len(dups) > 0 {
		return out, errors.New(strings.Join(dups, "; "))
	}
	return out, nil
}

// Mismatches compares every field with the JSON document (decoded
// with UseNumber) at its scope and dotted path: strings verbatim, the
// rest as compact JSON; a key the document omits must show an empty
// value. It returns one line per difference.
func Mismatches(got map[string]map[string]Field, doc map[string]any) []string {
	var out []string
	for scope, fields := range got {
		obj := scopeObject(doc, scope)
		if obj == nil {
			out = append(out, fmt.Sprintf("scope %q is not in the document", scope))
			continue
		}
		for name, f := range fields {
			var v any = obj
			for _, k := range strings.Split(name, ".") {
				m, _ := v.(map[string]any)
				v = m[k]
			}
			if v == nil {
				if !slices.Contains([]string{"", "0", "false", "null", "[]", "{}"}, f.Value) {
					out = append(out, fmt.Sprintf("%s %s: %q in the DOM, absent from the document", scope, name, f.Value))
				}
				continue
			}
			want, ok := v.(string)
			if !ok {
				b, err := json.Marshal(v)
				if err != nil {
					out = append(out, fmt.Sprintf("%s %s: %v", scope, name, err))
					continue
				}
				want = string(b)
			}
			if f.Value != want {
				out = append(out, fmt.Sprintf("%s %s: %q in the DOM, %q in the document", scope, name, f.Value, want))
			}
		}
	}
	slices.Sort(out)
	return out
}

func scopeObject(doc map[string]any, scope string) map[string]any {
	kind, rest, _ := strings.Cut(scope, "/")
	switch kind {
	case "":
		return doc
	case "vrrp":
		return findBy(doc["vrrp"], "name", rest)
	case "vs":
		vs, rs, nested := strings.Cut(rest, "/rs/")
		o := findBy(doc["virtual_servers"], "name", vs)
		if !nested || o == nil {
			return o
		}
		if r := findBy(o["real_servers"], "name", rs); r != nil {
			return r
		}
		if r := findBy(o["real_servers"], "address", rs); r != nil && r["name"] == "" {
			return r
		}
	case "foreign":
		svc, dest, nested := strings.Cut(rest, "/dest/")
		o := findBy(doc["foreign"], "service", svc)
		if !nested || o == nil {
			return o
		}
		return findBy(o["real_servers"], "address", dest)
	}
	return nil
}

func findBy(list any, key, value string) map[string]any {
	l, _ := list.([]any)
	for _, e := range l {
		if m, ok := e.(map[string]any); ok && m[key] == value {
			return m
		}
	}
	return nil
}

func attrs(n *html.Node) map[string]string {
	m := make(map[string]string, len(n.Attr))
	for _, a := range n.Attr {
		m[a.Key] = a.Val
	}
	return m
}

func text(n *html.Node) string {
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
