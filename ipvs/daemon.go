package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The connection-synchronisation daemons (ipvsadm --start-daemon): the
// kernel's ip_vs_sync threads. A master daemon multicasts the director's
// IPVS connection entries on an interface; a backup daemon receives them
// and creates the same entries, so that the backup director, once it holds
// the VIPs, forwards established connections to the real servers they were
// scheduled to. moby/ipvs declares the commands but has no call for them.
//
// The generic netlink requests (include/uapi/linux/ip_vs.h,
// net/netfilter/ipvs/ip_vs_ctl.c ip_vs_genl_set_daemon and
// ip_vs_genl_dump_daemons): IPVS_CMD_NEW_DAEMON and IPVS_CMD_DEL_DAEMON
// carry an IPVS_CMD_ATTR_DAEMON nest; IPVS_CMD_GET_DAEMON is a dump with
// one message per running daemon.

// IPVS commands and attributes of the sync daemons and the timeouts.
const (
	ipvsCmdNewDaemon = 9
	ipvsCmdDelDaemon = 10
	ipvsCmdGetDaemon = 11
	ipvsCmdSetConfig = 12
	ipvsCmdGetConfig = 13

	ipvsCmdAttrDaemon        = 3
	ipvsCmdAttrTimeoutTCP    = 4
	ipvsCmdAttrTimeoutTCPFin = 5
	ipvsCmdAttrTimeoutUDP    = 6

	ipvsDaemonAttrState       = 1 // u32
	ipvsDaemonAttrMcastIfn    = 2 // NUL-terminated, at most 15 characters
	ipvsDaemonAttrSyncID      = 3 // u32
	ipvsDaemonAttrSyncMaxLen  = 4 // u16, Linux 4.3
	ipvsDaemonAttrMcastGroup  = 5 // in_addr
	ipvsDaemonAttrMcastGroup6 = 6 // in6_addr
	ipvsDaemonAttrMcastPort   = 7 // u16, host order (as ipvsadm sends and the kernel reads it)
	ipvsDaemonAttrMcastTTL    = 8 // u8

	ifNameMax = 15 // IP_VS_IFNAME_MAXLEN - 1
)

// DaemonState is the role of a connection-sync daemon (IP_VS_STATE_MASTER,
// IP_VS_STATE_BACKUP). The kernel runs at most one daemon of each role per
// network namespace, and may run both at once.
type DaemonState uint32

// DaemonState values.
const (
	DaemonMaster DaemonState = 1 // sends the director's connections
	DaemonBackup DaemonState = 2 // receives a master's connections
)

func (s DaemonState) String() string {
	switch s {
	case DaemonMaster:
		return "master"
	case DaemonBackup:
		return "backup"
	}
	return fmt.Sprintf("DaemonState(%d)", uint32(s))
}

// Daemon is one connection-sync daemon. State, Interface and SyncID are
// required; the other fields are optional (zero: the kernel's default) and
// read back with the kernel's values on Linux 4.3 and later.
type Daemon struct {
	State DaemonState
	// Interface carries the sync messages (the master sends on it, the
	// backup joins the multicast group on it).
	Interface string
	// SyncID tells clusters sharing a link apart: a backup accepts only
	// messages of its own SyncID (a backup with SyncID 0 accepts all).
	SyncID uint8
	// MaxLen is the largest sync message payload; 0: from the
	// interface's MTU.
	MaxLen uint16
	// Group is the multicast group; zero: 224.0.0.81 (IPv4).
	Group netip.Addr
	// Port is the UDP port; 0: 8848.
	Port uint16
	// TTL is the multicast TTL; 0: 1.
	TTL uint8
}

func (d Daemon) String() string {
	s := fmt.Sprintf("%s on %s syncid %d", d.State, d.Interface, d.SyncID)
	if d.Group.IsValid() {
		s += " group " + d.Group.String()
	}
	if d.Port != 0 {
		s += fmt.Sprintf(" port %d", d.Port)
	}
	if d.TTL != 0 {
		s += fmt.Sprintf(" ttl %d", d.TTL)
	}
	return s
}

// Validate reports a daemon the kernel would refuse.
func (d Daemon) Validate() error {
	switch {
	case d.State != DaemonMaster && d.State != DaemonBackup:
		return fmt.Errorf("ipvs: sync daemon: bad state %d", uint32(d.State))
	case d.Interface == "" || len(d.Interface) > ifNameMax || strings.ContainsAny(d.Interface, "/: \x00"):
		return fmt.Errorf("ipvs: sync daemon: bad interface name %q", d.Interface)
	case d.Group.IsValid() && !d.Group.Unmap().IsMulticast():
		return fmt.Errorf("ipvs: sync daemon: group %s is not multicast", d.Group)
	}
	return nil
}

