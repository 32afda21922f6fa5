package vrrplab

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/vrrp"
	"golang.org/x/net/ipv4"
)

// hostileConfig: the pair with three instances on eth0 — public (VRRPv3
// multicast), legacy (VRRPv2 with a password) and uni (VRRPv3 unicast
// between the two directors) — and a metrics listener.
const hostileConfig = `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

metrics {
  listen = "127.0.0.1:9115"
}

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.77.0.10/24"]
  advert_interval = "100ms"
}

vrrp "legacy" {
  vrid            = 53
  interface       = "eth0"
  addresses       = ["10.77.0.11/24"]
  version         = 2
  advert_interval = "1s"
  auth_pass       = "s3cret"
}

vrrp "uni" {
  vrid            = 54
  interface       = "eth0"
  addresses       = ["10.77.0.12/24"]
  advert_interval = "100ms"
  unicast_peers   = ["10.77.0.1", "10.77.0.2"]
}
`

// dropKey names one drop counter: an instance's reason, or a runner-wide
// one (inst "").
type dropKey struct{ inst, reason string }

func (k dropKey) String() string {
	if k.inst == "" {
		return "runner/" + k.reason
	}
	return k.inst + "/" + k.reason
}

// statusDrops reads every drop counter of d from `tandem status --json`.
func statusDrops(t *testing.T, l *Lab, d *Director) map[dropKey]uint64 {
	t.Helper()
	out, code := runTandem(t, l, d, "status", "--json")
	if code != 0 {
		t.Fatalf("%s: tandem status --json: exit %d\n%s", d.Name, code, out)
	}
	return parseDrops(t, out)
}

// pageDrops reads them from the status document the metrics listener
// serves (/status.json: the same document, without starting a process).
func pageDrops(t *testing.T, d *Director) map[dropKey]uint64 {
	t.Helper()
	return parseDrops(t, nsGet(t, d.NS, "http://127.0.0.1:9115/status.json"))
}

func parseDrops(t *testing.T, out string) map[dropKey]uint64 {
	t.Helper()
	var st struct {
		VRRP []struct {
			Name    string            `json:"name"`
			State   string            `json:"state"`
			Dropped map[string]uint64 `json:"dropped"`
		} `json:"vrrp"`
		VRRPDropped map[string]uint64 `json:"vrrp_dropped"`
	}
	must(t, json.Unmarshal([]byte(out), &st))
	m := map[dropKey]uint64{}
	for _, in := range st.VRRP {
		for r, n := range in.Dropped {
			m[dropKey{in.Name, r}] = n
		}
	}
	for r, n := range st.VRRPDropped {
		m[dropKey{"", r}] = n
	}
	return m
}

var labelRx = regexp.MustCompile(`(\w+)="([^"]*)"`)

// metricsDrops reads the drop counters of d's /metrics.
func metricsDrops(t *testing.T, d *Director) map[dropKey]uint64 {
	t.Helper()
	body := nsGet(t, d.NS, "http://127.0.0.1:9115/metrics")
	m := map[dropKey]uint64{}
	for _, line := range strings.Split(body, "\n") {
		var inst bool
		switch {
		case strings.HasPrefix(line, "tandem_vrrp_adverts_dropped_total{"):
			inst = true
		case strings.HasPrefix(line, "tandem_vrrp_packets_dropped_total{"):
		default:
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		fmt.Sscan(line[i+1:], &v)
		labels := map[string]string{}
		for _, kv := range labelRx.FindAllStringSubmatch(line[:i], -1) {
			labels[kv[1]] = kv[2]
		}
		k := dropKey{reason: labels["reason"]}
		if inst {
			k.inst = labels["vrrp_instance"]
		}
		m[k] = uint64(v)
	}
	return m
}

// delta returns after - before for every key of either, without zeros.
func delta(before, after map[dropKey]uint64) map[dropKey]uint64 {
	d := map[dropKey]uint64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			d[k] = 0 - before[k] // a counter that vanished: shows as huge
		}
	}
	return d
}

func fmtDrops(m map[dropKey]uint64) string {
	var s []string
	for k, v := range m {
		s = append(s, fmt.Sprintf("%v=%d", k, v))
	}
	slices.Sort(s)
	return "{" + strings.Join(s, " ") + "}"
}

// A hostile is one crafted packet, sent count times, and the drop counter
// it must move on each director (zero key: on neither).
type hostile struct {
	name string
	ttl  int
	dst  netip.Addr
	body []byte
	on   map[string]dropKey // director → counter
}

