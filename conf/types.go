package conf

import (
	"net/netip"
	"time"
)

// Cluster is one validated cluster file: the settings shared by every
// director, the nodes, the VRRP instances and the virtual servers, with every
// default filled in.
//
// A Cluster is built only by Parse or Load and is read-only afterwards: callers
// must not modify it (or anything it points to). Any number of goroutines may
// read it at the same time. Slices keep the order of the file.
type Cluster struct {
	Director       Director
	Nodes          []Node
	VRRP           []VRRPInstance
	SyncGroups     []SyncGroup
	TrackScripts   []TrackScript
	VirtualServers []VirtualServer
	// Hash is the SHA-256 of the file's source, in hex: both directors,
	// deployed the same file, show the same (status, metrics).
	Hash string
	// Metrics is the metrics and status page listener; nil when off.
	Metrics *Metrics
	// Scripts is who runs the programs the file names (scripts block).
	Scripts Scripts
	// BGP, when set, announces its VIPs from every director (bgp.go).
	BGP *BGP

	// ifacePos is where each interface use (InterfaceUses' Use, and for
	// a node's list the name too) is written, as "file:line:col".
	ifacePos map[string]string
	// pos is where things are written, "file:line:col", by a key: each
	// ScriptUse's Use, and the keys of Pos.
	pos map[string]string
}

// Director holds the settings of the `director` block: kernel settings that
// apply to every director of the cluster.
type Director struct {
	// IPForward decides whether tandem turns net.ipv4.ip_forward (and the
	// IPv6 forwarding sysctl) on. Default IPForwardAuto; "off" leaves the
	// sysctls as they are. See Cluster.NeedsIPForward.
	IPForward IPForward
	// SendRedirects, when false (the default), turns ICMP redirects off on
	// all/default and on the node's interfaces.
	SendRedirects bool
	// Masquerade lists real-server subnets whose own outbound traffic is
	// masqueraded by the director. Each prefix is masked (no host bits).
	Masquerade []netip.Prefix
	// StaticVIPs are addresses configured on the directors outside tandem
	// (no VRRP); virtual servers may use them.
	StaticVIPs []netip.Addr
	// ConnSync configures the IPVS connection-sync daemon; nil when off.
	ConnSync *ConnSync
	// Timeouts are the IPVS connection timeouts; zero fields keep the
	// kernel's value.
	Timeouts Timeouts
	// LogLevel is tandem's log level, "" for the default (info); the
	// --log-level flag overrides it, and a reload changes it.
	LogLevel LogLevel
}

// LogLevel is the value of director.log_level.
type LogLevel string

// LogLevel values.
const (
	LogDebug LogLevel = "debug"
	LogInfo  LogLevel = "info"
	LogWarn  LogLevel = "warn"
	LogError LogLevel = "error"
)

// IPForward is the value of director.ip_forward.
type IPForward string

// IPForward values.
const (
	IPForwardAuto IPForward = "auto" // on when any NAT real server exists
	IPForwardOn   IPForward = "on"
	IPForwardOff  IPForward = "off" // leave the sysctls alone
)

// ConnSync configures the IPVS connection synchronisation daemon. Its
// master/backup role follows the state of the VRRP instance named VRRP.
type ConnSync struct {
	Interface string
	SyncID    uint8
	// Group, Port and TTL address the sync messages; zero values keep
	// the kernel's defaults (224.0.0.81, 8848, 1).
	Group netip.Addr
	Port  uint16
	TTL   uint8
	// VRRP names the instance whose state decides the daemon's role. It
	// defaults to the only VRRP instance when there is exactly one. It is
	// empty in a BGP cluster without VRRP: every director is active and
	// runs both the master and the backup daemon.
	VRRP string
}

// Timeouts are the IPVS timeouts (ipvsadm --set). Zero keeps the kernel's
// value. All are whole seconds.
type Timeouts struct {
	TCP    time.Duration
	TCPFin time.Duration
	UDP    time.Duration
}

// Node is one director of the cluster.
type Node struct {
	Name string
	// Hostname is matched by Cluster.NodeForHost; it defaults to Name.
	Hostname string
	// Priority is the node's VRRP priority, 1..254, default 100. A VRRP
	// instance may override it (VRRPInstance.Priorities).
	Priority uint8
	// Interfaces are the node's interfaces, used for send_redirects and to
	// check interface references. Empty when not given.
	Interfaces []string
	// MetricsListen overrides the cluster's metrics listen address on
	// this node (its own metrics block); zero when not set.
	MetricsListen netip.AddrPort
	// RouterID is the node's BGP router id; zero when not set (the
	// address the node reaches its first BGP peer from).
	RouterID netip.Addr
}

// Metrics configures the HTTP listener that serves Prometheus metrics
// (/metrics) and the status page (/).
type Metrics struct {
	Listen netip.AddrPort
}

