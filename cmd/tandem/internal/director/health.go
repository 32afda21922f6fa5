package director

import (
	"context"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/healthcheck"
	"github.com/tandem-lb/tandem/ipvs"
)

// The health-check wiring. Each real server's check runs in package
// healthcheck (one probe per interval however many virtual servers list the
// same check); a goroutine forwards its verdicts to the main loop through
// d.post, where onVerdicts recomputes only the virtual servers the checks
// belong to (desiredService) and applies them with Reconciler.Update: no
// dump, about a millisecond. The periodic resync reconciles the same
// health-aware table (d.want), and a reload recomputes it whole.
//
// Drained real servers removed from the file stay in the table with weight
// 0 (desiredService); a poll every drainPoll reads their connection
// counters and deletes each once it has none left.

// drainPoll is how often leftover drained real servers have their
// connections counted.
const drainPoll = time.Second

// verdictBatch bounds the verdicts handled in one turn of the main loop.
const verdictBatch = 512

// health is the main loop's health-check state. Only the main loop touches
// it, except mgr, which is safe for concurrent use.
type health struct {
	mgr *healthcheck.Manager
	c   *conf.Cluster // the running config
	// up is the last verdict of each check; absent means Unknown.
	up map[healthcheck.ID]bool
	// users lists, per check, the indexes of c's virtual servers that use it.
	users checkUsers
	// ids is each of c's checked real servers' check ID.
	ids map[*conf.RealServer]healthcheck.ID
	// services is the last computed health of each virtual server. A
	// record is replaced, never changed: snapshots share them.
	services map[ipvs.ServiceKey]*ServiceHealth
	// draining is set when the table may hold leftover drained real
	// servers (after a start or a reload); the poll clears it when it
	// finds none.
	draining bool

	stop context.CancelFunc
	done chan struct{}
}

// hasChecks reports whether any real server of c has a check.
func hasChecks(c *conf.Cluster) bool {
	for i := range c.VirtualServers {
		for j := range c.VirtualServers[i].RealServers {
			if c.VirtualServers[i].RealServers[j].Check != nil {
				return true
			}
		}
	}
	return false
}

// newHealth returns the health state before any config.
func newHealth() *health {
	return &health{up: map[healthcheck.ID]bool{}, services: map[ipvs.ServiceKey]*ServiceHealth{}, draining: true}
}

// desiredFrom is the IPVS table the director wants for c, given the
// checks' verdicts and prev, the table in force (the kernel's at start,
// then the last desired table). It records each service's health.
func (d *Director) desiredFrom(c *conf.Cluster, prev ipvs.Table) ipvs.Table {
	h := d.health
	t, st := desiredTable(c, healthView{Up: h.up, Prev: prev, IDs: h.ids, Overrides: d.overrides})
	for _, sh := range st {
		d.noteService(sh)
	}
	return t
}

// noteService records sh and logs a quorum transition.
func (d *Director) noteService(sh ServiceHealth) {
	h := d.health
	old, seen := h.services[sh.Key]
	h.services[sh.Key] = &sh
	switch {
	case (!seen && !sh.Up) || (seen && old.Up && !sh.Up):
		d.log.Warn("virtual server down: quorum lost", "virtual_server", sh.Name, "service", sh.Key.String(),
			"healthy_weight", sh.HealthyWeight, "quorum", sh.Quorum, "sorry_server", sh.Sorry)
	case seen && !old.Up && sh.Up:
		d.log.Info("virtual server up: quorum reached", "virtual_server", sh.Name, "service", sh.Key.String(),
			"healthy_weight", sh.HealthyWeight, "quorum", sh.Quorum)
	}
	if seen {
		d.noteRealServers(sh.Name, old.RealServers, sh.RealServers)
	}
	switch {
	case sh.Panic && (!seen || !old.Panic):
		d.log.Warn("virtual server in panic: too few real servers healthy, routing to all of them",
			"virtual_server", sh.Name, "healthy", sh.Healthy, "real_servers", len(sh.RealServers),
			"panic_threshold", fmtPercent(sh.PanicThreshold))
	case seen && old.Panic && !sh.Panic:
		d.log.Info("virtual server out of panic: enough real servers healthy", "virtual_server", sh.Name,
			"healthy", sh.Healthy, "real_servers", len(sh.RealServers), "panic_threshold", fmtPercent(sh.PanicThreshold))
	}
	if seen && old.Sorry != sh.Sorry {
		if sh.Sorry {
			d.log.Warn("sorry server in: no real server is healthy", "virtual_server", sh.Name)
		} else {
			d.log.Info("sorry server out: a real server is healthy again", "virtual_server", sh.Name)
		}
	}
}

