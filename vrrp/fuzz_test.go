package vrrp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks netlink's property: whatever Parse accepts, Marshal
// writes back and Parse reads again as the same Packet. Parse must never
// panic. The seeds in testdata/fuzz/FuzzParse are regression inputs.
func FuzzParse(f *testing.F) {
	// v3 IPv4, v3 IPv6 and v2 adverts of TestMarshalKnownAnswer.
	f.Add(unhex(f, "3133640100640572c0000264"), false)
	f.Add(unhex(f, "3133640100643d8f20010db8000000000000000000000100"), true)
	f.Add(unhex(f, "2133640101017b19c00002647365637265740000"), false)
	// Reserved bits set in a v3 interval field: accepted, written as 0.
	f.Add(unhex(f, "313364010064"+"0000"+"c0000264"), false)
	f.Add([]byte{}, false)

	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		src, dst := src4, mc4
		if v6 {
			src, dst = src6, mc6
		}
		// Make the checksum right half the time, so the fuzzer gets past it.
		if len(b) >= 8 && b[7]&1 == 1 {
			fixChecksum(b, src, dst)
		}
		p, err := Parse(b, src, dst)
		if err != nil {
			return
		}
		out, err := p.Marshal(src, dst)
		if err != nil {
			t.Fatalf("Parse accepted %x as %v, but Marshal: %v", b, p, err)
		}
		q, err := Parse(out, src, dst)
		if err != nil {
			t.Fatalf("Marshal wrote %x for %v, but Parse: %v", out, p, err)
		}
		if diff := cmp.Diff(p, q, addrEq); diff != "" {
			t.Fatalf("round trip of %x (-first +second):\n%s", b, diff)
		}
		if len(out) != len(b) {
			t.Fatalf("Marshal wrote %d bytes for %d parsed", len(out), len(b))
		}
	})
}