// MetricsListen returns where node n serves metrics: its own metrics
// block, else the cluster's; ok is false when neither is set.
func (c *Cluster) MetricsListen(n *Node) (netip.AddrPort, bool) {
	if n != nil && n.MetricsListen.IsValid() {
		return n.MetricsListen, true
	}
	if c.Metrics != nil {
		return c.Metrics.Listen, true
	}
	return netip.AddrPort{}, false
}

// Family is an address family.
type Family string

// Family values.
const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

// FamilyOf returns the family of a valid address.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return IPv4
	}
	return IPv6
}

// VRRPInstance is one `vrrp` block: a virtual router (RFC 5798) that moves
// Addresses between the directors.
type VRRPInstance struct {
	Name      string
	VRID      uint8
	Interface string
	// Addresses are the virtual addresses with their prefix length (the
	// address keeps its host bits). All are of Family.
	Addresses []netip.Prefix
	Family    Family
	// Version is 2 or 3 (default 3). Version 2 is IPv4 only.
	Version        int
	AdvertInterval time.Duration // default 1s
	Preempt        bool          // default true
	PreemptDelay   time.Duration // default 0
	Accept         bool          // default false
	// UnicastPeers, when not empty, replaces multicast adverts.
	UnicastPeers []netip.Addr
	// Priorities overrides Node.Priority per node name; nil when empty.
	Priorities map[string]uint8
	// AuthPass is the VRRPv2 simple-text password ("" = none).
	AuthPass        string
	TrackInterfaces []string
	// TrackScripts name TrackScript blocks whose results change the priority.
	TrackScripts []string
	// TrackVirtualServers lowers the priority by a weight (a negative
	// number, -254..-1) while the named virtual server has lost its quorum
	// (its healthy real servers weigh less than its quorum): the director
	// whose backends are down hands the VIPs to one whose backends are up.
	// Nil when empty.
	TrackVirtualServers map[string]int
	GARP                GARP
	// Notify is an argv run on every transition; nil when not set.
	Notify []string
	// PairHandover enables a fast handover on priority 0 when the cluster
	// has exactly two nodes.
	PairHandover bool
}

// PriorityOf returns the priority node n runs instance v with: the
// instance's override for n, or else the node's own priority.
func (v *VRRPInstance) PriorityOf(n *Node) uint8 {
	if p, ok := v.Priorities[n.Name]; ok {
		return p
	}
	return n.Priority
}

// GARP holds the gratuitous ARP / unsolicited NA settings of an instance.
// The defaults are keepalived's.
type GARP struct {
	Count       int           // sent on becoming master; default 5
	Interval    time.Duration // between two of them; default 0
	RepeatCount int           // sent again RepeatAfter later; default 5
	RepeatAfter time.Duration // default 5s
	Refresh     time.Duration // periodic refresh while master; 0 = off
}

// SyncGroup is a `sync_group` block: instances that change state together.
type SyncGroup struct {
	Name      string
	Instances []string
	Notify    []string // nil when not set
}

// TrackScript is a `track_script` block: a command whose exit status
// adjusts the priority of the VRRP instances that track it.
type TrackScript struct {
	Name     string
	Command  []string
	Interval time.Duration // default 2s
	Timeout  time.Duration // default 1s, or Interval if shorter
	// Weight is added to the priority while the script fails (when
	// negative) or succeeds (when positive); 0 puts the instance in FAULT
	// while the script fails. Range -254..254, default 0.
	Weight int
	Rise   int // default 1
	Fall   int // default 1
}

// Protocol is a virtual service's transport protocol.
type Protocol string

// Protocol values.
const (
	TCP  Protocol = "tcp"
	UDP  Protocol = "udp"
	SCTP Protocol = "sctp"
)

// Forward is an IPVS forwarding method.
type Forward string

// Forward values.
const (
	NAT Forward = "nat" // masquerading
	DR  Forward = "dr"  // direct routing (gatewaying)
	TUN Forward = "tun" // IP-in-IP tunnelling
)

// OnFailure says what happens to a real server whose check fails.
type OnFailure string

// OnFailure values.
const (
	Remove OnFailure = "remove" // delete the destination
	Drain  OnFailure = "drain"  // keep it with weight 0
)

// Schedulers lists the IPVS scheduler names the kernel knows.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos"}

// Scheduler flags (IP_VS_SVC_F_SCHED1 and IP_VS_SVC_F_SCHED2). The sh-
// flags are valid with the sh scheduler, the mh- flags with mh.
const (
	FlagSHFallback = "sh-fallback"
	FlagSHPort     = "sh-port"
	FlagMHFallback = "mh-fallback"
	FlagMHPort     = "mh-port"
)

