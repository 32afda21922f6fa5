package ipvs

import (
	"net/netip"
	"slices"
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

// TestOrderedDests: for mh and sh, whose tables follow the kernel's
// destination list, every reconcile leaves the list in one canonical
// order (sorted, newest first), whatever order the destinations came in.
func TestOrderedDests(t *testing.T) {
	rs := func(i int) Destination {
		return Destination{Addr: netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), Port: 80, Forward: Route, Weight: 1}
	}
	svc := func(ids ...int) Table {
		s := Service{Key: web, Scheduler: "mh"}
		for _, i := range ids {
			s.Destinations = append(s.Destinations, rs(i))
		}
		return NewTable(s)
	}
	list := func(m *MemKernel) []int {
		tb, err := m.Dump()
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, d := range tb[web].Destinations {
			out = append(out, int(d.Addr.As4()[3]))
		}
		return out
	}
	canonical := []int{40, 30, 20, 10}
	for _, tt := range []struct {
		name   string
		before []int // the kernel's list, newest first, before the reconcile
		writes int
	}{
		{"canonical already", []int{40, 30, 20, 10}, 0},
		{"one added below the others (a reload)", []int{20, 40, 30, 10}, 4}, // 40 and 30 out, and back above 20
		{"one added back at the head (deleted and re-added)", []int{10, 40, 30, 20}, 6},
		{"reversed", []int{10, 20, 30, 40}, 6},
		{"one missing, one extra", []int{50, 40, 30, 10}, 6},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMemKernel(nil)
			if _, err := m.Apply([]Op{{Kind: AddService, Service: Service{Key: web, Scheduler: "mh"}}}); err != nil {
				t.Fatal(err)
			}
			for i := len(tt.before) - 1; i >= 0; i-- { // oldest first
				if _, err := m.Apply([]Op{{Kind: AddDest, Service: Service{Key: web}, Dest: rs(tt.before[i])}}); err != nil {
					t.Fatal(err)
				}
			}
			if got := list(m); !slices.Equal(got, tt.before) {
				t.Fatalf("set-up list %v, want %v", got, tt.before)
			}
			r := NewReconciler(m)
			defer r.Close()
			res, err := r.Reconcile(t.Context(), svc(10, 20, 30, 40), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := list(m); !slices.Equal(got, canonical) {
				t.Errorf("list after reconcile %v, want %v (ops %v)", got, canonical, res.Ops)
			}
			if res.Writes != tt.writes {
				t.Errorf("%d writes, want %d: %v", res.Writes, tt.writes, res.Ops)
			}
			// Converged: a second reconcile writes nothing.
			if res, err := r.Reconcile(t.Context(), svc(10, 20, 30, 40), nil); err != nil || res.Writes != 0 {
				t.Errorf("second reconcile: %d writes %v, %v", res.Writes, res.Ops, err)
			}
			// An update adding a destination below the others keeps the order too.
			if _, err := r.Update(t.Context(), []Service{svc(10, 20, 25, 30, 40)[web]}, nil); err != nil {
				t.Fatal(err)
			}
			if got, want := list(m), []int{40, 30, 25, 20, 10}; !slices.Equal(got, want) {
				t.Errorf("after adding 25: %v, want %v", got, want)
			}
		})
	}
	// wrr does not care: a destination added is one write.
	d := Diff(readBack(NewTable(Service{Key: web, Scheduler: "wrr", Destinations: []Destination{rs(30)}})),
		NewTable(Service{Key: web, Scheduler: "wrr", Destinations: []Destination{rs(10), rs(30)}}), nil)
	if len(d) != 1 || d[0].Kind != AddDest {
		t.Errorf("wrr: %v", d)
	}
}

// TestInitialWeight: a drained destination of an mh service is added at
// its weight and then set to 0, so that mh gives it its place in the
// table as the directors that added it healthy did.
func TestInitialWeight(t *testing.T) {
	d := Destination{Addr: rs1, Port: 80, Forward: Route, Weight: 0, InitialWeight: 3}
	want := NewTable(Service{Key: web, Scheduler: "mh", Destinations: []Destination{d}})
	m := NewMemKernel(NewTable(Service{Key: web, Scheduler: "mh"}))
	r := NewReconciler(m)
	defer r.Close()
	res, err := r.Reconcile(t.Context(), want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ops) != 2 || res.Ops[0].Kind != AddDest || res.Ops[0].Dest.Weight != 3 || res.Ops[1].Kind != UpdateDest || res.Ops[1].Dest.Weight != 0 {
		t.Errorf("ops %v, want add at weight 3 then update to 0", res.Ops)
	}
	if res, err := r.Reconcile(t.Context(), want, nil); err != nil || res.Writes != 0 {
		t.Errorf("second reconcile: %v, %v; want no writes (InitialWeight is not read back)", res.Ops, err)
	}
	// wrr: added with 0 at once.
	want = NewTable(Service{Key: web, Scheduler: "wrr", Destinations: []Destination{d}})
	ops := Diff(NewTable(Service{Key: web, Scheduler: "wrr"}), want, nil)
	if len(ops) != 1 || ops[0].Dest.Weight != 0 {
		t.Errorf("wrr ops %v", ops)
	}
}
