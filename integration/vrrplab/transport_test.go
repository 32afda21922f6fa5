package vrrplab

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/integration/internal/netlab"
	"github.com/tandem-lb/tandem/vrrp"
	"golang.org/x/net/ipv4"
)

// TestConn runs vrrp.Conn on real sockets between two namespaces: an
// advert goes through with its checksum, one with TTL 64 or a broken
// body is dropped with the reason, and Close unblocks the reader.
func TestConn(t *testing.T) {
	if skipReason != "" {
		t.Skip(skipReason)
	}
	a, b := newNS(t, "tvl-conn-a"), newNS(t, "tvl-conn-b")
	must(t, netlab.Veth(a, "eth0", b, "eth0"))
	must(t, a.Addr("eth0", "10.79.0.1/24"))
	must(t, b.Addr("eth0", "10.79.0.2/24"))
	var ca, cb *vrrp.Conn
	must(t, a.Do(func() (err error) { ca, err = vrrp.Dial("eth0", false); return }))
	t.Cleanup(func() { ca.Close() })
	must(t, b.Do(func() (err error) { cb, err = vrrp.Dial("eth0", false); return }))
	t.Cleanup(func() { cb.Close() })

	type got struct {
		p   *vrrp.Packet
		src netip.Addr
		err error
	}
	recv := make(chan got, 8)
	go func() {
		for {
			p, src, _, err := ca.ReadFrom()
			recv <- got{p, src, err}
			if err != nil && !errors.As(err, new(*vrrp.DropError)) {
				return
			}
		}
	}()
	next := func() got {
		t.Helper()
		select {
		case g := <-recv:
			return g
		case <-time.After(2 * time.Second):
			t.Fatal("nothing received within 2s")
			return got{}
		}
	}

	srcB := netip.MustParseAddr("10.79.0.2")
	adv := &vrrp.Packet{Version: 3, VRID: 7, Priority: 120, Interval: 100 * time.Millisecond,
		Addresses: []netip.Addr{netip.MustParseAddr("10.79.0.10")}}
	must(t, cb.WriteTo(adv, srcB, vrrp.GroupV4))
	g := next()
	if g.err != nil || g.p.VRID != 7 || g.p.Priority != 120 || g.src != srcB {
		t.Fatalf("got %+v from %v, err %v", g.p, g.src, g.err)
	}

	// The same advert with TTL 64, then with a broken checksum, from a
	// raw socket of our own.
	var raw *ipv4.RawConn
	must(t, b.Do(func() error {
		pc, err := net.ListenPacket("ip4:112", "10.79.0.2")
		if err != nil {
			return err
		}
		raw, err = ipv4.NewRawConn(pc)
		return err
	}))
	t.Cleanup(func() { raw.Close() })
	body, err := adv.Marshal(srcB, vrrp.GroupV4)
	must(t, err)
	ifi := func() *net.Interface {
		var ifi *net.Interface
		must(t, b.Do(func() (err error) { ifi, err = net.InterfaceByName("eth0"); return }))
		return ifi
	}()
	must(t, raw.SetMulticastInterface(ifi))
	send := func(ttl int, body []byte) {
		h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TotalLen: ipv4.HeaderLen + len(body), TTL: ttl,
			Protocol: vrrp.Protocol, Src: srcB.AsSlice(), Dst: vrrp.GroupV4.AsSlice()}
		must(t, raw.WriteTo(h, body, nil))
	}
	send(64, body)
	if g := next(); !errors.Is(g.err, vrrp.ErrTTL) {
		t.Errorf("TTL 64: err %v, want ErrTTL", g.err)
	}
	bad := append([]byte(nil), body...)
	bad[6] ^= 0xff
	send(255, bad)
	if g := next(); !errors.Is(g.err, vrrp.ErrChecksum) {
		t.Errorf("bad checksum: err %v, want ErrChecksum", g.err)
	}
	send(255, body[:5])
	if g := next(); !errors.Is(g.err, vrrp.ErrTooShort) {
		t.Errorf("5 bytes: err %v, want ErrTooShort", g.err)
	}

	ca.Close()
	if g := next(); !errors.Is(g.err, net.ErrClosed) {
		t.Errorf("after Close: err %v, want net.ErrClosed", g.err)
	}
}

func newNS(t *testing.T, name string) *netlab.NS {
	t.Helper()
	n, err := netlab.New(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}