// noteRealServers logs each real server whose check went down, or up
// from down: once per change, with the names status shows. A first
// verdict of up (at start, after a reload) is not news.
func (d *Director) noteRealServers(vs string, old, now []RealServerHealth) {
	for i, r := range now {
		if r.State != "up" && r.State != "down" {
			continue
		}
		was := ""
		if i < len(old) && old[i].Addr == r.Addr { // the same file: the same order
			was = old[i].State
		} else {
			for _, o := range old {
				if o.Addr == r.Addr {
					was = o.State
					break
				}
			}
		}
		switch {
		case r.State == "down" && was != "down":
			d.log.Warn("real server down", "virtual_server", vs, "real_server", r.Name, "address", r.Addr.String(), "check", string(r.Check))
		case r.State == "up" && was == "down":
			d.log.Info("real server up", "virtual_server", vs, "real_server", r.Name, "address", r.Addr.String(), "check", string(r.Check))
		}
	}
}

// checkUsers lists, per check, the indexes of a config's virtual servers
// that use it. Most checks have one, kept in the map's value itself:
// 10 000 checks cost one map, not also 10 000 slices.
type checkUsers struct {
	m    map[healthcheck.ID]int32 // >= 0: the only user; < 0: -1-i, the users in more[i]
	more [][]int
}

func newCheckUsers(n int) checkUsers {
	return checkUsers{m: make(map[healthcheck.ID]int32, n)}
}

// add records that virtual server vs uses id; vs is at least the last
// index added for id.
func (u *checkUsers) add(id healthcheck.ID, vs int) {
	v, ok := u.m[id]
	switch {
	case !ok:
		u.m[id] = int32(vs)
	case v >= 0 && int(v) != vs:
		u.more = append(u.more, []int{int(v), vs})
		u.m[id] = int32(-len(u.more))
	case v < 0:
		if more := u.more[-1-v]; more[len(more)-1] != vs {
			u.more[-1-v] = append(more, vs)
		}
	}
}

// has reports whether the config has the check id.
func (u checkUsers) has(id healthcheck.ID) bool {
	_, ok := u.m[id]
	return ok
}

// appendTo appends the users of id to dst, and reports whether the config
// has the check.
func (u checkUsers) appendTo(dst []int, id healthcheck.ID) ([]int, bool) {
	v, ok := u.m[id]
	switch {
	case !ok:
		return dst, false
	case v >= 0:
		return append(dst, int(v)), true
	default:
		return append(dst, u.more[-1-v]...), true
	}
}

// checkSpecs returns the checks of c (each as the first real server
// that has it: its spec is checkSpec of it) and their IDs, per check the
// virtual servers that use it, and each checked real server's check ID.
func checkSpecs(c *conf.Cluster) ([]*conf.RealServer, []healthcheck.ID, checkUsers, map[*conf.RealServer]healthcheck.ID) {
	n := 0
	for i := range c.VirtualServers {
		n += len(c.VirtualServers[i].RealServers)
	}
	// Sized for a check per real server, the usual case: the slices and
	// maps do not grow (and leave garbage) on the way. The specs are not
	// kept: at 10 000 checks they are 3 MB, and at start they made the
	// peak of RSS.
	refs := make([]*conf.RealServer, 0, n)
	specIDs := make([]healthcheck.ID, 0, n)
	users := newCheckUsers(n)
	ids := make(map[*conf.RealServer]healthcheck.ID, n)
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		for j := range vs.RealServers {
			rs := &vs.RealServers[j]
			spec, ok := checkSpec(rs)
			if !ok {
				continue
			}
			id := spec.ID()
			ids[rs] = id
			if !users.has(id) {
				refs = append(refs, rs)
				specIDs = append(specIDs, id)
			}
			users.add(id, i)
		}
	}
	return refs, specIDs, users, ids
}

