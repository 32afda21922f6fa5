package vrrp

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestVIPAddr checks how VIPs are added: IPv4 labelled, IPv6 without
// duplicate address detection and deprecated (never a source address).
func TestVIPAddr(t *testing.T) {
	a4 := vipAddr("eth0", netip.MustParsePrefix("192.0.2.10/24"))
	if a4.Label != "eth0"+LabelSuffix || a4.PreferedLft != 0 || a4.ValidLft != 0 {
		t.Errorf("IPv4 VIP: label %q, lifetimes %d/%d; want %q and the kernel's default", a4.Label, a4.PreferedLft, a4.ValidLft, "eth0"+LabelSuffix)
	}
	a6 := vipAddr("eth0", netip.MustParsePrefix("2001:db8::10/64"))
	if a6.Flags&unix.IFA_F_NODAD == 0 || a6.PreferedLft != 0 || a6.ValidLft != infiniteLifetime {
		t.Errorf("IPv6 VIP: flags %#x, preferred %d, valid %d; want NODAD, 0 and forever", a6.Flags, a6.PreferedLft, a6.ValidLft)
	}
}
