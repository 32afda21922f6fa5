package vrrp

import (
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	src4 = netip.MustParseAddr("192.0.2.1")
	src6 = netip.MustParseAddr("fe80::1")
	mc4  = netip.MustParseAddr("224.0.0.18")
	mc6  = netip.MustParseAddr("ff02::12")
)

// addrEq lets cmp compare netip.Addr, whose fields are unexported.
var addrEq = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func addrs(ss ...string) []netip.Addr {
	var as []netip.Addr
	for _, s := range ss {
		as = append(as, netip.MustParseAddr(s))
	}
	return as
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The expected bytes were built field by field from RFC 5798 §5.1 and
// RFC 3768 §5.1, with the checksum computed by a separate RFC 1071
// implementation (Python) over the pseudo-header for v3, as keepalived
// does for both families.
func TestMarshalKnownAnswer(t *testing.T) {
	tests := []struct {
		name     string
		p        Packet
		src, dst netip.Addr
		want     string
	}{
		{
			name: "v3 ipv4",
			p:    Packet{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: time.Second, Addresses: addrs("192.0.2.100")},
			src:  src4, dst: mc4,
			//     ver/type vrid prio count | rsvd+interval | checksum | address
			want: "31" + "33" + "64" + "01" + "0064" + "0572" + "c0000264",
		},
		{
			name: "v3 ipv4 owner 10ms two addresses",
			p:    Packet{Version: 3, Type: 1, VRID: 1, Priority: 255, Interval: 10 * time.Millisecond, Addresses: addrs("192.0.2.100", "192.0.2.101")},
			src:  src4, dst: mc4,
			want: "3101ff02" + "0001" + "a89b" + "c0000264" + "c0000265",
		},
		{
			name: "v3 ipv6",
			p:    Packet{Version: 3, Type: 1, VRID: 51, Priority: 100, Interval: time.Second, Addresses: addrs("2001:db8::100")},
			src:  src6, dst: mc6,
			want: "31336401" + "0064" + "3d8f" + "20010db8000000000000000000000100",
		},
		{
			name: "v2 simple text",
			p:    Packet{Version: 2, Type: 1, VRID: 51, Priority: 100, Interval: time.Second, AuthType: AuthSimple, AuthData: [8]byte{'s', 'e', 'c', 'r', 'e', 't'}, Addresses: addrs("192.0.2.100")},
			src:  src4, dst: mc4,
			//     ver/type vrid prio count | auth type | adver int | checksum | address | auth data
			want: "21336401" + "01" + "01" + "7b19" + "c0000264" + "7365637265740000",
		},
		{
			name: "v2 no auth",
			p:    Packet{Version: 2, Type: 1, VRID: 7, Priority: 150, Interval: 3 * time.Second, Addresses: addrs("10.0.0.1", "10.0.0.2")},
			src:  netip.MustParseAddr("10.0.0.9"), dst: netip.MustParseAddr("10.0.0.8"),
			want: "21079602" + "00" + "03" + "34f0" + "0a000001" + "0a000002" + "0000000000000000",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.p.Marshal(tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if diff := cmp.Diff(tt.want, hex.EncodeToString(got)); diff != "" {
				t.Errorf("Marshal (-want +got):\n%s", diff)
			}
			p, err := Parse(unhex(t, tt.want), tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.p, p, addrEq); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	many6 := make([]netip.Addr, 255)
	for i := range many6 {
		many6[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i)})
	}
	tests := []struct {
		name     string
		p        Packet
		src, dst netip.Addr
	}{
		{"v3 ipv4 no address", Packet{Version: 3, Type: 1, VRID: 9, Priority: 1, Interval: MaxIntervalV3}, src4, mc4},
		{"v3 ipv4 unicast", Packet{Version: 3, Type: 1, VRID: 255, Priority: 254, Interval: 20 * time.Millisecond, Addresses: addrs("198.51.100.7")}, src4, netip.MustParseAddr("192.0.2.2")},
		{"v3 ipv6 255 addresses", Packet{Version: 3, Type: 1, VRID: 2, Priority: 0, Interval: 40 * time.Second, Addresses: many6}, src6, mc6},
		{"v2 max interval", Packet{Version: 2, Type: 1, VRID: 3, Priority: 200, Interval: MaxIntervalV2, Addresses: addrs("192.0.2.10", "192.0.2.11", "192.0.2.12")}, src4, mc4},
		{"v4-mapped source", Packet{Version: 3, Type: 1, VRID: 4, Priority: 100, Interval: time.Second, Addresses: addrs("192.0.2.10")}, netip.MustParseAddr("::ffff:192.0.2.1"), mc4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.p.Marshal(tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if got, want := len(b), tt.p.Len(len(tt.src.Unmap().AsSlice())); got != want {
				t.Errorf("len = %d, Len says %d", got, want)
			}
			p, err := Parse(b, tt.src, tt.dst)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(&tt.p, p, addrEq); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := "3133640100640572c0000264" // v3 ipv4 of TestMarshalKnownAnswer
	tests := []struct {
		name     string
		b        string
		src, dst netip.Addr
		want     error
	}{
		{"empty", "", src4, mc4, ErrTooShort},
		{"7 bytes", good[:14], src4, mc4, ErrTooShort},
		{"version 1", "11" + good[2:], src4, mc4, ErrVersion},
		{"version 4", "41" + good[2:], src4, mc4, ErrVersion},
		{"type 2", "32" + good[2:], src4, mc4, ErrType},
		{"type 0", "30" + good[2:], src4, mc4, ErrType},
		{"address missing", good[:16], src4, mc4, ErrLength},
		{"extra byte", good + "00", src4, mc4, ErrLength},
		{"count too high", good[:6] + "02" + good[8:], src4, mc4, ErrLength},
		{"ipv4 payload from ipv6", good, src6, mc6, ErrLength},
		{"v2 without auth data", "21336401010172b0c0000264", src4, mc4, ErrLength},
		{"checksum", good[:12] + "0573" + good[16:], src4, mc4, ErrChecksum},
		{"checksum depends on source", good, netip.MustParseAddr("192.0.2.2"), mc4, ErrChecksum},
		{"checksum depends on destination", good, src4, netip.MustParseAddr("224.0.0.19"), ErrChecksum},
		{"v2 count without address", "21336401010178197365637265740000", src4, mc4, ErrLength},
		{"v2 bad checksum", "2133640101017b18c00002647365637265740000", src4, mc4, ErrChecksum},
		{"mixed families", good, src4, mc6, ErrFamily},
		{"invalid source", good, netip.Addr{}, mc4, ErrFamily},
		{"v2 over ipv6", "2133640101017b19c00002647365637265740000", src6, mc6, ErrFamily},
		{"zero interval", "3133640100000000c0000264", src4, mc4, ErrInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.b)
			if tt.name == "zero interval" {
				fixChecksum(b, tt.src, tt.dst)
			}
			p, err := Parse(b, tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse = %v, %v; want %v", p, err, tt.want)
			}
		})
	}
}

// fixChecksum writes the right checksum into a hand-made packet.
func fixChecksum(b []byte, src, dst netip.Addr) {
	b[6], b[7] = 0, 0
	c := checksum(b[0]>>4, src, dst, b)
	b[6], b[7] = byte(c>>8), byte(c)
}

func TestMarshalErrors(t *testing.T) {
	ok := Packet{Version: 3, Type: 1, VRID: 1, Priority: 100, Interval: time.Second, Addresses: addrs("192.0.2.100")}
	tests := []struct {
		name     string
		edit     func(p *Packet)
		src, dst netip.Addr
		want     error
	}{
		{"version 4", func(p *Packet) { p.Version = 4 }, src4, mc4, ErrVersion},
		{"type 2", func(p *Packet) { p.Type = 2 }, src4, mc4, ErrType},
		{"v3 interval 0", func(p *Packet) { p.Interval = 0 }, src4, mc4, ErrInterval},
		{"v3 interval 15ms", func(p *Packet) { p.Interval = 15 * time.Millisecond }, src4, mc4, ErrInterval},
		{"v3 interval 41s", func(p *Packet) { p.Interval = 41 * time.Second }, src4, mc4, ErrInterval},
		{"v2 interval 1.5s", func(p *Packet) { p.Version, p.Interval = 2, 1500*time.Millisecond }, src4, mc4, ErrInterval},
		{"v2 interval 256s", func(p *Packet) { p.Version, p.Interval = 2, 256*time.Second }, src4, mc4, ErrInterval},
		{"v2 over ipv6", func(p *Packet) { p.Version = 2; p.Addresses = addrs("2001:db8::1") }, src6, mc6, ErrFamily},
		{"ipv6 address from ipv4", func(p *Packet) { p.Addresses = addrs("2001:db8::1") }, src4, mc4, ErrFamily},
		{"mixed src dst", func(p *Packet) {}, src4, mc6, ErrFamily},
		{"256 addresses", func(p *Packet) { p.Addresses = make([]netip.Addr, 256); fill4(p.Addresses) }, src4, mc4, ErrLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ok
			tt.edit(&p)
			b, err := p.Marshal(tt.src, tt.dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Marshal = %x, %v; want %v", b, err, tt.want)
			}
		})
	}
	t.Run("type 0 means advertisement", func(t *testing.T) {
		p := ok
		p.Type = 0
		b, err := p.Marshal(src4, mc4)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0x31 {
			t.Errorf("first byte %#x, want 0x31", b[0])
		}
	})
	t.Run("append keeps the prefix", func(t *testing.T) {
		b, err := ok.Append([]byte("pre"), src4, mc4)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := ok.Marshal(src4, mc4)
		if diff := cmp.Diff("pre"+string(m), string(b)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func fill4(as []netip.Addr) {
	for i := range as {
		as[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
	}
}

func TestCheckAuth(t *testing.T) {
	v2 := func(typ uint8, data string) *Packet {
		p := &Packet{Version: 2, AuthType: typ}
		copy(p.AuthData[:], data)
		return p
	}
	tests := []struct {
		name     string
		p        *Packet
		password string
		ok       bool
	}{
		{"none, none", v2(AuthNone, ""), "", true},
		{"none, data ignored", v2(AuthNone, "junk"), "", true},
		{"simple, right", v2(AuthSimple, "secret"), "secret", true},
		{"simple, 8 bytes of a longer password", v2(AuthSimple, "12345678"), "123456789", true},
		{"simple, wrong", v2(AuthSimple, "secreT"), "secret", false},
		{"simple, prefix", v2(AuthSimple, "secret"), "secre", false},
		{"simple, none configured", v2(AuthSimple, "secret"), "", false},
		{"none, password configured", v2(AuthNone, ""), "secret", false},
		{"ip auth header", v2(2, "secret"), "secret", false},
		{"v3, none", &Packet{Version: 3}, "", true},
		{"v3, password configured", &Packet{Version: 3}, "secret", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.CheckAuth(tt.password)
			if tt.ok && err != nil || !tt.ok && !errors.Is(err, ErrAuth) {
				t.Fatalf("CheckAuth = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	t.Run("SetPassword", func(t *testing.T) {
		var p Packet
		p.Version = 2
		p.SetPassword("secret")
		if err := p.CheckAuth("secret"); err != nil {
			t.Error(err)
		}
		p.SetPassword("")
		if p.AuthType != AuthNone || p.AuthData != [8]byte{} {
			t.Errorf("SetPassword(\"\") left %d %q", p.AuthType, p.AuthData)
		}
	})
}
