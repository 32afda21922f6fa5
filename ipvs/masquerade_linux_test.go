package ipvs

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
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

// On a kernel without nftables (the netlink family is missing), an empty
// masquerade list is a no-op and a non-empty one names the modules.
func TestMasqueradeWithoutNFTables(t *testing.T) {
	missing := &nftables.Conn{TestDial: func([]netlink.Message) ([]netlink.Message, error) {
		return nil, os.NewSyscallError("socket", unix.EPROTONOSUPPORT)
	}}
	if changed, err := applyMasquerade(missing, nil); err != nil || changed != nil {
		t.Errorf("no prefixes: %v, %v; want nothing done and no error", changed, err)
	}
	_, err := applyMasquerade(missing, []netip.Prefix{netip.MustParsePrefix("192.168.100.0/24")})
	if err == nil || !strings.Contains(err.Error(), "modprobe -a nf_tables nft_chain_nat nft_masq") {
		t.Errorf("with prefixes: error %v, want the modules named", err)
	}
	other := &nftables.Conn{TestDial: func([]netlink.Message) ([]netlink.Message, error) {
		return nil, os.NewSyscallError("recvmsg", unix.EPERM)
	}}
	if _, err := applyMasquerade(other, nil); err == nil || strings.Contains(err.Error(), "modprobe") {
		t.Errorf("another error: %v, want it reported as it is", err)
	}
}