// VirtualServer is a `virtual_server` block: one IPVS service and its real
// servers. Exactly one of Address and FWMark is set.
type VirtualServer struct {
	Name string
	// Address is the VIP and port; the zero value for fwmark services.
	Address netip.AddrPort
	// FWMark is the firewall mark of a fwmark service, 0 otherwise.
	FWMark uint32
	// Family is the family of Address, or the `family` of a fwmark service.
	Family Family
	// Protocol is tcp, udp or sctp (default tcp); empty for fwmark services.
	Protocol  Protocol
	Scheduler string // default "wlc"
	// SchedulerFlags are the flags given, in order (see the Flag constants).
	SchedulerFlags []string
	// Persistence is nil when the service is not persistent.
	Persistence *Persistence
	OnePacket   bool
	// Forward is the default forwarding method of the real servers.
	Forward   Forward
	OnFailure OnFailure // default remove; always drain for a BGP address
	// Quorum is the minimum sum of the weights of the healthy real servers
	// for the service to be considered up; default 1.
	Quorum uint32
	// PanicThreshold is a percentage of the real servers, 0 (the
	// default) for none: while fewer than that share of them are
	// healthy, the table routes to all of them, at their configured
	// weights (Envoy's healthy_panic_threshold).
	PanicThreshold uint8
	// Check is the default check of the real servers; nil when none.
	Check       *Check
	SorryServer *SorryServer
	RealServers []RealServer
}

// Persistence makes a service persistent (ipvsadm -p / -M).
type Persistence struct {
	Timeout time.Duration // whole seconds, default 300s
	// PrefixLen is the client netmask as a prefix length; default 32 for
	// IPv4 and 128 for IPv6.
	PrefixLen int
}

// SorryServer is the server used when no real server is up.
type SorryServer struct {
	Address netip.AddrPort
	Forward Forward
}

// RealServer is a `real_server` block, with the virtual server's defaults
// already applied.
type RealServer struct {
	Name string
	// Address has the virtual server's port when the file gave none
	// (port 0 for fwmark services).
	Address        netip.AddrPort
	Weight         uint16 // default 1
	Forward        Forward
	UpperThreshold uint32 // 0 = none
	LowerThreshold uint32
	// Check is the real server's own check or the virtual server's; nil
	// when neither has one.
	Check *Check
}

// CheckType is the label of a `check` block.
type CheckType string

// CheckType values.
const (
	CheckTCP     CheckType = "tcp"
	CheckHTTP    CheckType = "http"
	CheckHTTPS   CheckType = "https"
	CheckCommand CheckType = "command"
)

// Check is a health check of a real server.
type Check struct {
	Type     CheckType
	Interval time.Duration // default 2s
	Timeout  time.Duration // default 1s, or Interval if shorter
	Rise     int           // default 2
	Fall     int           // default 2
	// Port overrides the real server's port (0 = the real server's).
	Port uint16
	// ConnectAddress overrides the real server's address (zero = its own).
	ConnectAddress netip.Addr
	// SourceAddress binds the probe's source (zero = chosen by the kernel).
	SourceAddress netip.Addr

	// TCP only. HalfOpen probes with a bare SYN from a raw socket instead
	// of a full connect: up on the SYN-ACK, down on a reset or no answer
	// (default false = a full connect).
	HalfOpen bool

	// HTTP and HTTPS only. ReuseConnection keeps the connection open
	// between probes (HTTP/1.1 keep-alive), a fresh one at least every
	// KeepaliveRequests probes (default false = a new connection per
	// probe; KeepaliveRequests default 10, 0 when not reusing).
	ReuseConnection   bool
	KeepaliveRequests int
	Path              string        // default "/"
	Host              string        // Host header; "" = the connect address
	Status            []StatusRange // default 200-299
	Digest            Digest        // zero = not checked
	Regex             string        // "" = not checked; compiles with regexp

	// HTTPS only.
	TLS TLS

	// Command only: the argv to run.
	Command []string
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Min, Max int }

// Digest is an expected body digest.
type Digest struct {
	Algorithm string // "md5" or "sha256"; "" = none
	Sum       []byte
}

// TLS holds the TLS settings of an https check.
type TLS struct {
	ServerName         string
	CAFile             string
	InsecureSkipVerify bool
}

// ServiceKey identifies an IPVS service: protocol, address and port, or
// fwmark and family.
type ServiceKey struct {
	Protocol Protocol
	Address  netip.AddrPort
	FWMark   uint32
	Family   Family
}

// Key returns the IPVS key of the virtual server.
func (vs *VirtualServer) Key() ServiceKey {
	if vs.FWMark != 0 {
		return ServiceKey{FWMark: vs.FWMark, Family: vs.Family}
	}
	return ServiceKey{Protocol: vs.Protocol, Address: vs.Address, Family: vs.Family}
}

func (k ServiceKey) String() string {
	if k.FWMark != 0 {
		return "fwmark " + itoa(int64(k.FWMark)) + " " + string(k.Family)
	}
	return string(k.Protocol) + " " + k.Address.String()
}
