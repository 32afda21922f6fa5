package vrrp

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// TestDecodeTTL: an advert with a TTL other than 255 is dropped, but
// parsed when it can be, so that the runner knows whose VRID it was for.
func TestDecodeTTL(t *testing.T) {
	src, dst := netip.MustParseAddr("192.0.2.2"), GroupV4
	p := &Packet{Version: 3, Type: TypeAdvertisement, VRID: 51, Priority: 100, Interval: time.Second, Addresses: []netip.Addr{rtVIP1.Addr()}}
	b, err := p.Marshal(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decode(TTL, b, src, dst); err != nil {
		t.Fatalf("TTL 255: %v", err)
	}
	_, err = decode(64, b, src, dst)
	var de *DropError
	if !errors.As(err, &de) || !errors.Is(err, ErrTTL) || de.Packet == nil || de.Packet.VRID != 51 || de.Src != src {
		t.Fatalf("TTL 64: %#v, want a DropError for ErrTTL with the VRID 51 advert", err)
	}
	_, err = decode(64, b[:4], src, dst)
	if !errors.As(err, &de) || !errors.Is(err, ErrTTL) || de.Packet != nil {
		t.Fatalf("TTL 64, short: %#v, want a DropError for ErrTTL without a packet", err)
	}
}
