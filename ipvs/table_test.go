package ipvs

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestServiceKeyString(t *testing.T) {
	tests := []struct {
		name string
		key  ServiceKey
		want string
	}{
		{"tcp4", VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:80")), "TCP 203.0.113.10:80"},
		{"udp6", VirtualService(UDP, netip.MustParseAddrPort("[2001:db8::1]:53")), "UDP [2001:db8::1]:53"},
		{"sctp", VirtualService(SCTP, netip.MustParseAddrPort("192.0.2.1:3868")), "SCTP 192.0.2.1:3868"},
		{"fwmark", FWMarkService(IPv4, 1), "FWM 1 IPv4"},
		{"fwmark6", FWMarkService(IPv6, 7), "FWM 7 IPv6"},
		{"mapped", VirtualService(TCP, netip.MustParseAddrPort("[::ffff:192.0.2.1]:80")), "TCP 192.0.2.1:80"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{TCP.String(), "TCP"},
		{Protocol(99).String(), "proto(99)"},
		{Masq.String(), "Masq"},
		{Local.String(), "Local"},
		{Tunnel.String(), "Tunnel"},
		{Route.String(), "Route"},
		{ServiceFlags(0).String(), "none"},
		{(FlagPersistent | FlagSched1).String(), "persistent|flag-1"},
		{(FlagOnePacket | 0x100).String(), "one-packet|0x100"},
		{IPv6.String(), "IPv6"},
		{DelDest.String(), "delete destination"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
	if got := SchedulerModule("mh"); got != "ip_vs_mh" {
		t.Errorf("SchedulerModule(mh) = %q", got)
	}
	if got := SchedulerModule(""); got != "ip_vs_wlc" {
		t.Errorf("SchedulerModule(\"\") = %q", got)
	}
	if len(Schedulers) != 14 {
		t.Errorf("%d schedulers, want 14", len(Schedulers))
	}
}

func TestKeysOrder(t *testing.T) {
	tb := NewTable(
		Service{Key: FWMarkService(IPv4, 2)},
		Service{Key: VirtualService(UDP, netip.MustParseAddrPort("[2001:db8::1]:53"))},
		Service{Key: VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:443"))},
		Service{Key: VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:80"))},
		Service{Key: VirtualService(UDP, netip.MustParseAddrPort("203.0.113.10:80"))},
		Service{Key: FWMarkService(IPv4, 1)},
	)
	var got []string
	for _, k := range tb.Keys() {
		got = append(got, k.String())
	}
	want := "TCP 203.0.113.10:80,UDP 203.0.113.10:80,TCP 203.0.113.10:443,UDP [2001:db8::1]:53,FWM 1 IPv4,FWM 2 IPv4"
	if s := strings.Join(got, ","); s != want {
		t.Errorf("Keys() = %s\nwant %s", s, want)
	}
}

func TestValidate(t *testing.T) {
	vip := VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	rs := func(s string) Destination { return Destination{Addr: netip.MustParseAddr(s), Port: 80, Weight: 1} }
	tests := []struct {
		name string
		svc  Service
		key  *ServiceKey // map key, if not svc.Key
		want string      // error substring; "" for valid
	}{
		{name: "ok", svc: Service{Key: vip, Scheduler: "rr", Destinations: []Destination{rs("192.168.100.11")}}},
		{name: "ok fwmark", svc: Service{Key: FWMarkService(IPv6, 3), Destinations: []Destination{rs("2001:db8::11")}}},
		{name: "ok persistent", svc: Service{Key: vip, Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: 24}},
		{name: "wrong map key", svc: Service{Key: vip}, key: &ServiceKey{Protocol: UDP}, want: "stored under key"},
		{name: "no address", svc: Service{Key: ServiceKey{Protocol: TCP, Port: 80}}, want: "missing address"},
		{name: "bad protocol", svc: Service{Key: VirtualService(1, netip.MustParseAddrPort("203.0.113.10:80"))}, want: "unsupported protocol"},
		{name: "fwmark with port", svc: Service{Key: ServiceKey{Family: IPv4, FWMark: 1, Port: 80}}, want: "fwmark service must have no"},
		{name: "fwmark no family", svc: Service{Key: ServiceKey{FWMark: 1}}, want: "needs family"},
		{name: "family mismatch", svc: Service{Key: ServiceKey{Family: IPv6, Protocol: TCP, Addr: netip.MustParseAddr("192.0.2.1"), Port: 1}}, want: "does not match"},
		{name: "unknown scheduler", svc: Service{Key: vip, Scheduler: "magic"}, want: "unknown scheduler"},
		{name: "hashed", svc: Service{Key: vip, Flags: FlagHashed}, want: "kernel's own"},
		{name: "persistent no timeout", svc: Service{Key: vip, Flags: FlagPersistent}, want: "timeout"},
		{name: "port 0 not persistent", svc: Service{Key: VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:0"))}, want: "port 0"},
		{name: "netmask", svc: Service{Key: vip, Netmask: 33}, want: "netmask"},
		{name: "dest family", svc: Service{Key: vip, Destinations: []Destination{rs("2001:db8::11")}}, want: "differs from the service"},
		{name: "dest weight", svc: Service{Key: vip, Destinations: []Destination{{Addr: netip.MustParseAddr("192.168.100.11"), Weight: 70000}}}, want: "weight"},
		{name: "dest forward", svc: Service{Key: vip, Destinations: []Destination{{Addr: netip.MustParseAddr("192.168.100.11"), Forward: 4}}}, want: "forwarding method"},
		{name: "dest thresholds", svc: Service{Key: vip, Destinations: []Destination{{Addr: netip.MustParseAddr("192.168.100.11"), LowerThreshold: 5}}}, want: "threshold"},
		{name: "dest twice", svc: Service{Key: vip, Destinations: []Destination{rs("192.168.100.11"), rs("::ffff:192.168.100.11")}}, want: "listed twice"},
		// Beyond 16 destinations duplicates are found through a set.
		{name: "many ok", svc: Service{Key: vip, Destinations: manyDests(40)}},
		{name: "many, dest twice", svc: Service{Key: vip, Destinations: append(manyDests(40), rs("::ffff:192.168.100.7"))}, want: "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := tt.svc.Key
			if tt.key != nil {
				k = *tt.key
			}
			err := Table{k: tt.svc}.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}

	t.Run("same service twice", func(t *testing.T) {
		mapped := ServiceKey{Protocol: TCP, Addr: netip.MustParseAddr("::ffff:203.0.113.10"), Port: 80}
		err := Table{vip: {Key: vip}, mapped: {Key: mapped}}.Validate()
		if err == nil || !strings.Contains(err.Error(), "same service") {
			t.Fatalf("Validate() = %v, want a duplicate error", err)
		}
	})
}

// manyDests returns n destinations, 192.168.100.1 on.
func manyDests(n int) []Destination {
	var ds []Destination
	for i := range n {
		ds = append(ds, Destination{Addr: netip.AddrFrom4([4]byte{192, 168, 100, byte(1 + i)}), Port: 80, Weight: 1})
	}
	return ds
}
