// Package status is the document a running director reports about
// itself: `tandem status` prints it (as a table, or as JSON with --json),
// the metrics endpoint exports it, and the status page renders it. One
// document, built by the director from its last snapshot, the VRRP
// runner, the checks and one read of the kernel's IPVS table, so the
// three always agree.
//
// # The JSON schema (tandem/status/v1)
//
// The field names below are the JSON keys. A new field may be added
// within v1; a field is never renamed, removed or given another meaning
// without a new Schema value. Times are RFC 3339 with nanoseconds, UTC;
// absent times are omitted. Durations are seconds (float) in fields named
// *_seconds. Addresses are "ip:port" ("[ipv6]:port") or "ip".
//
//   - schema: "tandem/status/v1"
//   - version, node, file, config_hash (SHA-256 of the running file; the
//     two directors of a pair show the same), started, loaded (the running
//     config's load), taken (when this document was made)
//   - reloads: {ok, failed, last, last_error}
//   - vrrp: one object per instance, in the file's order: name,
//     interface, vrid, version, family, state (MASTER, BACKUP, FAULT,
//     INIT, STOP), since, priority (effective), configured_priority,
//     master (the current master's address as this node sees it, "self"
//     when it is the master, "" when unknown), master_priority,
//     transitions, became_master, released_master, adverts_sent,
//     adverts_received, dropped ({reason: count}), addresses, group,
//     track ([{kind, name, ok, weight}]), fault ([reason])
//   - vrrp_dropped: adverts dropped before an instance could be told
//     (unknown VRID, malformed), {reason: count}
//   - virtual_servers: one object per virtual_server of the file, in its
//     order: name, service (ipvsadm's "TCP 203.0.113.10:80", "FWM 1"),
//     protocol, address, fwmark, family, scheduler, flags, persistence_seconds,
//     forward, up (quorum held), healthy_weight, quorum, sorry (the sorry
//     server is in), panic (fewer real servers healthy than
//     panic_threshold: all are in the table), panic_threshold ("50%",
//     absent when none), held ({reason, since, timing_out, checked}
//     while its probe timeouts are held: "mass timeout", "checker
//     overloaded", "mass timeout of all checks"), in_kernel, stats,
//     real_servers
//   - real_servers[]: name, address, forward (nat, dr, tun), configured_weight,
//     weight (in the kernel; -1 when not there), active_conns, inactive_conns,
//     persistent_conns, health (up, down, unknown, unchecked, draining,
//     maintenance), check (tcp, http, https, command; "" when unchecked),
//     since (of the check's last change), last_probe, last_error,
//     last_probe_seconds, check_transitions, override ({mode, since} when
//     an operator set drain or disable), sorry (the sorry server), removed
//     (no longer in the file, drained out), stats
//   - foreign: the kernel's services this file does not own, left alone:
//     service, scheduler, stats, real_servers (address, forward, weight,
//     active_conns, inactive_conns, stats)
//   - ipvs: {managed, reconciles, reconcile_writes, reconcile_errors, last_reconcile,
//     last_reconcile_seconds, kernel_error}
//   - health_checks (when checks run): {overloaded, overloaded_since,
//     mass_timeout, mass_timeout_since, late_probes, held_timeouts}: the
//     checker holds probe timeouts while its probes run late or most of
//     all the checks time out
//   - stats (with --stats or --rate, always on the metrics path): {conns,
//     in_packets, out_packets, in_bytes, out_bytes, cps, in_pps, out_pps,
//     in_bps, out_bps}: the kernel's counters since the service or
//     destination was added, and its rate estimates (per second, over
//     about 2 s).
package status

import (
	"time"
)

// Schema is the value of Status.Schema.
const Schema = "tandem/status/v1"

// Status is the whole document.
type Status struct {
	Schema     string    `json:"schema"`
	Version    string    `json:"version"`
	Node       string    `json:"node"`
	File       string    `json:"file"`
	ConfigHash string    `json:"config_hash"`
	Started    time.Time `json:"started"`
	Loaded     time.Time `json:"loaded"`
	Taken      time.Time `json:"taken"`
	Reloads    Reloads   `json:"reloads"`

	VRRP        []Instance        `json:"vrrp"`
	VRRPDropped map[string]uint64 `json:"vrrp_dropped,omitempty"`

	// BGP is the speaker's state; nil without a bgp block.
	BGP *BGP `json:"bgp,omitempty"`

	VirtualServers []VirtualServer `json:"virtual_servers"`
	Foreign        []Foreign       `json:"foreign,omitempty"`
	IPVS           IPVS            `json:"ipvs"`
	HealthChecks   *HealthChecks   `json:"health_checks,omitempty"`
}