// trimMemory hands the garbage of loading a config and reading the
// kernel's table back to the system, and unmaps the binary's pages that
// only start-up or the load touched (dropExecutablePages). It runs once
// the table is adopted, before the checks start, and after each reload.
// (The heap goal, GOGC, is tandem run's, set from its start:
// cmd/tandem/memlimit.go.)
func trimMemory() {
	debug.FreeOSMemory()
	dropExecutablePages()
}

func (d *Director) startHealth(ctx context.Context, c *conf.Cluster) error {
	h := d.health
	trimMemory()
	opts := healthcheck.Options{Logger: d.log}
	if f := d.cfg.OnProbe; f != nil {
		opts.OnProbe = func(k healthcheck.Kind, lat time.Duration, ok bool) { f(string(k), lat, ok) }
	}
	h.mgr = healthcheck.NewManager(opts)
	ctx, h.stop = context.WithCancel(ctx)
	h.done = make(chan struct{})
	d.setChecks(c)
	verdicts := h.mgr.Verdicts()
	go func() {
		defer close(h.done)
		for {
			var batch []healthcheck.Verdict
			select {
			case v, ok := <-verdicts:
				if !ok {
					return
				}
				batch = append(batch, v)
			case <-ctx.Done():
				return
			}
		more:
			for len(batch) < verdictBatch {
				select {
				case v, ok := <-verdicts:
					if !ok {
						break more
					}
					batch = append(batch, v)
				default:
					break more
				}
			}
			d.post(ctx, func() { d.onVerdicts(ctx, batch) })
		}
	}()
	go func() {
		tk := time.NewTicker(drainPoll)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
				d.post(ctx, func() { d.pollDraining(ctx) })
			}
		}
	}()
	return nil
}

// setChecks makes c's checks the running set; unchanged checks keep
// running with their state.
func (d *Director) setChecks(c *conf.Cluster) {
	d.setCheckSpecs(c, newChecks(c))
}

// checks are a config's checks (checkSpecs), computed once per load.
type checks struct {
	refs    []*conf.RealServer // a real server of each check
	specIDs []healthcheck.ID   // the check of refs[i]: its ID
	users   checkUsers
	ids     map[*conf.RealServer]healthcheck.ID
}

func newChecks(c *conf.Cluster) checks {
	var ch checks
	ch.refs, ch.specIDs, ch.users, ch.ids = checkSpecs(c)
	return ch
}

// setCheckSpecs makes ch, c's checks, the running set.
func (d *Director) setCheckSpecs(c *conf.Cluster, ch checks) {
	h := d.health
	users := ch.users
	h.c, h.users, h.ids = c, users, ch.ids
	if len(h.up) == 0 { // the start: sized for the verdicts to come
		h.up = make(map[healthcheck.ID]bool, len(ch.specIDs))
	}
	for id := range h.up {
		if !users.has(id) {
			delete(h.up, id)
		}
	}
	for k := range h.services {
		if _, ok := d.want[k]; !ok {
			delete(h.services, k)
		}
	}
	if h.mgr != nil {
		raiseFileLimit(len(ch.specIDs), d.log)
		h.mgr.SetFunc(ch.specIDs, func(i int) healthcheck.Spec {
			s, _ := checkSpec(ch.refs[i])
			return d.withRunAs(s)
		})
		h.mgr.SetGroups(checkGroups(c, ch.ids))
	}
}

// checkGroups returns each virtual server's checks, by its name: the
// groups whose mass timeouts the checker holds (healthcheck.SetGroups).
func checkGroups(c *conf.Cluster, ids map[*conf.RealServer]healthcheck.ID) map[string][]healthcheck.ID {
	groups := make(map[string][]healthcheck.ID, len(c.VirtualServers))
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		var g []healthcheck.ID
		for j := range vs.RealServers {
			if id, ok := ids[&vs.RealServers[j]]; ok {
				g = append(g, id)
			}
		}
		if len(g) > 0 {
			groups[vs.Name] = g
		}
	}
	return groups
}

// fmtPercent words a percentage as the file does: "50%".
func fmtPercent(p uint8) string { return strconv.Itoa(int(p)) + "%" }

func (d *Director) stopHealth() {
	h := d.health
	if h.mgr == nil {
		return
	}
	h.stop()
	h.mgr.Close()
	<-h.done
}