// matches reports whether the running daemon have is d: the required
// fields equal, and each optional field of d equal or left to the
// kernel's default.
func (d Daemon) matches(have Daemon) bool {
	want := d
	return want.State == have.State && want.Interface == have.Interface && want.SyncID == have.SyncID &&
		(want.MaxLen == 0 || want.MaxLen == have.MaxLen) &&
		(!want.Group.IsValid() || want.Group.Unmap() == have.Group.Unmap()) &&
		(want.Port == 0 || want.Port == have.Port) &&
		(want.TTL == 0 || want.TTL == have.TTL)
}

// DiffDaemons returns what turns the running daemons have into want: the
// roles to stop (a running daemon that is not wanted, or wanted with other
// settings), then the daemons to start. Roles in neither list are left as
// they are when owned is false for them: a role is owned when want has a
// daemon of that role or owned lists it. want must hold at most one daemon
// per role. It is a pure function.
func DiffDaemons(have, want []Daemon, owned ...DaemonState) (stop []DaemonState, start []Daemon) {
	byState := func(ds []Daemon, s DaemonState) (Daemon, bool) {
		for _, d := range ds {
			if d.State == s {
				return d, true
			}
		}
		return Daemon{}, false
	}
	for _, s := range []DaemonState{DaemonMaster, DaemonBackup} {
		h, running := byState(have, s)
		w, wanted := byState(want, s)
		switch {
		case wanted && running && w.matches(h):
		case wanted:
			if running {
				stop = append(stop, s)
			}
			start = append(start, w)
		case running && slices.Contains(owned, s):
			stop = append(stop, s)
		}
	}
	return stop, start
}

// appendDaemon appends the IPVS_CMD_ATTR_DAEMON nest of d; a delete
// carries the state only (ip_vs_genl_del_daemon).
func appendDaemon(b []byte, d Daemon, full bool) []byte {
	b, nest := beginNest(b, ipvsCmdAttrDaemon)
	b = appendU32(b, ipvsDaemonAttrState, uint32(d.State))
	if full {
		b = appendString(b, ipvsDaemonAttrMcastIfn, d.Interface)
		b = appendU32(b, ipvsDaemonAttrSyncID, uint32(d.SyncID))
		if d.MaxLen != 0 {
			b = appendU16(b, ipvsDaemonAttrSyncMaxLen, d.MaxLen)
		}
		if g := d.Group.Unmap(); g.Is4() {
			b = appendAttr(b, ipvsDaemonAttrMcastGroup, g.AsSlice())
		} else if g.Is6() {
			b = appendAttr(b, ipvsDaemonAttrMcastGroup6, g.AsSlice())
		}
		if d.Port != 0 {
			b = appendU16(b, ipvsDaemonAttrMcastPort, d.Port)
		}
		if d.TTL != 0 {
			b = appendAttr(b, ipvsDaemonAttrMcastTTL, []byte{d.TTL})
		}
	}
	return endNest(b, nest)
}

// parseDaemon decodes one message of a daemon dump (or a NEW_DAEMON
// request).
func parseDaemon(data []byte) (Daemon, error) {
	if len(data) < genlHdrLen {
		return Daemon{}, errShortMessage
	}
	var top, a attrSet
	if err := parseAttrs(data[genlHdrLen:], &top); err != nil {
		return Daemon{}, err
	}
	nest := top[ipvsCmdAttrDaemon]
	if nest == nil {
		return Daemon{}, errors.New("sync daemon: no IPVS_CMD_ATTR_DAEMON")
	}
	if err := parseAttrs(nest, &a); err != nil {
		return Daemon{}, err
	}
	d := Daemon{
		State:     DaemonState(attrU32(&a, ipvsDaemonAttrState)),
		Interface: cString(a[ipvsDaemonAttrMcastIfn]),
		SyncID:    uint8(attrU32(&a, ipvsDaemonAttrSyncID)),
		MaxLen:    attrU16(&a, ipvsDaemonAttrSyncMaxLen),
		Port:      attrU16(&a, ipvsDaemonAttrMcastPort),
	}
	if v := a[ipvsDaemonAttrMcastTTL]; len(v) >= 1 {
		d.TTL = v[0]
	}
	if v := a[ipvsDaemonAttrMcastGroup]; len(v) == 4 {
		d.Group = netip.AddrFrom4([4]byte(v))
	} else if v := a[ipvsDaemonAttrMcastGroup6]; len(v) == 16 {
		d.Group = netip.AddrFrom16([16]byte(v))
	}
	return d, nil
}

// request sends one acknowledged request of command cmd, whose attributes
// attrs appends, and waits for its ack.
func (c *genlClient) request(cmd uint8, attrs func([]byte) []byte) error {
	seq := c.nextSeq()
	b, start := appendMsgHeader(c.wbuf[:0], c.family, nlmFRequest|nlmFAck, seq, cmd, ipvsGenlVersion)
	return c.exchange(finishMsg(attrs(b), start), seq, func(m nlMsg) (bool, error) {
		if m.typ != nlmsgError {
			return false, nil
		}
		return true, ackError(m)
	})
}