// BGP is the BGP state of a director whose cluster file has a bgp block.
type BGP struct {
	LocalAS  uint32 `json:"local_as"`
	RouterID string `json:"router_id"`
	// Draining: drain-node or a stop withdrew the routes.
	Draining bool `json:"draining"`
	// PlacementHash is a hash of what decides where a flow goes (the BGP
	// addresses' virtual servers: scheduler, flags, real servers and
	// weights): every director of the cluster must show the same.
	PlacementHash string `json:"placement_hash"`
	// Placements are the other directors' placement hashes, read from
	// their metrics listeners (nodes whose address is known).
	Placements []BGPPlacement `json:"placements"`
	Routes     []BGPRoute     `json:"routes"`
	Peers      []BGPPeer      `json:"peers"`
}

// BGPPlacement is another director's placement hash.
type BGPPlacement struct {
	Node string `json:"node"`
	Hash string `json:"hash,omitempty"`
	// Same: the hash equals this director's.
	Same    bool       `json:"same"`
	Error   string     `json:"error,omitempty"`
	Checked *time.Time `json:"checked,omitempty"`
}

// BGPRoute is one address and whether it is announced, with why.
type BGPRoute struct {
	Prefix    string `json:"prefix"`
	Announced bool   `json:"announced"`
	Reason    string `json:"reason"`
}

// BGPPeer is one peer's session.
type BGPPeer struct {
	Address   string     `json:"address"`
	AS        uint32     `json:"as"`
	State     string     `json:"state"`
	Since     *time.Time `json:"since,omitempty"`
	Announced int        `json:"announced"`
	LastError string     `json:"last_error,omitempty"`
}

// HealthChecks is the checker's own state: whether it holds probe
// timeouts (overload is not failure, see healthcheck's overload.go).
type HealthChecks struct {
	// Overloaded: the checker's probes run late against their schedule.
	Overloaded      bool       `json:"overloaded"`
	OverloadedSince *time.Time `json:"overloaded_since,omitempty"`
	// MassTimeout: most of all the checks time out at once.
	MassTimeout      bool       `json:"mass_timeout"`
	MassTimeoutSince *time.Time `json:"mass_timeout_since,omitempty"`
	LateProbes       uint64     `json:"late_probes"`
	HeldTimeouts     uint64     `json:"held_timeouts"`
}

// Held says why and since when a virtual server's probe timeouts do not
// take its real servers out.
type Held struct {
	// Reason: "mass timeout" (most of its real servers time out at once),
	// "checker overloaded", "mass timeout of all checks".
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// TimingOut of Checked real servers timed out on their last probe.
	TimingOut int `json:"timing_out"`
	Checked   int `json:"checked"`
}

