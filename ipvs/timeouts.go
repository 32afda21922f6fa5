package ipvs

import (
	"fmt"
	"time"
)

// Timeouts are the IPVS connection timeouts (ipvsadm --set TCP TCPFIN UDP):
// how long an idle connection entry lives in the ESTABLISHED state of TCP,
// in the FIN_WAIT state of TCP, and for UDP. The kernel keeps them in whole
// seconds; a zero field means "leave as it is" when setting.
type Timeouts struct {
	TCP    time.Duration
	TCPFin time.Duration
	UDP    time.Duration
}

// maxTimeout is the kernel's bound (INT_MAX / HZ with HZ up to 1000).
const maxTimeout = 2147483 * time.Second

func (t Timeouts) String() string {
	return fmt.Sprintf("tcp %v tcpfin %v udp %v", t.TCP, t.TCPFin, t.UDP)
}

// Validate reports a timeout the kernel would refuse or round: negative,
// above 2147483s, or not whole seconds.
func (t Timeouts) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"tcp", t.TCP}, {"tcp_fin", t.TCPFin}, {"udp", t.UDP}} {
		if f.d < 0 || f.d > maxTimeout || f.d%time.Second != 0 {
			return fmt.Errorf("ipvs: timeout %s %v: want whole seconds from 0 to %v", f.name, f.d, maxTimeout)
		}
	}
	return nil
}

// Covers reports whether have already holds every non-zero timeout of t.
func (t Timeouts) Covers(have Timeouts) bool {
	return (t.TCP == 0 || t.TCP == have.TCP) &&
		(t.TCPFin == 0 || t.TCPFin == have.TCPFin) &&
		(t.UDP == 0 || t.UDP == have.UDP)
}

// appendTimeouts appends the IPVS_CMD_ATTR_TIMEOUT_* attributes of the
// non-zero timeouts of t (ip_vs_genl_set_config keeps the others).
func appendTimeouts(b []byte, t Timeouts) []byte {
	for _, f := range []struct {
		typ uint16
		d   time.Duration
	}{{ipvsCmdAttrTimeoutTCP, t.TCP}, {ipvsCmdAttrTimeoutTCPFin, t.TCPFin}, {ipvsCmdAttrTimeoutUDP, t.UDP}} {
		if f.d > 0 {
			b = appendU32(b, f.typ, uint32(f.d/time.Second))
		}
	}
	return b
}

// parseTimeouts decodes the reply of IPVS_CMD_GET_CONFIG.
func parseTimeouts(data []byte) (Timeouts, error) {
	if len(data) < genlHdrLen {
		return Timeouts{}, errShortMessage
	}
	var a attrSet
	if err := parseAttrs(data[genlHdrLen:], &a); err != nil {
		return Timeouts{}, err
	}
	sec := func(t uint16) time.Duration { return time.Duration(attrU32(&a, t)) * time.Second }
	return Timeouts{
		TCP:    sec(ipvsCmdAttrTimeoutTCP),
		TCPFin: sec(ipvsCmdAttrTimeoutTCPFin),
		UDP:    sec(ipvsCmdAttrTimeoutUDP),
	}, nil
}

// timeouts reads the timeouts (IPVS_CMD_GET_CONFIG, a single reply).
func (c *genlClient) timeouts() (Timeouts, error) {
	seq := c.nextSeq()
	b, start := appendMsgHeader(c.wbuf[:0], c.family, nlmFRequest, seq, ipvsCmdGetConfig, ipvsGenlVersion)
	var t Timeouts
	err := c.exchange(finishMsg(b, start), seq, func(m nlMsg) (bool, error) {
		switch m.typ {
		case nlmsgError:
			err := ackError(m)
			return err != nil, err
		case c.family:
			var err error
			t, err = parseTimeouts(m.data)
			return true, err
		}
		return false, nil
	})
	return t, err
}

func (c *genlClient) setTimeouts(t Timeouts) error {
	return c.request(ipvsCmdSetConfig, func(b []byte) []byte { return appendTimeouts(b, t) })
}

// Timeouts reads the connection timeouts.
func (ctl *Control) Timeouts() (Timeouts, error) {
	var t Timeouts
	err := ctl.do("read timeouts", func(c *genlClient) (err error) {
		t, err = c.timeouts()
		return err
	})
	return t, err
}

// SetTimeouts sets the non-zero timeouts of t and leaves the others. It
// returns the timeouts before, and whether it wrote (not when the kernel
// already had them).
func (ctl *Control) SetTimeouts(t Timeouts) (old Timeouts, changed bool, err error) {
	if err := t.Validate(); err != nil {
		return Timeouts{}, false, err
	}
	err = ctl.do("set timeouts", func(c *genlClient) error {
		if old, err = c.timeouts(); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if t.Covers(old) {
			return nil
		}
		changed = true
		return c.setTimeouts(t)
	})
	return old, changed, err
}
