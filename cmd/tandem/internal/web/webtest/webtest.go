// Package webtest holds a realistic status document for the status
// page's tests and its demo server (package webdemo): two VRRP instances
// (a master, and a backup whose tracked interface failed), two virtual
// servers (one up with a drained and a down real server, one down with
// its sorry server in, a server in maintenance, one not checked yet and
// one removed from the file), IPVS counters, and a foreign service.
package webtest

import (
	"time"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// Taken is the fixture's taken time: every age on its page counts from
// it.
var Taken = time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)

// Status returns a fresh copy of the fixture document.
func Status() *status.Status {
	at := func(d time.Duration) *time.Time { t := Taken.Add(-d); return &t }
	stats := func(conns, cps, inBPS uint64) *status.Stats {
		return &status.Stats{Conns: conns, InPackets: conns * 9, OutPackets: conns * 7, InBytes: conns * 1234, OutBytes: conns * 56789,
			CPS: cps, InPPS: cps * 9, OutPPS: cps * 7, InBPS: inBPS, OutBPS: inBPS * 40}
	}
	return &status.Status{
		Schema:     status.Schema,
		Version:    "v0.9.0-12-gabcdef1",
		Node:       "lb1",
		File:       "/etc/tandem/cluster.hcl",
		ConfigHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		Started:    Taken.Add(-26*time.Hour - 3*time.Minute),
		Loaded:     Taken.Add(-42*time.Minute - 7*time.Second),
		Taken:      Taken,
		Reloads: status.Reloads{OK: 3, Failed: 1, Last: at(42*time.Minute + 7*time.Second),
			LastError: `cluster.hcl:41,5-12: Unsupported argument; An argument named "weigth" is not expected here.`},
		VRRP: []status.Instance{
			{
				Name: "public", Interface: "eth0", VRID: 51, Version: 3, Family: "ipv4", State: "MASTER",
				Since: at(3*time.Hour + 12*time.Minute), Priority: 150, ConfiguredPriority: 150, Master: "self",
				Transitions: 3, BecameMaster: 2, ReleasedMaster: 1, AdvertsSent: 11520, AdvertsReceived: 42,
				Dropped:   map[string]uint64{"lower priority while master": 2, "bad ttl": 1},
				Addresses: []string{"203.0.113.10/24", "203.0.113.11/24"}, Group: "edge",
				Track: []status.Track{{Kind: "interface", Name: "eth0", OK: true}},
			},
			{
				Name: "private", Interface: "eth1", VRID: 52, Version: 3, Family: "ipv4", State: "BACKUP",
				Since: at(26 * time.Hour), Priority: 80, ConfiguredPriority: 100, Master: "10.0.0.2", MasterPriority: 100,
				Transitions: 1, AdvertsSent: 0, AdvertsReceived: 93600, Dropped: map[string]uint64{},
				Addresses: []string{"10.0.0.254/24"}, Group: "edge",
				Track: []status.Track{{Kind: "interface", Name: "eth1", OK: true}, {Kind: "interface", Name: "bond0", OK: false, Weight: -20}},
			},
		},
		VRRPDropped: map[string]uint64{"unknown vrid": 7},
		VirtualServers: []status.VirtualServer{
			{
				Name: "web", Service: "TCP 203.0.113.10:80", Protocol: "tcp", Address: "203.0.113.10:80", Family: "ipv4",
				Scheduler: "wlc", Forward: "nat", Up: true, HealthyWeight: 100, Quorum: 50, InKernel: true,
				Stats: stats(981234, 57, 123456),
				RealServers: []status.RealServer{
					{Name: "rs1", Address: "10.0.1.11:8080", Forward: "nat", ConfiguredWeight: 100, Weight: 100,
						ActiveConns: 123, InactiveConns: 4567, Health: status.Up, Check: "http",
						Since: at(3*time.Hour + 11*time.Minute), LastProbe: at(1200 * time.Millisecond), LastProbeSeconds: 0.001234,
						CheckTransitions: 2, Stats: stats(600000, 40, 100000)},
					{Name: "rs2", Address: "10.0.1.12:8080", Forward: "nat", ConfiguredWeight: 100, Weight: 0,
						ActiveConns: 7, InactiveConns: 310, Health: status.Draining, Check: "http",
						Since: at(5 * time.Hour), LastProbe: at(800 * time.Millisecond), LastProbeSeconds: 0.000987,
						Override: &status.Override{Mode: "drain", Since: Taken.Add(-12*time.Minute - 30*time.Second)},
						Stats:    stats(380000, 0, 20)},
					{Name: "rs3", Address: "10.0.1.13:8080", Forward: "nat", ConfiguredWeight: 50, Weight: 0,
						Health: status.Down, Check: "http", Since: at(4*time.Minute + 2*time.Second),
						LastProbe: at(2 * time.Second), LastProbeSeconds: 3.000512, CheckTransitions: 5,
						LastError: "GET http://10.0.1.13:8080/healthz: dial tcp 10.0.1.13:8080: connect: connection refused",
						Stats:     stats(1234, 0, 0)},
				},
			},
			{
				Name: "mail", Service: "FWM 25", Protocol: "tcp", FWMark: 25, Family: "ipv4",
				Scheduler: "sh", Flags: []string{"sh-port"}, PersistenceSeconds: 300, Forward: "dr",
				Up: false, HealthyWeight: 0, Quorum: 1, Sorry: true, InKernel: true,
				RealServers: []status.RealServer{
					{Name: "mx1", Address: "10.0.2.21:25", Forward: "dr", ConfiguredWeight: 1, Weight: 0,
						PersistentConns: 0, Health: status.Maintenance, Check: "tcp", Since: at(48*time.Hour + 5*time.Hour),
						Override: &status.Override{Mode: "disable", Since: Taken.Add(-53 * time.Hour)}},
					{Name: "mx2", Address: "[2001:db8:2::22]:25", Forward: "tun", ConfiguredWeight: 1, Weight: -1,
						Health: status.Unknown, Check: "command"},
					{Name: "sorry_server", Address: "10.0.9.9:25", Forward: "dr", ConfiguredWeight: 1, Weight: 1,
						ActiveConns: 2, InactiveConns: 1, PersistentConns: 3, Health: status.Unchecked, Sorry: true},
					{Name: "", Address: "10.0.2.29:25", Forward: "dr", Weight: 0, ActiveConns: 1, Health: status.Draining, Removed: true},
				},
			},
		},
		Foreign: []status.Foreign{
			{Service: "TCP 198.51.100.7:443", Scheduler: "rr", Stats: stats(77, 1, 300), RealServers: []status.ForeignDest{
				{Address: "192.168.5.1:443", Forward: "nat", Weight: 1, ActiveConns: 3, InactiveConns: 9, Stats: stats(70, 1, 290)},
				{Address: "192.168.5.2:443", Forward: "nat", Weight: 0},
			}},
		},
		IPVS: status.IPVS{Managed: true, Reconciles: 4242, ReconcileWrites: 17, ReconcileErrors: 1,
			LastReconcile: at(1500 * time.Millisecond), LastReconcileSeconds: 0.000734},
	}
}
