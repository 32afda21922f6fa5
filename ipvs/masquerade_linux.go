//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// ApplyMasquerade makes tandem's nftables tables "ip tandem" and "ip6
// tandem", in the caller's network namespace, hold one rule per prefix:
//
//	table ip tandem {
//		chain postrouting {
//			type nat hook postrouting priority srcnat; policy accept;
//			ip saddr 192.168.100.0/24 masquerade comment "tandem masquerade 192.168.100.0/24"
//		}
//	}
//
// A family with no prefixes has no table. Tables already as wanted are left
// alone; any other is deleted and rebuilt, all in one atomic nftables
// transaction, so packets never see a half-built chain. Nobody else's
// tables, chains or rules are touched. It returns a line per table changed.
//
// On a kernel without nftables an empty list is a no-op (no table of
// tandem's can exist there), and a non-empty one an error naming the
// modules to load.
func ApplyMasquerade(prefixes []netip.Prefix) ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("ipvs: masquerade: %w", err)
	}
	return applyMasquerade(c, prefixes)
}

// RemoveMasquerade deletes tandem's nftables tables, if present.
func RemoveMasquerade() error {
	_, err := ApplyMasquerade(nil)
	return err
}

func applyMasquerade(c *nftables.Conn, prefixes []netip.Prefix) ([]string, error) {
	v4, v6, err := splitPrefixes(prefixes)
	if err != nil {
		return nil, err
	}
	var changed []string
	for _, f := range []struct {
		fam  nftables.TableFamily
		name string
		ps   []netip.Prefix
	}{
		{nftables.TableFamilyIPv4, "ip", v4},
		{nftables.TableFamilyIPv6, "ip6", v6},
	} {
		exists, current, err := currentMasquerade(c, f.fam)
		switch {
		case err != nil && nftMissing(err) && len(prefixes) == 0:
			// No nftables in this kernel: no table of tandem's to remove.
			return nil, nil
		case err != nil && nftMissing(err):
			return nil, fmt.Errorf("ipvs: masquerade needs nftables, which this kernel does not offer (%w). Hint: load the modules: modprobe -a nf_tables nft_chain_nat nft_masq", err)
		case err != nil:
			return nil, fmt.Errorf("ipvs: masquerade: list %s %s: %w", f.name, NFTTable, err)
		}
		want := make([]string, len(f.ps))
		for i, p := range f.ps {
			want[i] = masqComment(p)
		}
		if exists && current != nil && slices.Equal(current, want) && len(want) > 0 {
			continue
		}
		table := &nftables.Table{Name: NFTTable, Family: f.fam}
		if exists {
			c.DelTable(table)
		}
		if len(f.ps) == 0 {
			if exists {
				changed = append(changed, fmt.Sprintf("nftables: deleted table %s %s", f.name, NFTTable))
			}
			continue
		}
		addMasquerade(c, table, f.ps)
		changed = append(changed, fmt.Sprintf("nftables: set table %s %s: masquerade %v", f.name, NFTTable, f.ps))
	}
	if len(changed) == 0 {
		return nil, nil
	}
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("ipvs: masquerade: commit: %w", err)
	}
	return changed, nil
}

// nftMissing reports whether err says the kernel has no nftables (the
// nfnetlink or nf_tables module is not loaded and cannot be).
func nftMissing(err error) bool {
	return errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EOPNOTSUPP)
}

// currentMasquerade reports whether tandem's table of family fam exists and,
// if its chain is the expected nat postrouting base chain, the comments of
// its rules in order (nil, not empty, when the chain is missing or wrong).
func currentMasquerade(c *nftables.Conn, fam nftables.TableFamily) (exists bool, comments []string, err error) {
	tables, err := c.ListTablesOfFamily(fam)
	if err != nil {
		return false, nil, err
	}
	var table *nftables.Table
	for _, t := range tables {
		if t.Name == NFTTable {
			table = t
		}
	}
	if table == nil {
		return false, nil, nil
	}
	chains, err := c.ListChainsOfTableFamily(fam)
	if err != nil {
		return true, nil, err
	}
	var chain *nftables.Chain
	n := 0
	for _, ch := range chains {
		if ch.Table != nil && ch.Table.Name == NFTTable {
			n++
			if ch.Name == NFTChain {
				chain = ch
			}
		}
	}
	if chain == nil || n != 1 || chain.Type != nftables.ChainTypeNAT ||
		chain.Hooknum == nil || *chain.Hooknum != *nftables.ChainHookPostrouting ||
		chain.Priority == nil || *chain.Priority != *nftables.ChainPriorityNATSource {
		return true, nil, nil
	}
	rules, err := c.GetRules(table, chain)
	if err != nil {
		return true, nil, err
	}
	comments = []string{}
	for _, r := range rules {
		s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		comments = append(comments, s)
	}
	return true, comments, nil
}

// addMasquerade queues the table, its chain and one rule per prefix.
func addMasquerade(c *nftables.Conn, table *nftables.Table, ps []netip.Prefix) {
	c.AddTable(table)
	chain := c.AddChain(&nftables.Chain{
		Name:     NFTChain,
		Table:    table,
		Type:     nftables.ChainTypeNAT,
		Hooknum:  nftables.ChainHookPostrouting,
		Priority: nftables.ChainPriorityNATSource,
	})
	for _, p := range ps {
		c.AddRule(&nftables.Rule{
			Table:    table,
			Chain:    chain,
			Exprs:    masqueradeExprs(p),
			UserData: userdata.AppendString(nil, userdata.TypeComment, masqComment(p)),
		})
	}
}

// masqueradeExprs returns the expressions of "ip saddr p masquerade" (or
// ip6), as nft compiles it: load the source address into register 1, mask
// it unless p is a host prefix, compare with p's address, masquerade.
func masqueradeExprs(p netip.Prefix) []expr.Any {
	var offset, size uint32 = 12, 4 // IPv4 header: saddr at 12
	if p.Addr().Is6() {
		offset, size = 8, 16 // IPv6 header: saddr at 8
	}
	if p.Bits() == 0 {
		return []expr.Any{&expr.Masq{}}
	}
	es := []expr.Any{&expr.Payload{
		DestRegister: 1,
		Base:         expr.PayloadBaseNetworkHeader,
		Offset:       offset,
		Len:          size,
	}}
	if p.Bits() < int(size*8) {
		es = append(es, &expr.Bitwise{
			SourceRegister: 1,
			DestRegister:   1,
			Len:            size,
			Mask:           net.CIDRMask(p.Bits(), int(size*8)),
			Xor:            make([]byte, size),
		})
	}
	return append(es,
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
		&expr.Masq{},
	)
}