// onVerdicts applies a batch of verdicts: it records them, recomputes the
// virtual servers that use those checks and writes the services that
// changed with Reconciler.Update.
func (d *Director) onVerdicts(ctx context.Context, vs []healthcheck.Verdict) {
	h := d.health
	var touched []int
	first := time.Time{}
	for _, v := range vs {
		var ok bool
		if touched, ok = h.users.appendTo(touched, v.ID); !ok {
			continue // a check a reload removed
		}
		h.up[v.ID] = v.Up
		if first.IsZero() || v.At.Before(first) {
			first = v.At
		}
	}
	slices.Sort(touched)
	touched = slices.Compact(touched)
	svcs := d.recompute(touched)
	if len(svcs) == 0 || d.rec == nil {
		return
	}
	res, err := d.rec.Update(ctx, svcs, nil)
	d.noteReconcile(res, err)
	for _, op := range res.Ops {
		d.log.Debug("ipvs write", "op", op.String())
	}
	if err != nil {
		d.log.Error("applying health verdicts failed (the next resync repairs it)", "err", err)
		return
	}
	d.log.Info("ipvs updated", "reason", "health", "services", serviceNames(h.c, touched),
		"writes", res.Writes, "took", res.Took.Round(time.Microsecond),
		"since_verdict", time.Since(first).Round(time.Microsecond))
}

// recompute computes the desired services of the virtual servers at the
// given indexes of the running config, stores them in d.want and returns
// those that changed.
func (d *Director) recompute(idx []int) []ipvs.Service {
	h := d.health
	view := healthView{Up: h.up, Prev: d.want, IDs: h.ids, Overrides: d.overrides}
	var svcs []ipvs.Service
	for _, i := range idx {
		s, sh := desiredService(&h.c.VirtualServers[i], view)
		d.noteService(sh)
		if old, ok := d.want[s.Key]; ok && sameDests(old, s) {
			continue
		}
		d.want[s.Key] = s
		svcs = append(svcs, s)
	}
	d.trackQuorum()
	return svcs
}

// sameDests reports whether a and b hold the same destinations, in any
// order.
func sameDests(a, b ipvs.Service) bool {
	if len(a.Destinations) != len(b.Destinations) {
		return false
	}
	find := lookup(b.Destinations)
	for _, d := range a.Destinations {
		e, ok := find(d.AddrPort())
		if !ok || !e.Same(d) {
			return false
		}
	}
	return true
}

func serviceNames(c *conf.Cluster, idx []int) string {
	names := make([]string, len(idx))
	for i, j := range idx {
		names[i] = c.VirtualServers[j].Name
	}
	return strings.Join(names, ",")
}

// pollDraining deletes the leftover drained real servers (removed from the
// file while at weight 0) whose connections have all ended.
func (d *Director) pollDraining(ctx context.Context) {
	h := d.health
	if !h.draining || h.c == nil {
		return
	}
	found := d.pollDisabled(ctx)
	if d.rec == nil {
		h.draining = found
		return
	}
	var svcs []ipvs.Service
	for i := range h.c.VirtualServers {
		vs := &h.c.VirtualServers[i]
		s, ok := d.want[serviceKey(vs)]
		if !ok {
			continue
		}
		left := leftovers(vs, s)
		if len(left) == 0 {
			continue
		}
		conns, err := d.rec.Conns(ctx, s.Key)
		if err != nil {
			found = true
			d.log.Warn("cannot read connection counters", "service", s.Key.String(), "err", err)
			continue
		}
		s.Destinations = slices.Clone(s.Destinations)
		changed := false
		for _, l := range left {
			n := conns[l.AddrPort()]
			if n.Active+n.Inactive > 0 {
				found = true
				continue
			}
			i := destIndex(s.Destinations, l.AddrPort())
			s.Destinations = slices.Delete(s.Destinations, i, i+1)
			changed = true
			d.log.Info("drained real server removed from the file has no connections left: deleting it",
				"virtual_server", vs.Name, "real_server", l.AddrPort().String())
		}
		if changed {
			d.want[s.Key] = s
			svcs = append(svcs, s)
		}
	}
	h.draining = found
	if len(svcs) == 0 {
		return
	}
	res, err := d.rec.Update(ctx, svcs, nil)
	d.noteReconcile(res, err)
	if err != nil {
		d.log.Error("deleting drained real servers failed (the next resync repairs it)", "err", err)
		return
	}
	d.log.Info("ipvs updated", "reason", "drained", "writes", res.Writes, "took", res.Took.Round(time.Microsecond))
}
