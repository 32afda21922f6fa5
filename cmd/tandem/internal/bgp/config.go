package bgp

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osrg/gobgp/v4/api"
)

// Peer is one BGP neighbour (the router) of this director.
type Peer struct {
	// Address is the neighbour's address; the session runs over this
	// address family, and both IPv4 and IPv6 unicast are offered on it.
	Address netip.Addr
	// AS is the neighbour's AS; equal to Config.LocalAS makes it iBGP.
	AS uint32
	// Port is the neighbour's TCP port; 0 means 179.
	Port uint16
	// Password enables TCP MD5 (RFC 2385) on the session; "" none.
	Password string
	// HoldTime is the hold time proposed in OPEN; 0 means 90s (GoBGP's
	// default), otherwise whole seconds from 3s to 65535s. Keepalives are
	// sent every hold/3.
	HoldTime time.Duration
	// Passive waits for the neighbour to connect (needs Config.ListenPort > 0).
	Passive bool
	// GracefulRestart enables RFC 4724 graceful restart with RestartTime
	// (0: 120s, at most 4095s): after Stop(true) the router keeps our
	// routes (marked stale) for RestartTime, until the restarted speaker
	// (Config.Restarting) has re-announced them and sent End-of-RIB.
	GracefulRestart bool
	RestartTime     time.Duration
	// LocalAddress is the source address of the session, zero: the
	// kernel's choice. The next hop of our paths to this peer is the
	// session's local address, whichever it is.
	LocalAddress netip.Addr
	// BFD enables GoBGP's single-hop BFD (RFC 5880/5881) for this peer:
	// control packets every BFDInterval (0: 1s; whole microseconds),
	// session down after BFDMultiplier (0: 3) missed intervals, which
	// hard-resets the BGP session. GoBGP then listens on UDP port 3784
	// (all addresses) and sends from a port in 49152-65535; the router
	// must run BFD for this address too.
	BFD           bool
	BFDInterval   time.Duration
	BFDMultiplier uint8
}

// Config is the speaker's whole configuration.
type Config struct {
	// LocalAS is this director's AS (4-octet ASNs are fine).
	LocalAS uint32
	// RouterID is the BGP identifier, an IPv4 address.
	RouterID netip.Addr
	// ListenPort is the TCP port GoBGP listens on (all addresses);
	// -1 or 0: none, the speaker only connects out (tandem's default).
	ListenPort int32
	// Peers are the neighbours, one per address.
	Peers []Peer
	// Communities are standard communities ("65000:100", or one of
	// no-export, no-advertise, no-export-subconfed, blackhole,
	// graceful-shutdown) attached to every announced path.
	Communities []string
	// MED, if not nil, is the MULTI_EXIT_DISC of every announced path.
	MED *uint32
	// Restarting is read by Start only: set it when this process restarts
	// after a graceful stop (Stop(true)). Peers with GracefulRestart then get
	// the Restart State and Forwarding State bits in OPEN, so the router keeps
	// our stale routes instead of flushing them when the session comes back;
	// GoBGP defers sending our routes to such a peer until it has its
	// End-of-RIB (or DeferralTime, 30s here), and the router replaces
	// the stale routes with ours. Without it the router drops the stale
	// routes as soon as the new session is up and relearns them right after.
	Restarting bool
}

const (
	defaultHoldTime    = 90 * time.Second
	defaultRestartTime = 120 * time.Second
	// connectRetry is how often GoBGP retries a failed outgoing connection
	// (its own default is 120s; the first attempt is after about 2s).
	connectRetry = 5
	// deferralTime bounds how long a restarting speaker waits for a peer's
	// End-of-RIB before sending its routes (GoBGP's default is 360s).
	deferralTime = 30
)

// wellKnownCommunities are RFC 1997/7999/8326 names.
var wellKnownCommunities = map[string]uint32{
	"no-export":           0xFFFFFF01,
	"no-advertise":        0xFFFFFF02,
	"no-export-subconfed": 0xFFFFFF03,
	"blackhole":           0xFFFF029A,
	"graceful-shutdown":   0xFFFF0000,
}

// ParseCommunity parses a standard community: "ASN:VALUE" with both parts
// 0..65535, or a well-known name (no-export, no-advertise,
// no-export-subconfed, blackhole, graceful-shutdown).
func ParseCommunity(s string) (uint32, error) {
	if v, ok := wellKnownCommunities[strings.ToLower(s)]; ok {
		return v, nil
	}
	hi, lo, ok := strings.Cut(s, ":")
	if !ok {
		return 0, fmt.Errorf("community %q: want ASN:VALUE (each 0-65535) or a well-known name", s)
	}
	a, err1 := strconv.ParseUint(hi, 10, 16)
	b, err2 := strconv.ParseUint(lo, 10, 16)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("community %q: want ASN:VALUE with each part 0-65535", s)
	}
	return uint32(a)<<16 | uint32(b), nil
}

// compiled is a validated Config in the form the speaker uses.
type compiled struct {
	cfg         Config
	communities []uint32
	peers       map[netip.Addr]*api.Peer
}

