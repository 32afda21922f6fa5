package ipvs

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var (
	web    = VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:80"))
	dns6   = VirtualService(UDP, netip.MustParseAddrPort("[2001:db8::1]:53"))
	mark1  = FWMarkService(IPv4, 1)
	rs1    = netip.MustParseAddr("192.168.100.11")
	rs2    = netip.MustParseAddr("192.168.100.12")
	rs3    = netip.MustParseAddr("192.168.100.13")
	rs6    = netip.MustParseAddr("2001:db8:100::11")
	cmpOpt = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
)

func dest(a netip.Addr, weight int) Destination {
	return Destination{Addr: a, Port: 80, Forward: Masq, Weight: weight}
}

// wantTable is a natural configuration: ipvsadm defaults left out.
func wantTable() Table {
	return NewTable(
		Service{Key: web, Scheduler: "wrr", Destinations: []Destination{dest(rs2, 1), dest(rs1, 1)}},
		Service{Key: dns6, Scheduler: "rr", Destinations: []Destination{{Addr: rs6, Port: 53, Forward: Route, Weight: 1}}},
		Service{Key: mark1, Flags: FlagPersistent, Timeout: 300 * time.Second, Netmask: 24,
			Destinations: []Destination{{Addr: rs3, Forward: Masq, Weight: 5}}},
	)
}

// readBack returns t as the kernel reports it through moby/ipvs.
func readBack(t Table) Table {
	out := Table{}
	for k, s := range Normalize(t) {
		s.Flags |= FlagHashed
		s.PEName = ""
		ds := make([]Destination, len(s.Destinations))
		for i, d := range s.Destinations {
			d.Forward |= 0x100 // IP_VS_CONN_F_* bits beyond the method
			ds[i] = d
		}
		for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
			ds[i], ds[j] = ds[j], ds[i]
		}
		s.Destinations = ds
		out[k] = s
	}
	return out
}

func bare(t Table, k ServiceKey) Service {
	s := Normalize(t)[k.canonical()]
	s.Destinations = nil
	return s
}

