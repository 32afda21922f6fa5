package ipvs

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables/expr"
)

func TestSplitPrefixes(t *testing.T) {
	v4, v6, err := splitPrefixes([]netip.Prefix{
		netip.MustParsePrefix("192.168.100.77/24"),
		netip.MustParsePrefix("2001:db8:100::/64"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.168.100.0/24"),
		netip.MustParsePrefix("::ffff:172.16.0.0/108"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("[10.0.0.0/8 172.16.0.0/12 192.168.100.0/24] [2001:db8:100::/64]",
		fmtPrefixes(v4)+" "+fmtPrefixes(v6)); diff != "" {
		t.Error(diff)
	}
	if _, _, err := splitPrefixes([]netip.Prefix{{}}); err == nil {
		t.Error("invalid prefix accepted")
	}
}

func fmtPrefixes(ps []netip.Prefix) string {
	s := "["
	for i, p := range ps {
		if i > 0 {
			s += " "
		}
		s += p.String()
	}
	return s + "]"
}

func TestMasqueradeExprs(t *testing.T) {
	got := masqueradeExprs(netip.MustParsePrefix("192.168.100.0/24"))
	want := []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte{255, 255, 255, 0}, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{192, 168, 100, 0}},
		&expr.Masq{},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("IPv4 /24 (-want +got):\n%s", diff)
	}
	got = masqueradeExprs(netip.MustParsePrefix("2001:db8::5/128"))
	if len(got) != 3 || got[0].(*expr.Payload).Offset != 8 || got[0].(*expr.Payload).Len != 16 {
		t.Errorf("IPv6 host: %#v", got)
	}
}