// compile validates cfg; every error names the field or peer at fault.
func compile(cfg Config) (*compiled, error) {
	var errs []error
	if cfg.LocalAS == 0 {
		errs = append(errs, errors.New("bgp: local AS must not be 0"))
	}
	if !cfg.RouterID.IsValid() || !cfg.RouterID.Unmap().Is4() || cfg.RouterID.Unmap().IsUnspecified() {
		errs = append(errs, fmt.Errorf("bgp: router id %q must be a non-zero IPv4 address", addrString(cfg.RouterID)))
	}
	if cfg.ListenPort > math.MaxUint16 {
		errs = append(errs, fmt.Errorf("bgp: listen port %d out of range", cfg.ListenPort))
	}
	c := &compiled{cfg: cfg, peers: make(map[netip.Addr]*api.Peer, len(cfg.Peers))}
	c.cfg.Peers = slices.Clone(cfg.Peers)
	c.cfg.Communities = slices.Clone(cfg.Communities)
	if cfg.MED != nil {
		m := *cfg.MED
		c.cfg.MED = &m
	}
	for _, s := range cfg.Communities {
		v, err := ParseCommunity(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: %w", err))
			continue
		}
		if !slices.Contains(c.communities, v) {
			c.communities = append(c.communities, v)
		}
	}
	slices.Sort(c.communities)
	for i := range c.cfg.Peers {
		p := &c.cfg.Peers[i]
		p.Address = p.Address.Unmap()
		if p.LocalAddress.IsValid() {
			p.LocalAddress = p.LocalAddress.Unmap()
		}
		ap, err := peerToAPI(*p, cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := c.peers[p.Address]; dup {
			errs = append(errs, fmt.Errorf("bgp peer %s: listed twice", p.Address))
			continue
		}
		c.peers[p.Address] = ap
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func wholeSeconds(d time.Duration) bool { return d%time.Second == 0 }

var (
	familyV4 = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	familyV6 = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
)

// peerToAPI turns one Peer into GoBGP's peer configuration.
func peerToAPI(p Peer, cfg Config) (*api.Peer, error) {
	name := addrString(p.Address)
	if name == "" {
		name = "(no address)"
	}
	fail := func(format string, a ...any) (*api.Peer, error) {
		return nil, fmt.Errorf("bgp peer %s: %s", name, fmt.Sprintf(format, a...))
	}
	switch {
	case !p.Address.IsValid():
		return fail("address missing")
	case p.Address.IsUnspecified() || p.Address.IsMulticast():
		return fail("address must be a unicast address")
	case p.AS == 0:
		return fail("AS must not be 0")
	case p.LocalAddress.IsValid() && p.LocalAddress.Is4() != p.Address.Is4():
		return fail("local address %s is not in the peer's address family", p.LocalAddress)
	case p.LocalAddress.IsValid() && (p.LocalAddress.IsUnspecified() || p.LocalAddress.IsMulticast()):
		return fail("local address %s must be a unicast address", p.LocalAddress)
	case p.HoldTime != 0 && (p.HoldTime < 3*time.Second || p.HoldTime > math.MaxUint16*time.Second || !wholeSeconds(p.HoldTime)):
		return fail("hold time %s: want 0 (90s) or whole seconds from 3s to 65535s", p.HoldTime)
	case p.RestartTime < 0 || p.RestartTime > 4095*time.Second || !wholeSeconds(p.RestartTime):
		return fail("restart time %s: want whole seconds up to 4095s (RFC 4724's 12 bits)", p.RestartTime)
	case p.Passive && cfg.ListenPort <= 0:
		return fail("passive, but the speaker has no listening port: the session could never come up")
	case p.BFDInterval < 0 || p.BFDInterval > math.MaxUint32*time.Microsecond || p.BFDInterval%time.Microsecond != 0:
		return fail("BFD interval %s: want whole microseconds", p.BFDInterval)
	case strings.ContainsRune(p.Password, 0) || len(p.Password) > 80:
		return fail("password must be at most 80 bytes without NUL (TCP MD5 key limit)")
	}
	hold := p.HoldTime
	if hold == 0 {
		hold = defaultHoldTime
	}
	holdSec := uint64(hold / time.Second)
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.AS,
			AuthPassword:    p.Password,
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			HoldTime:          holdSec,
			KeepaliveInterval: max(holdSec/3, 1),
			ConnectRetry:      connectRetry,
		}},
		Transport: &api.Transport{
			PassiveMode: p.Passive,
			RemotePort:  uint32(p.Port),
		},
	}
	if p.LocalAddress.IsValid() {
		ap.Transport.LocalAddress = p.LocalAddress.String()
	}
	for _, f := range []*api.Family{familyV4, familyV6} {
		af := &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}}
		if p.GracefulRestart {
			af.MpGracefulRestart = &api.MpGracefulRestart{Config: &api.MpGracefulRestartConfig{Enabled: true}}
		}
		ap.AfiSafis = append(ap.AfiSafis, af)
	}
	if p.GracefulRestart {
		rt := p.RestartTime
		if rt == 0 {
			rt = defaultRestartTime
		}
		ap.GracefulRestart = &api.GracefulRestart{
			Enabled:      true,
			RestartTime:  uint32(rt / time.Second),
			DeferralTime: deferralTime,
		}
	}
	if p.BFD {
		mult := uint32(p.BFDMultiplier)
		if mult == 0 {
			mult = 3
		}
		iv := uint32(p.BFDInterval / time.Microsecond)
		if iv == 0 {
			iv = 1000000
		}
		ap.Bfd = &api.BfdPeerConfig{
			Enabled:                  true,
			DesiredMinimumTxInterval: iv,
			RequiredMinimumReceive:   iv,
			DetectionMultiplier:      mult,
		}
	}
	return ap, nil
}

// samePeer reports whether two peers need no session change.
func samePeer(a, b Peer) bool { return a == b }

// Check validates cfg as Start does, without starting anything: a
// director checks its config before it applies anything.
func Check(cfg Config) error {
	_, err := compile(cfg)
	return err
}
