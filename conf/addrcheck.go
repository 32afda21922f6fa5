package conf

import (
	"net/netip"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// addrRole is what an address in the file is for: each role rules out
// addresses that can never work in it.
type addrRole int

const (
	roleVIP     addrRole = iota // a vrrp address or a static VIP
	roleService                 // a virtual server's address
	roleBackend                 // a real or sorry server
)

var limitedBroadcast = netip.MustParseAddr("255.255.255.255")

// usable reports an address that can never work in role: the
// unspecified address (0.0.0.0, ::), the limited broadcast, a multicast
// group (224.0.0.18 is VRRP's own) and, for VIPs and real servers, a
// loopback address (a VIP there is never reachable from outside; a real
// server there is the director itself, which IPVS does not forward to).
func (d *decoder) usable(name string, it item, a netip.Addr, role addrRole) bool {
	why := ""
	switch {
	case a.IsUnspecified():
		why = "is the unspecified address (any address), not one a host can hold"
	case a == limitedBroadcast:
		why = "is the limited broadcast address"
	case a.IsMulticast():
		why = "is a multicast group"
		if a == netip.MustParseAddr("224.0.0.18") || a == netip.MustParseAddr("ff02::12") {
			why = "is the VRRP multicast group itself"
		}
	case a.IsLoopback() && role != roleService:
		why = "is a loopback address, reachable only from the director itself"
	}
	if why == "" {
		return true
	}
	hint := map[addrRole]string{
		roleVIP:     "a VIP is a unicast address clients reach on the director's network, as in 203.0.113.10/24",
		roleService: "a virtual server listens on a unicast VIP, as in 203.0.113.10:80",
		roleBackend: "a real or sorry server is another host's unicast address, as in 192.168.100.11:80",
	}[role]
	d.errf(it.rng, "Unusable address", "%s: %s %s. Hint: %s.", name, a, why, hint)
	return false
}

// literal reports whether e is a value written out: a number, a bool, a
// quoted string or heredoc without interpolation or directives, a list
// or map of literals (map keys may be bare names), or a negative number.
// Everything else (variables, functions, arithmetic, conditionals,
// templates) is refused: a cluster file is data, and an expression that
// happened to evaluate would hide what the director is told.
func literal(e hcl.Expression) bool {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return true
	case *hclsyntax.TemplateExpr:
		// Text is a run of literal parts; an interpolation of a literal
		// ("x${0}") is a literal part too, but with its ${ before it: a
		// gap between two parts, or a non-string part.
		for i, p := range e.Parts {
			l, ok := p.(*hclsyntax.LiteralValueExpr)
			if !ok || !l.Val.Type().Equals(cty.String) {
				return false
			}
			if i > 0 && p.Range().Start.Byte != e.Parts[i-1].Range().End.Byte {
				return false
			}
		}
		// "${"x"}y": the first part starts after ${, not after the quote
		// (a heredoc's first part starts on the line after <<EOT).
		if p0 := e.Parts; len(p0) > 0 && p0[0].Range().Start.Line == e.SrcRange.Start.Line &&
			p0[0].Range().Start.Byte != e.SrcRange.Start.Byte+1 {
			return false
		}
		return true
	case *hclsyntax.TupleConsExpr:
		for _, x := range e.Exprs {
			if !literal(x) {
				return false
			}
		}
		return true
	case *hclsyntax.ObjectConsExpr:
		for _, it := range e.Items {
			if !literal(it.KeyExpr) || !literal(it.ValueExpr) {
				return false
			}
		}
		return true
	case *hclsyntax.ObjectConsKeyExpr:
		if t, ok := e.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok && !e.ForceNonLiteral {
			return len(t.Traversal) == 1 // a bare name: { director2 = 120 }
		}
		return literal(e.Wrapped)
	case *hclsyntax.UnaryOpExpr:
		_, ok := e.Val.(*hclsyntax.LiteralValueExpr)
		return ok && e.Op == hclsyntax.OpNegate
	}
	return false
}