// TestHostileVRRP: from a third namespace on the segment, crafted VRRP
// packets at a running pair: a wrong TTL, an unknown VRID, a wrong
// version (one Parse refuses, one the instance refuses), a bad checksum,
// a short and a long packet, an address count that disagrees with the
// length, a wrong password and a wrong interval for the VRRPv2 instance,
// and a valid priority-255 advert from a host that is not one of the
// unicast instance's peers (to each director and to the group). Each is
// counted under its reason, exactly, on each director that received it,
// in `tandem status --json` and in /metrics alike, and nothing moves: no
// transition, the VIPs where they were.
func TestHostileVRRP(t *testing.T) {
	l := lab(t, "tvl-evil")
	evilAddr := netip.MustParseAddr("10.77.0.66")
	evil := l.Host("evil", evilAddr)
	cfg := WriteConfig(t, hostileConfig)
	p1 := l.Start(l.Director("d1"), cfg)
	waitState(p1, "public", "MASTER", 0)
	waitState(p1, "uni", "MASTER", 0)
	p2 := l.Start(l.Director("d2"), cfg)
	waitState(p2, "public", "BACKUP", 0)
	waitState(p2, "uni", "BACKUP", 0)
	waitState(p1, "legacy", "MASTER", 0)
	waitState(p2, "legacy", "BACKUP", 0)
	for _, a := range []string{"10.77.0.10", "10.77.0.11", "10.77.0.12"} {
		l.WaitHolder(netip.MustParseAddr(a), "d1", 3*time.Second)
	}
	d1, d2 := l.Director("d1"), l.Director("d2")
	dirs := []*Director{d1, d2}

	// The attacker's raw socket: IP_HDRINCL, so the test sets the TTL.
	var raw *ipv4.RawConn
	must(t, evil.Do(func() error {
		pc, err := net.ListenPacket("ip4:112", evilAddr.String())
		if err != nil {
			return err
		}
		raw, err = ipv4.NewRawConn(pc)
		if err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		return raw.SetMulticastInterface(ifi)
	}))
	t.Cleanup(func() { raw.Close() })

	group := vrrp.GroupV4
	a1, a2 := d1.Addr, d2.Addr
	marshal := func(p vrrp.Packet, dst netip.Addr) []byte {
		t.Helper()
		b, err := p.Marshal(evilAddr, dst)
		must(t, err)
		return b
	}
	v3 := func(vrid uint8) vrrp.Packet {
		return vrrp.Packet{Version: 3, VRID: vrid, Priority: 255, Interval: 100 * time.Millisecond,
			Addresses: []netip.Addr{netip.MustParseAddr("10.77.0.10")}}
	}
	v2 := func(vrid uint8, pass string, ivl time.Duration) vrrp.Packet {
		p := vrrp.Packet{Version: 2, VRID: vrid, Priority: 255, Interval: ivl,
			Addresses: []netip.Addr{netip.MustParseAddr("10.77.0.11")}}
		p.SetPassword(pass)
		return p
	}
	good := marshal(v3(51), group)
	both := func(k dropKey) map[string]dropKey { return map[string]dropKey{"d1": k, "d2": k} }
	malformed := both(dropKey{"", "malformed"})
	edit := func(b []byte, f func([]byte) []byte) []byte { return f(slices.Clone(b)) }

	cases := []hostile{
		{name: "TTL 64", ttl: 64, dst: group, body: good, on: both(dropKey{"public", "bad_ttl"})},
		{name: "TTL 254", ttl: 254, dst: group, body: good, on: both(dropKey{"public", "bad_ttl"})},
		{name: "unknown VRID", ttl: 255, dst: group, body: marshal(v3(99), group), on: both(dropKey{"", "unknown_vrid"})},
		{name: "version 4", ttl: 255, dst: group, body: edit(good, func(b []byte) []byte { b[0] = 4<<4 | 1; return b }), on: malformed},
		{name: "version 1", ttl: 255, dst: group, body: edit(good, func(b []byte) []byte { b[0] = 1<<4 | 1; return b }), on: malformed},
		{name: "VRRPv2 to a VRRPv3 instance", ttl: 255, dst: group, body: marshal(v2(51, "", time.Second), group),
			on: both(dropKey{"public", "version_mismatch"})},
		{name: "VRRPv3 to a VRRPv2 instance", ttl: 255, dst: group, body: marshal(v3(53), group),
			on: both(dropKey{"legacy", "version_mismatch"})},
		{name: "type 2", ttl: 255, dst: group, body: edit(good, func(b []byte) []byte { b[0] = 3<<4 | 2; return b }), on: malformed},
		{name: "bad checksum", ttl: 255, dst: group, body: edit(good, func(b []byte) []byte { b[6] ^= 0xff; return b }), on: malformed},
		{name: "short (7 bytes)", ttl: 255, dst: group, body: good[:7], on: malformed},
		{name: "empty", ttl: 255, dst: group, body: []byte{}, on: malformed},
		{name: "long (4 bytes more)", ttl: 255, dst: group, body: append(slices.Clone(good), 0, 0, 0, 0), on: malformed},
		{name: "address count 3, one address", ttl: 255, dst: group, body: edit(good, func(b []byte) []byte { b[3] = 3; return b }), on: malformed},
		{name: "address count 0, one address", ttl: 255, dst: group, body: edit(good, func(b []byte) []byte { b[3] = 0; return b }), on: malformed},
		{name: "wrong password", ttl: 255, dst: group, body: marshal(v2(53, "guess", time.Second), group),
			on: both(dropKey{"legacy", "auth_failed"})},
		{name: "no password", ttl: 255, dst: group, body: marshal(v2(53, "", time.Second), group),
			on: both(dropKey{"legacy", "auth_failed"})},
		{name: "VRRPv2 interval 3s", ttl: 255, dst: group, body: marshal(v2(53, "s3cret", 3*time.Second), group),
			on: both(dropKey{"legacy", "interval_mismatch"})},
		{name: "not a peer, to d1", ttl: 255, dst: a1, body: marshal(v3(54), a1), on: map[string]dropKey{"d1": {"uni", "not_peer"}}},
		{name: "not a peer, to d2", ttl: 255, dst: a2, body: marshal(v3(54), a2), on: map[string]dropKey{"d2": {"uni", "not_peer"}}},
		{name: "not a peer, to the group", ttl: 255, dst: group, body: marshal(v3(54), group), on: both(dropKey{"uni", "not_peer"})},
		// Two faults at once: a wrong TTL on a packet no instance owns.
		{name: "TTL 64, unknown VRID", ttl: 64, dst: group, body: marshal(v3(99), group), on: both(dropKey{"", "unknown_vrid"})},
		{name: "TTL 64, bad checksum", ttl: 64, dst: group, body: edit(good, func(b []byte) []byte { b[6] ^= 0xff; return b }), on: malformed},
	}
	const count = 3

	n1, n2 := p1.Lines(), p2.Lines()
	mBefore := map[string]map[dropKey]uint64{}
	want := map[string]map[dropKey]uint64{}
	for _, d := range dirs {
		mBefore[d.Name] = metricsDrops(t, d)
		want[d.Name] = map[dropKey]uint64{}
	}
	for _, c := range cases {
		before := map[string]map[dropKey]uint64{}
		for _, d := range dirs {
			before[d.Name] = pageDrops(t, d)
		}
		for range count {
			h := &ipv4.Header{Version: 4, Len: ipv4.HeaderLen, TOS: 0xc0, TotalLen: ipv4.HeaderLen + len(c.body),
				TTL: c.ttl, Protocol: vrrp.Protocol, Src: evilAddr.AsSlice(), Dst: c.dst.AsSlice()}
			must(t, raw.WriteTo(h, c.body, nil))
			time.Sleep(2 * time.Millisecond)
		}
		// Wait for the expected counts.
		for _, d := range dirs {
			k, expect := c.on[d.Name]
			if !expect {
				continue
			}
			want[d.Name][k] += count
			deadline := time.Now().Add(3 * time.Second)
			for delta(before[d.Name], pageDrops(t, d))[k] < count && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		// A little longer for any count beyond the expected.
		time.Sleep(50 * time.Millisecond)
		for _, d := range dirs {
			k, expect := c.on[d.Name]
			exp := map[dropKey]uint64{}
			if expect {
				exp[k] = count
			}
			got := delta(before[d.Name], pageDrops(t, d))
			if fmtDrops(got) != fmtDrops(exp) {
				t.Errorf("%s ×%d: %s counted %s in status, want %s", c.name, count, d.Name, fmtDrops(got), fmtDrops(exp))
			}
		}
	}

	// `tandem status --json` and /metrics agree: the same counts, moved by
	// the sum of the cases.
	for _, d := range dirs {
		ms := metricsDrops(t, d)
		if got := delta(mBefore[d.Name], ms); fmtDrops(got) != fmtDrops(want[d.Name]) {
			t.Errorf("%s: /metrics moved by %s, want %s", d.Name, fmtDrops(got), fmtDrops(want[d.Name]))
		}
		st := statusDrops(t, l, d)
		for k, v := range st {
			if ms[k] != v {
				t.Errorf("%s: %v is %d in status, %d in /metrics", d.Name, k, v, ms[k])
			}
		}
	}

	// Nothing moved.
	for _, p := range []*Proc{p1, p2} {
		n := n1
		if p == p2 {
			n = n2
		}
		if tr := transitions(p, n); len(tr) > 0 {
			t.Errorf("%s made transitions under hostile packets:\n%s", p.Name, strings.Join(tr, "\n"))
		}
	}
	for _, a := range []string{"10.77.0.10", "10.77.0.11", "10.77.0.12"} {
		if h := l.Holders(netip.MustParseAddr(a)); !slices.Equal(h, []string{"d1"}) {
			t.Errorf("VIP %s held by %v after the hostile packets, want d1", a, h)
		}
	}
	report(t, "| hostile VRRP packets | %d kinds × %d, each counted under its reason on each director that received it (status and /metrics), no transition |", len(cases), count)
}