func TestDiff(t *testing.T) {
	want := wantTable()
	nw := Normalize(want)
	foreign := Service{Key: VirtualService(TCP, netip.MustParseAddrPort("198.51.100.1:22")), Scheduler: "rr",
		Destinations: []Destination{dest(rs1, 1)}}
	withForeign := readBack(want)
	withForeign[foreign.Key] = foreign

	tests := []struct {
		name   string
		have   Table
		want   Table
		retire []ServiceKey
		ops    []Op
	}{
		{name: "no change", have: readBack(want), want: want},
		{name: "both empty"},
		{
			name: "add all from empty",
			want: want,
			ops: []Op{
				{Kind: AddService, Service: bare(want, web)},
				{Kind: AddService, Service: bare(want, dns6)},
				{Kind: AddService, Service: bare(want, mark1)},
				{Kind: AddDest, Service: bare(want, web), Dest: dest(rs1, 1)},
				{Kind: AddDest, Service: bare(want, web), Dest: dest(rs2, 1)},
				{Kind: AddDest, Service: bare(want, dns6), Dest: nw[dns6].Destinations[0]},
				{Kind: AddDest, Service: bare(want, mark1), Dest: nw[mark1].Destinations[0]},
			},
		},
		{
			name: "one weight change",
			have: readBack(want),
			want: func() Table {
				w := want.Clone()
				w[web].Destinations[0].Weight = 0 // rs2 drained
				return w
			}(),
			ops: []Op{{Kind: UpdateDest, Service: bare(want, web), Dest: dest(rs2, 0)}},
		},
		{
			name: "scheduler change",
			have: readBack(want),
			want: func() Table {
				w := want.Clone()
				s := w[web]
				s.Scheduler = "lc"
				w[web] = s
				return w
			}(),
			ops: []Op{{Kind: UpdateService, Service: func() Service { s := bare(want, web); s.Scheduler = "lc"; return s }()}},
		},
		{
			name: "persistence timeout change",
			have: readBack(want),
			want: func() Table {
				w := want.Clone()
				s := w[mark1]
				s.Timeout = time.Hour
				w[mark1] = s
				return w
			}(),
			ops: []Op{{Kind: UpdateService, Service: func() Service { s := bare(want, mark1); s.Timeout = time.Hour; return s }()}},
		},
		{name: "foreign service untouched", have: withForeign, want: want},
		{
			name:   "retire deletes",
			have:   withForeign,
			want:   NewTable(want[web]),
			retire: []ServiceKey{dns6, mark1, mark1, VirtualService(TCP, netip.MustParseAddrPort("192.0.2.99:80"))},
			ops: []Op{
				{Kind: DelService, Service: bare(want, dns6)},
				{Kind: DelService, Service: bare(want, mark1)},
			},
		},
		{name: "retired but wanted is kept", have: readBack(want), want: want, retire: []ServiceKey{web}},
		{
			name: "destination removed and added",
			have: readBack(want),
			want: func() Table {
				w := want.Clone()
				w[web].Destinations[1] = dest(rs3, 2) // rs1 out, rs3 in
				return w
			}(),
			ops: []Op{
				{Kind: AddDest, Service: bare(want, web), Dest: dest(rs3, 2)},
				{Kind: DelDest, Service: bare(want, web), Dest: dest(rs1, 1)},
			},
		},
		{
			name: "forward method change",
			have: readBack(want),
			want: func() Table {
				w := want.Clone()
				w[dns6].Destinations[0].Forward = Tunnel
				return w
			}(),
			ops: []Op{{Kind: UpdateDest, Service: bare(want, dns6),
				Dest: Destination{Addr: rs6, Port: 53, Forward: Tunnel, Weight: 1}}},
		},
		{
			name: "thresholds change",
			have: readBack(want),
			want: func() Table {
				w := want.Clone()
				w[web].Destinations[1].UpperThreshold = 100
				return w
			}(),
			ops: []Op{{Kind: UpdateDest, Service: bare(want, web),
				Dest: Destination{Addr: rs1, Port: 80, Weight: 1, UpperThreshold: 100}}},
		},
		{
			name: "full order: service ops, dest adds, dest deletes, service deletes",
			have: readBack(NewTable(
				Service{Key: web, Scheduler: "rr", Destinations: []Destination{dest(rs1, 1), dest(rs3, 1)}},
				Service{Key: dns6, Scheduler: "rr"},
			)),
			want:   NewTable(Service{Key: web, Scheduler: "wrr", Destinations: []Destination{dest(rs1, 1), dest(rs2, 1)}}, want[mark1]),
			retire: []ServiceKey{dns6},
			ops: []Op{
				{Kind: UpdateService, Service: bare(want, web)},
				{Kind: AddService, Service: bare(want, mark1)},
				{Kind: AddDest, Service: bare(want, web), Dest: dest(rs2, 1)},
				{Kind: AddDest, Service: bare(want, mark1), Dest: nw[mark1].Destinations[0]},
				{Kind: DelDest, Service: bare(want, web), Dest: dest(rs3, 1)},
				{Kind: DelService, Service: Service{Key: dns6, Scheduler: "rr", Netmask: 128}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.have, tt.want, tt.retire)
			if diff := cmp.Diff(tt.ops, got, cmpOpt); diff != "" {
				t.Errorf("Diff() ops mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNormalize checks each read-back difference that must not cause a write.
func TestNormalize(t *testing.T) {
	vip4 := VirtualService(TCP, netip.MustParseAddrPort("203.0.113.10:443"))
	vip6 := VirtualService(TCP, netip.MustParseAddrPort("[2001:db8::10]:443"))
	tests := []struct {
		name       string
		have, want Service
	}{
		{
			name: "hashed flag",
			have: Service{Key: vip4, Scheduler: "rr", Flags: FlagHashed},
			want: Service{Key: vip4, Scheduler: "rr"},
		},
		{
			name: "default scheduler",
			have: Service{Key: vip4, Scheduler: "wlc", Flags: FlagHashed},
			want: Service{Key: vip4},
		},
		{
			name: "ipv4 netmask default",
			have: Service{Key: vip4, Flags: FlagHashed | FlagPersistent, Timeout: 60 * time.Second, Netmask: 32},
			want: Service{Key: vip4, Flags: FlagPersistent, Timeout: 60 * time.Second},
		},
		{
			name: "ipv6 netmask default",
			have: Service{Key: vip6, Flags: FlagHashed | FlagPersistent, Timeout: 60 * time.Second, Netmask: 128},
			want: Service{Key: vip6, Flags: FlagPersistent, Timeout: 60 * time.Second},
		},
		{
			name: "netmask and timeout ignored when not persistent",
			have: Service{Key: vip4, Flags: FlagHashed, Timeout: 300 * time.Second, Netmask: -1},
			want: Service{Key: vip4},
		},
		{
			name: "timeout in whole seconds",
			have: Service{Key: vip4, Flags: FlagPersistent, Timeout: 60 * time.Second},
			want: Service{Key: vip4, Flags: FlagPersistent, Timeout: 60*time.Second + 300*time.Millisecond},
		},
		{
			name: "pe name not read back",
			have: Service{Key: vip4, Scheduler: "rr"},
			want: Service{Key: vip4, Scheduler: "rr", PEName: "sip"},
		},
		{
			name: "conn flag bits and destination order",
			have: Service{Key: vip4, Destinations: []Destination{
				{Addr: rs2, Port: 443, Forward: Route | 0x1000, Weight: 1},
				{Addr: rs1, Port: 443, Forward: Masq | 0x0100, Weight: 1},
			}},
			want: Service{Key: vip4, Destinations: []Destination{
				{Addr: netip.MustParseAddr("::ffff:192.168.100.11"), Port: 443, Forward: Masq, Weight: 1},
				{Addr: rs2, Port: 443, Forward: Route, Weight: 1},
			}},
		},
		{
			name: "fwmark key written by hand",
			have: Service{Key: FWMarkService(IPv4, 9)},
			want: Service{Key: ServiceKey{Family: IPv4, FWMark: 9, Protocol: TCP}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ops := Diff(NewTable(tt.have), NewTable(tt.want), nil); len(ops) != 0 {
				t.Errorf("Diff() = %v, want no ops", ops)
			}
		})
	}

	t.Run("real differences remain", func(t *testing.T) {
		for _, tt := range []struct {
			name       string
			have, want Service
		}{
			{"persistent /0 read back", Service{Key: vip4, Flags: FlagPersistent, Timeout: time.Minute, Netmask: -1},
				Service{Key: vip4, Flags: FlagPersistent, Timeout: time.Minute}},
			{"persistent netmask", Service{Key: vip4, Flags: FlagPersistent, Timeout: time.Minute, Netmask: 32},
				Service{Key: vip4, Flags: FlagPersistent, Timeout: time.Minute, Netmask: 24}},
			{"one-packet", Service{Key: vip4}, Service{Key: vip4, Flags: FlagOnePacket}},
			{"pe name cleared", Service{Key: vip4, PEName: "sip"}, Service{Key: vip4}},
		} {
			ops := Diff(NewTable(tt.have), NewTable(tt.want), nil)
			if len(ops) != 1 || ops[0].Kind != UpdateService {
				t.Errorf("%s: Diff() = %v, want one update", tt.name, ops)
			}
		}
	})
}

func TestForeign(t *testing.T) {
	have := readBack(wantTable())
	other := VirtualService(TCP, netip.MustParseAddrPort("198.51.100.1:22"))
	have[other] = Service{Key: other}
	got := Foreign(have, NewTable(wantTable()[web]), []ServiceKey{dns6})
	if diff := cmp.Diff([]ServiceKey{other, mark1}, got, cmpOpt); diff != "" {
		t.Errorf("Foreign() mismatch (-want +got):\n%s", diff)
	}
}

func TestOpString(t *testing.T) {
	s := Normalize(wantTable())[web]
	s.Destinations = nil
	for _, tt := range []struct {
		op   Op
		want string
	}{
		{Op{Kind: AddService, Service: s}, "add service TCP 203.0.113.10:80 (scheduler wrr, flags none, timeout 0s, netmask /32)"},
		{Op{Kind: AddDest, Service: s, Dest: dest(rs1, 3)}, "add destination 192.168.100.11:80 to TCP 203.0.113.10:80 (Masq, weight 3, thresholds 0..0)"},
		{Op{Kind: DelDest, Service: s, Dest: dest(rs1, 3)}, "delete destination 192.168.100.11:80 from TCP 203.0.113.10:80"},
		{Op{Kind: DelService, Service: s}, "delete service TCP 203.0.113.10:80"},
	} {
		if got := tt.op.String(); got != tt.want {
			t.Errorf("String() = %q\nwant       %q", got, tt.want)
		}
	}
}
