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
// group (224.0.0.18 is VRRP's own) and a loopback address (a VIP or a
// virtual server there is never reachable from outside; a real server
// there is the director itself, which IPVS does not forward to).
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
	case a.IsLoopback():
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

// nonLiteral returns the first part of e that is not a value written
// out, or nil when all of e is: a number, a bool, a quoted string or
// heredoc without interpolation or directives, a list or map of literals
// (map keys may be bare names), or a negative number. Everything else
// (variables, functions, arithmetic, conditionals, templates) is refused:
// a cluster file is data, and an expression that happened to evaluate
// would hide what the director is told.
func nonLiteral(e hcl.Expression) hcl.Expression {
	switch x := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return nil
	case *hclsyntax.TemplateExpr:
		// The parser melds adjacent text, escapes ($${, %%{) included,
		// into one string part, and makes an interpolation or a directive
		// a part of its own (a number, a nested template, a conditional):
		// so plain text is one string part at most ("" is one empty part).
		switch {
		case len(x.Parts) == 0:
			return nil
		case len(x.Parts) > 1:
			return e
		}
		if l, ok := x.Parts[0].(*hclsyntax.LiteralValueExpr); ok && l.Val.Type().Equals(cty.String) {
			return nil
		}
		return e
	case *hclsyntax.TupleConsExpr:
		for _, el := range x.Exprs {
			if bad := nonLiteral(el); bad != nil {
				return bad
			}
		}
		return nil
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			if bad := nonLiteral(it.KeyExpr); bad != nil {
				return bad
			}
			if bad := nonLiteral(it.ValueExpr); bad != nil {
				return bad
			}
		}
		return nil
	case *hclsyntax.ObjectConsKeyExpr:
		if t, ok := x.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok && !x.ForceNonLiteral {
			if len(t.Traversal) == 1 { // a bare name: { director2 = 120 }
				return nil
			}
			return e
		}
		if bad := nonLiteral(x.Wrapped); bad != nil {
			return e
		}
		return nil
	case *hclsyntax.UnaryOpExpr:
		if l, ok := x.Val.(*hclsyntax.LiteralValueExpr); ok && x.Op == hclsyntax.OpNegate && l.Val.Type().Equals(cty.Number) {
			return nil // a negative number: weight = -10
		}
	}
	return e
}