// daemons dumps the running sync daemons.
func (c *genlClient) daemons() ([]Daemon, error) {
	var out []Daemon
	err := c.dump(func(b []byte, seq uint32) []byte {
		b, start := appendMsgHeader(b, c.family, nlmFRequest|nlmFDump, seq, ipvsCmdGetDaemon, ipvsGenlVersion)
		return finishMsg(b, start)
	}, func(data []byte) error {
		d, err := parseDaemon(data)
		if err != nil {
			return err
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

func (c *genlClient) newDaemon(d Daemon) error {
	return c.request(ipvsCmdNewDaemon, func(b []byte) []byte { return appendDaemon(b, d, true) })
}

// delAckWait bounds the wait for the ack of a sync daemon's stop. Linux
// (6.1 at least) sends none when the master thread it stops had not run
// yet (a stop right after a start, as a VRRP flap orders):
// stop_sync_thread returns kthread_stop's -EINTR, for which
// netlink_rcv_skb sends no ack, though the daemon is stopped. Without a
// bound the caller waits the socket's whole receive timeout (30 s of
// tandem's main loop frozen, found by the lab's soak: TestSoak). The
// kernel handles a request within sendmsg and queues its ack before
// sendmsg returns, so an ack not there at once never comes: a short
// bound loses nothing.
const delAckWait = 250 * time.Millisecond

// timeoutConn is a connection whose receive timeout can be shortened for
// one exchange (nlSocket).
type timeoutConn interface {
	withRecvTimeout(d time.Duration, fn func() error) error
}

func (c *genlClient) delDaemon(s DaemonState) error {
	del := func() error {
		return c.request(ipvsCmdDelDaemon, func(b []byte) []byte { return appendDaemon(b, Daemon{State: s}, false) })
	}
	var err error
	if tc, ok := c.conn.(timeoutConn); ok {
		err = tc.withRecvTimeout(delAckWait, del)
	} else {
		err = del()
	}
	if !errors.Is(err, syscall.EAGAIN) {
		return err
	}
	// No ack: the daemon is stopped all the same if the kernel no longer
	// lists it.
	ds, lerr := c.daemons()
	if lerr != nil {
		return err
	}
	for _, d := range ds {
		if d.State == s {
			return err
		}
	}
	return nil
}

// Control is a handle on the IPVS settings outside the table: the
// connection-sync daemons and the connection timeouts. It has a netlink
// socket of its own (not the [Reconciler]'s), kept until Close.
//
// A Control is safe for concurrent use: its methods are serialised.
type Control struct {
	mu     sync.Mutex
	c      *genlClient
	closed bool
}

func newControl(c *genlClient) *Control { return &Control{c: c} }

func (ctl *Control) do(op string, fn func(c *genlClient) error) error {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if ctl.closed {
		return &OpError{Op: op, Err: ErrClosed}
	}
	if err := fn(ctl.c); err != nil {
		return &OpError{Op: op, Err: err}
	}
	return nil
}

// Daemons returns the running sync daemons, master first.
func (ctl *Control) Daemons() ([]Daemon, error) {
	var ds []Daemon
	err := ctl.do("list sync daemons", func(c *genlClient) (err error) {
		ds, err = c.daemons()
		return err
	})
	return ds, err
}

// StartDaemon starts d. It fails with EEXIST if a daemon of d's role
// runs, and with ENODEV if the interface does not exist.
func (ctl *Control) StartDaemon(d Daemon) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return ctl.do("start sync daemon "+d.String(), func(c *genlClient) error { return c.newDaemon(d) })
}

// StopDaemon stops the daemon of role s. It fails with ESRCH if none runs.
// The connection entries a backup received stay, with their timeouts.
func (ctl *Control) StopDaemon(s DaemonState) error {
	return ctl.do("stop sync daemon "+s.String(), func(c *genlClient) error { return c.delDaemon(s) })
}

// SetDaemons makes the running daemons want ([DiffDaemons] with owned):
// it reads them, stops those to stop and starts those to start. It
// returns a line per change, and no change when they already match.
func (ctl *Control) SetDaemons(want []Daemon, owned ...DaemonState) ([]string, error) {
	for _, d := range want {
		if err := d.Validate(); err != nil {
			return nil, err
		}
	}
	var changed []string
	err := ctl.do("set sync daemons", func(c *genlClient) error {
		have, err := c.daemons()
		if err != nil {
			return fmt.Errorf("list: %w", err)
		}
		stop, start := DiffDaemons(have, want, owned...)
		for _, s := range stop {
			if err := c.delDaemon(s); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("stop %s: %w", s, err)
			}
			changed = append(changed, "stopped "+s.String())
		}
		for _, d := range start {
			if err := c.newDaemon(d); err != nil {
				return fmt.Errorf("start %s: %w", d, err)
			}
			changed = append(changed, "started "+d.String())
		}
		return nil
	})
	return changed, err
}

// Close closes the socket; the daemons and timeouts stay as they are.
func (ctl *Control) Close() error {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	if ctl.closed {
		return nil
	}
	ctl.closed = true
	return ctl.c.conn.Close()
}