// Reloads counts the reloads since start.
type Reloads struct {
	OK        int        `json:"ok"`
	Failed    int        `json:"failed"`
	Last      *time.Time `json:"last,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// Instance is one VRRP instance.
type Instance struct {
	Name               string            `json:"name"`
	Interface          string            `json:"interface"`
	VRID               int               `json:"vrid"`
	Version            int               `json:"version"`
	Family             string            `json:"family"`
	State              string            `json:"state"`
	Since              *time.Time        `json:"since,omitempty"`
	Priority           int               `json:"priority"`
	ConfiguredPriority int               `json:"configured_priority"`
	Master             string            `json:"master"`
	MasterPriority     int               `json:"master_priority,omitempty"`
	Transitions        uint64            `json:"transitions"`
	BecameMaster       uint64            `json:"became_master"`
	ReleasedMaster     uint64            `json:"released_master"`
	AdvertsSent        uint64            `json:"adverts_sent"`
	AdvertsReceived    uint64            `json:"adverts_received"`
	Dropped            map[string]uint64 `json:"dropped"`
	Addresses          []string          `json:"addresses"`
	Group              string            `json:"group,omitempty"`
	Track              []Track           `json:"track,omitempty"`
	Fault              []string          `json:"fault,omitempty"`
}

// Track is one thing an instance tracks.
type Track struct {
	Kind   string `json:"kind"` // interface, script, virtual_server, ...
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Weight int    `json:"weight"` // what it takes off (or adds to) the priority while failed
}

// VirtualServer is one virtual_server of the running file.
type VirtualServer struct {
	Name               string       `json:"name"`
	Service            string       `json:"service"`
	Protocol           string       `json:"protocol"`
	Address            string       `json:"address,omitempty"`
	FWMark             uint32       `json:"fwmark,omitempty"`
	Family             string       `json:"family"`
	Scheduler          string       `json:"scheduler"`
	Flags              []string     `json:"flags,omitempty"`
	PersistenceSeconds float64      `json:"persistence_seconds,omitempty"`
	Forward            string       `json:"forward"`
	Up                 bool         `json:"up"`
	HealthyWeight      uint64       `json:"healthy_weight"`
	Quorum             uint32       `json:"quorum"`
	Sorry              bool         `json:"sorry"`
	Panic              bool         `json:"panic,omitempty"`
	PanicThreshold     string       `json:"panic_threshold,omitempty"`
	Held               *Held        `json:"held,omitempty"`
	InKernel           bool         `json:"in_kernel"`
	Stats              *Stats       `json:"stats,omitempty"`
	RealServers        []RealServer `json:"real_servers"`
}

// Health values of a real server.
const (
	Up          = "up"
	Down        = "down"
	Unknown     = "unknown"   // checked, no verdict yet
	Unchecked   = "unchecked" // no check: always in
	Draining    = "draining"  // weight 0 on purpose; its connections finish
	Maintenance = "maintenance"
)

// RealServer is one real server (or the sorry server) of a virtual
// server.
type RealServer struct {
	Name             string     `json:"name"`
	Address          string     `json:"address"`
	Forward          string     `json:"forward"`
	ConfiguredWeight int        `json:"configured_weight"`
	Weight           int        `json:"weight"`
	ActiveConns      uint32     `json:"active_conns"`
	InactiveConns    uint32     `json:"inactive_conns"`
	PersistentConns  uint32     `json:"persistent_conns"`
	Health           string     `json:"health"`
	Check            string     `json:"check,omitempty"`
	Since            *time.Time `json:"since,omitempty"`
	LastProbe        *time.Time `json:"last_probe,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	LastProbeSeconds float64    `json:"last_probe_seconds,omitempty"`
	CheckTransitions int        `json:"check_transitions,omitempty"`
	Override         *Override  `json:"override,omitempty"`
	Sorry            bool       `json:"sorry,omitempty"`
	Removed          bool       `json:"removed,omitempty"`
	Stats            *Stats     `json:"stats,omitempty"`
}

// Override is an operator's maintenance setting of a real server.
type Override struct {
	Mode  string    `json:"mode"` // drain, disable
	Since time.Time `json:"since"`
}

// Foreign is a kernel service the file does not own.
type Foreign struct {
	Service     string        `json:"service"`
	Scheduler   string        `json:"scheduler"`
	Stats       *Stats        `json:"stats,omitempty"`
	RealServers []ForeignDest `json:"real_servers"`
}

// ForeignDest is a destination of a foreign service.
type ForeignDest struct {
	Address       string `json:"address"`
	Forward       string `json:"forward"`
	Weight        int    `json:"weight"`
	ActiveConns   uint32 `json:"active_conns"`
	InactiveConns uint32 `json:"inactive_conns"`
	Stats         *Stats `json:"stats,omitempty"`
}

// IPVS is the reconciler's view.
type IPVS struct {
	Managed              bool       `json:"managed"`
	Reconciles           uint64     `json:"reconciles"`
	ReconcileWrites      uint64     `json:"reconcile_writes"`
	ReconcileErrors      uint64     `json:"reconcile_errors"`
	LastReconcile        *time.Time `json:"last_reconcile,omitempty"`
	LastReconcileSeconds float64    `json:"last_reconcile_seconds,omitempty"`
	KernelError          string     `json:"kernel_error,omitempty"`
}

// Stats are the kernel's counters and rates of a service or destination.
type Stats struct {
	Conns      uint64 `json:"conns"`
	InPackets  uint64 `json:"in_packets"`
	OutPackets uint64 `json:"out_packets"`
	InBytes    uint64 `json:"in_bytes"`
	OutBytes   uint64 `json:"out_bytes"`
	CPS        uint64 `json:"cps"`
	InPPS      uint64 `json:"in_pps"`
	OutPPS     uint64 `json:"out_pps"`
	InBPS      uint64 `json:"in_bps"`
	OutBPS     uint64 `json:"out_bps"`
}
