package vrrp

import (
	"errors"
	"net/netip"
	"time"
)

//go:generate go tool stringer -type=drop -linecomment -output=drop_string.go

// A drop is why the runner dropped a received packet. Stats counts each
// reason; those that mean a router on one of our VRIDs is configured
// differently (misconfig) are also logged at Warn, rate-limited.
type drop uint8

const (
	dropMalformed   drop = iota // malformed
	dropTTL                     // ttl or hop limit not 255
	dropUnknownVRID             // another vrid
	dropNotPeer                 // not a unicast peer
	dropAuth                    // auth mismatch
	dropVersion                 // version mismatch
	dropInterval                // advert interval mismatch
	dropSelf                    // own address
	dropOther                   // other
	nDrops                      // -
)

// misconfig reports whether d means that another router sends adverts for
// the VRID with settings that differ from ours: two such routers do not
// hear each other and both become master.
func (d drop) misconfig() bool {
	switch d {
	case dropTTL, dropAuth, dropVersion, dropInterval:
		return true
	}
	return false
}

// checkDrop classifies an error of Machine.Check.
func checkDrop(err error) drop {
	switch {
	case errors.Is(err, ErrVersion):
		return dropVersion
	case errors.Is(err, ErrInterval):
		return dropInterval
	case errors.Is(err, ErrSelf):
		return dropSelf
	}
	return dropOther
}

// refusedEvery is how often the adverts of a misconfigured router are
// logged: the first at once, then at most one line per refusedEvery for
// each (instance, reason, source, master or not), with the count of those
// refused in between.
const refusedEvery = 30 * time.Second

// refusedMax bounds the rate limiter's memory (a flood of forged
// sources): beyond it, new sources are counted but not logged until older
// entries expire.
const refusedMax = 256

type refKey struct {
	inst   string
	why    drop
	src    netip.Addr
	master bool
}

type refLog struct {
	last       time.Time // when a line was last logged
	suppressed int       // refused since, not logged
}

// refused counts a packet dropped for why. One that i (nil when no
// instance has its VRID) refused because its sender is configured
// differently is logged at Warn, rate-limited: explicitly as a possible
// split brain while i is master. Others are logged at Debug only.
func (c *core) refused(now time.Time, k tkey, i *inst, why drop, vrid uint8, src netip.Addr, err error) {
	c.cnt.drops[why].Add(1)
	if i != nil {
		i.n.drops[why]++
		i.dirty = true
	}
	src = src.WithZone("")
	switch {
	case why == dropUnknownVRID:
		// Another cluster on the segment: normal.
		c.log.Debug("vrrp advert for another VRID", "interface", k.ifname, "vrid", vrid, "from", src)
		return
	case i == nil:
		c.log.Debug("vrrp packet dropped", "interface", k.ifname, "from", src, "reason", why.String(), "err", err)
		return
	case why == dropSelf:
		return // our own, looped back: not worth a line
	}
	c.log.Debug("vrrp advert refused", "instance", i.Name, "from", src, "reason", why.String(), "err", err)
	if !why.misconfig() {
		return
	}
	master := i.m.State() == Master
	key := refKey{i.Name, why, src, master}
	r := c.refusals[key]
	if r == nil {
		if len(c.refusals) >= refusedMax {
			for k, v := range c.refusals {
				if now.Sub(v.last) >= refusedEvery {
					delete(c.refusals, k)
				}
			}
			if len(c.refusals) >= refusedMax {
				return
			}
		}
		r = &refLog{}
		c.refusals[key] = r
	} else if now.Sub(r.last) < refusedEvery {
		r.suppressed++
		return
	}
	msg := "vrrp: adverts for this VRID refused: the sender is configured differently"
	if master {
		msg = "vrrp: another router sends adverts for this VRID that we reject: possible split brain"
	}
	c.log.Warn(msg, "instance", i.Name, "vrid", i.Config.VRID, "from", src, "reason", why.String(), "err", err, "suppressed", r.suppressed)
	r.last, r.suppressed = now, 0
}
