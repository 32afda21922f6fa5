package ipvs

import (
	"fmt"
	"net/netip"
	"slices"
)

// Names of tandem's own nftables objects. tandem creates, rewrites and
// deletes these and nothing else.
const (
	NFTTable = "tandem"      // in families ip and ip6
	NFTChain = "postrouting" // type nat hook postrouting priority srcnat (100)
)

// splitPrefixes returns the masked, deduplicated IPv4 and IPv6 prefixes of ps,
// sorted.
func splitPrefixes(ps []netip.Prefix) (v4, v6 []netip.Prefix, err error) {
	for _, p := range ps {
		if !p.IsValid() {
			return nil, nil, fmt.Errorf("ipvs: masquerade: invalid prefix %v", p)
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			if !p.IsValid() {
				return nil, nil, fmt.Errorf("ipvs: masquerade: invalid prefix %v", p)
			}
		}
		if p.Addr().Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	cmpPrefix := func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	}
	slices.SortFunc(v4, cmpPrefix)
	slices.SortFunc(v6, cmpPrefix)
	return slices.Compact(v4), slices.Compact(v6), nil
}

// masqComment is the comment on the rule for p; tandem compares comments to
// decide whether its chain is already as wanted.
func masqComment(p netip.Prefix) string { return "tandem masquerade " + p.String() }
