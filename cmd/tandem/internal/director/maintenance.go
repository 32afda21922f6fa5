package director

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// Maintenance: an operator's override of a real server's place in the
// table, set with `tandem drain|disable|enable VS RS` (HAProxy's `set
// server state drain|maint|ready`):
//
//   - drain: weight 0 while it is in the table: established connections
//     finish, new ones go to the others;
//   - disable: weight 0 until its connections have ended, then out of the
//     table (at once with Now);
//   - enable: the override is gone; the checks decide again.
//
// An overridden real server does not count toward its virtual server's
// healthy weight (quorum, sorry server, track_virtual_servers), since it
// takes no new traffic. Overrides are kept across reloads while the file
// still lists the real server, and across restarts in a small state file
// (Config.StatePath, under /run/tandem: gone at boot, as the table is).

// Mode is an override's kind.
type Mode string

// Modes.
const (
	ModeDrain   Mode = "drain"
	ModeDisable Mode = "disable"
	ModeEnable  Mode = "enable" // a request only: removes the override
)

// rsKey names a real server of a service.
type rsKey struct {
	Service ipvs.ServiceKey
	Addr    netip.AddrPort
}

// Override is one real server's override.
type Override struct {
	Mode Mode
	// Now: disable without waiting for the connections to end.
	Now bool
	// Out is set once a disabled real server has left the table.
	Out   bool
	Since time.Time
}

// overrides are the running overrides, keyed by service and real server.
type overrides map[rsKey]Override

// MaintenanceRequest names a real server and what to do with it.
type MaintenanceRequest struct {
	VirtualServer string `json:"virtual_server"` // name, ip:port, proto/ip:port or fwmark:N
	RealServer    string `json:"real_server"`    // name, ip:port or ip
	Mode          Mode   `json:"mode"`
	Now           bool   `json:"now,omitempty"`
}

// MaintenanceResult says what a maintenance request did.
type MaintenanceResult struct {
	VirtualServer string `json:"virtual_server"`
	RealServer    string `json:"real_server"`
	Address       string `json:"address"`
	Mode          Mode   `json:"mode"`
	// Changed is false when the real server already was in that mode.
	Changed bool `json:"changed"`
	// Weight is its weight in the table afterwards, -1 when out.
	Weight int    `json:"weight"`
	Note   string `json:"note,omitempty"`
}

// ErrNotFound is a maintenance request naming no virtual or real server
// of the running file; ErrBadRequest one that asks for no known mode.
var (
	ErrNotFound   = errors.New("not found")
	ErrBadRequest = errors.New("bad request")
)

// Maintain applies a maintenance request on the main loop.
func (d *Director) Maintain(ctx context.Context, req MaintenanceRequest) (*MaintenanceResult, error) {
	switch req.Mode {
	case ModeDrain, ModeDisable, ModeEnable:
	default:
		return nil, fmt.Errorf("%w: unknown mode %q (drain, disable or enable)", ErrBadRequest, req.Mode)
	}
	var (
		res *MaintenanceResult
		err error
	)
	if cerr := d.call(ctx, func() { res, err = d.maintain(ctx, req) }); cerr != nil {
		return nil, cerr
	}
	return res, err
}

func (d *Director) maintain(ctx context.Context, req MaintenanceRequest) (*MaintenanceResult, error) {
	vi, err := findVirtualServer(d.c, req.VirtualServer)
	if err != nil {
		return nil, err
	}
	vs := &d.c.VirtualServers[vi]
	rs, err := findRealServer(vs, req.RealServer)
	if err != nil {
		return nil, err
	}
	k := rsKey{serviceKey(vs), rs.Address}
	old, had := d.overrides[k]
	res := &MaintenanceResult{VirtualServer: vs.Name, RealServer: rs.Name, Address: rs.Address.String(), Mode: req.Mode}
	switch {
	case req.Mode == ModeEnable:
		if !had {
			res.Note = "no override was set: the checks decide, as before"
			break
		}
		delete(d.overrides, k)
		res.Changed = true
	case had && old.Mode == req.Mode && (old.Now || !req.Now):
		res.Note = "already set (" + string(req.Mode) + ") since " + old.Since.Format(time.RFC3339)
	default:
		o := Override{Mode: req.Mode, Now: req.Now, Since: time.Now()}
		if had && old.Mode == req.Mode {
			o.Since = old.Since
		}
		o.Out = o.Mode == ModeDisable && o.Now
		d.overrides[k] = o
		res.Changed = true
	}
	if res.Changed {
		d.log.Info("maintenance", "virtual_server", vs.Name, "real_server", rs.Name, "address", rs.Address.String(),
			"mode", string(req.Mode), "now", req.Now)
		d.saveOverrides()
		if err := d.applyServices(ctx, "maintenance", []int{vi}); err != nil {
			return nil, err
		}
		if req.Mode == ModeDisable && !req.Now {
			d.health.draining = true // the poll takes it out once its connections end
		}
	}
	res.Weight = -1
	if s, ok := d.want[serviceKey(vs)]; ok {
		if i := destIndex(s.Destinations, rs.Address); i >= 0 {
			res.Weight = s.Destinations[i].Weight
		}
	}
	if res.Note == "" {
		switch {
		case req.Mode == ModeDisable && res.Weight >= 0:
			res.Note = "weight 0 until its connections end, then out of the table (--now: at once)"
		case req.Mode == ModeDisable:
			res.Note = "out of the table"
		case req.Mode == ModeDrain:
			res.Note = "weight 0: established connections finish, new ones go to the others"
		default:
			res.Note = "back to the checks' verdict"
		}
	}
	return res, nil
}

// applyServices recomputes the virtual servers at idx and writes the
// services that changed.
func (d *Director) applyServices(ctx context.Context, reason string, idx []int) error {
	svcs := d.recompute(idx)
	if len(svcs) == 0 || d.rec == nil {
		return nil
	}
	res, err := d.rec.Update(ctx, svcs, nil)
	d.noteReconcile(res, err)
	for _, op := range res.Ops {
		d.log.Debug("ipvs write", "op", op.String())
	}
	if err != nil {
		return fmt.Errorf("ipvs update (the next resync repairs it): %w", err)
	}
	d.log.Info("ipvs updated", "reason", reason, "services", serviceNames(d.c, idx),
		"writes", res.Writes, "took", res.Took.Round(time.Microsecond))
	return nil
}

// pollDisabled takes out of the table each disabled real server whose
// connections have ended; it reports whether some still wait.
func (d *Director) pollDisabled(ctx context.Context) (waiting bool) {
	if d.c == nil || len(d.overrides) == 0 {
		return false
	}
	var idx []int
	for i := range d.c.VirtualServers {
		vs := &d.c.VirtualServers[i]
		key := serviceKey(vs)
		var conns map[netip.AddrPort]ipvs.Conns
		for j := range vs.RealServers {
			k := rsKey{key, vs.RealServers[j].Address}
			o, ok := d.overrides[k]
			if !ok || o.Mode != ModeDisable || o.Out {
				continue
			}
			in := false
			if s, ok := d.want[key]; ok {
				in = destIndex(s.Destinations, k.Addr) >= 0
			}
			if in && d.rec != nil {
				if conns == nil {
					var err error
					if conns, err = d.rec.Conns(ctx, key); err != nil {
						d.log.Warn("cannot read connection counters", "service", key.String(), "err", err)
						waiting = true
						continue
					}
				}
				if n := conns[k.Addr]; n.Active+n.Inactive > 0 {
					waiting = true
					continue
				}
			}
			o.Out = true
			d.overrides[k] = o
			d.log.Info("disabled real server has no connections left: out of the table",
				"virtual_server", vs.Name, "real_server", vs.RealServers[j].Name)
			if len(idx) == 0 || idx[len(idx)-1] != i {
				idx = append(idx, i)
			}
		}
	}
	if len(idx) > 0 {
		d.saveOverrides()
		if err := d.applyServices(ctx, "disabled", idx); err != nil {
			d.log.Error("taking disabled real servers out failed", "err", err)
		}
	}
	return waiting
}

// pruneOverrides drops the overrides of real servers c no longer lists.
func (d *Director) pruneOverrides(c *conf.Cluster) {
	if len(d.overrides) == 0 {
		return
	}
	keep := map[rsKey]bool{}
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		key := serviceKey(vs)
		for j := range vs.RealServers {
			keep[rsKey{key, vs.RealServers[j].Address}] = true
		}
	}
	dropped := 0
	for k, o := range d.overrides {
		if !keep[k] {
			delete(d.overrides, k)
			dropped++
			d.log.Info("maintenance override dropped: the file no longer lists the real server",
				"service", k.Service.String(), "address", k.Addr.String(), "mode", string(o.Mode))
		}
	}
	if dropped > 0 {
		d.saveOverrides()
	}
}

// stateFile is the overrides' file.
type stateFile struct {
	Schema    string          `json:"schema"`
	Overrides []stateOverride `json:"overrides"`
}

type stateOverride struct {
	Service ipvs.ServiceKey `json:"service"`
	Address netip.AddrPort  `json:"address"`
	Mode    Mode            `json:"mode"`
	Now     bool            `json:"now,omitempty"`
	Out     bool            `json:"out,omitempty"`
	Since   time.Time       `json:"since"`
}

const stateSchema = "tandem/overrides/v1"

// maxStateFile bounds the state file read at start.
const maxStateFile = 16 << 20

// loadOverrides reads the state file, if any. A file that does not
// parse is logged and ignored: overrides are an operator's convenience,
// never a reason not to start.
func (d *Director) loadOverrides() {
	d.overrides = overrides{}
	if d.cfg.StatePath == "" {
		return
	}
	b, err := os.ReadFile(d.cfg.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var st stateFile
	if err == nil && len(b) > maxStateFile {
		err = fmt.Errorf("larger than %d bytes", maxStateFile)
	}
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil && st.Schema != stateSchema {
		err = fmt.Errorf("schema %q, want %q", st.Schema, stateSchema)
	}
	if err != nil {
		d.log.Warn("maintenance state file ignored", "file", d.cfg.StatePath, "err", err)
		return
	}
	for _, o := range st.Overrides {
		if o.Mode != ModeDrain && o.Mode != ModeDisable {
			continue
		}
		d.overrides[rsKey{o.Service.Canonical(), o.Address}] = Override{Mode: o.Mode, Now: o.Now, Out: o.Out, Since: o.Since}
	}
	if len(d.overrides) > 0 {
		d.log.Info("maintenance overrides restored", "file", d.cfg.StatePath, "overrides", len(d.overrides))
	}
}

// saveOverrides writes the state file (atomically: a temp file renamed).
func (d *Director) saveOverrides() {
	if d.cfg.StatePath == "" {
		return
	}
	st := stateFile{Schema: stateSchema, Overrides: []stateOverride{}}
	for k, o := range d.overrides {
		st.Overrides = append(st.Overrides, stateOverride{Service: k.Service, Address: k.Addr, Mode: o.Mode, Now: o.Now, Out: o.Out, Since: o.Since})
	}
	slices.SortFunc(st.Overrides, func(a, b stateOverride) int {
		if c := a.Service.Compare(b.Service); c != 0 {
			return c
		}
		return a.Address.Compare(b.Address)
	})
	b, _ := json.MarshalIndent(st, "", "  ")
	err := os.MkdirAll(filepath.Dir(d.cfg.StatePath), 0o755)
	if err == nil {
		tmp := d.cfg.StatePath + ".tmp"
		if err = os.WriteFile(tmp, append(b, '\n'), 0o600); err == nil {
			err = os.Rename(tmp, d.cfg.StatePath)
		}
	}
	if err != nil {
		d.log.Error("maintenance state not saved (a restart forgets the overrides)", "file", d.cfg.StatePath, "err", err)
	}
}

// findVirtualServer finds the virtual server s names: its name, its
// address ("203.0.113.10:80", "tcp/203.0.113.10:80") or its mark
// ("fwmark:1", "fwm:1").
func findVirtualServer(c *conf.Cluster, s string) (int, error) {
	for i := range c.VirtualServers {
		if c.VirtualServers[i].Name == s {
			return i, nil
		}
	}
	lower := strings.ToLower(s)
	proto := ""
	if p, rest, ok := strings.Cut(lower, "/"); ok {
		proto, lower = p, rest
	}
	var hits []int
	if m, ok := strings.CutPrefix(lower, "fwmark:"); ok || strings.HasPrefix(lower, "fwm:") {
		if !ok {
			m = strings.TrimPrefix(lower, "fwm:")
		}
		if n, err := strconv.ParseUint(m, 0, 32); err == nil {
			for i := range c.VirtualServers {
				if c.VirtualServers[i].FWMark == uint32(n) && n != 0 {
					hits = append(hits, i)
				}
			}
		}
	} else if ap, err := netip.ParseAddrPort(lower); err == nil {
		for i := range c.VirtualServers {
			vs := &c.VirtualServers[i]
			if vs.FWMark == 0 && vs.Address == netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()) && (proto == "" || string(vs.Protocol) == proto) {
				hits = append(hits, i)
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		names := make([]string, 0, min(len(c.VirtualServers), 10))
		for i := range c.VirtualServers[:min(len(c.VirtualServers), 10)] {
			names = append(names, strconv.Quote(c.VirtualServers[i].Name))
		}
		more := ""
		if len(c.VirtualServers) > 10 {
			more = fmt.Sprintf(" and %d more", len(c.VirtualServers)-10)
		}
		return 0, fmt.Errorf("virtual server %q: %w in the running file (virtual servers: %s%s; or give ip:port, proto/ip:port, fwmark:N)",
			s, ErrNotFound, strings.Join(names, ", "), more)
	default:
		return 0, fmt.Errorf("virtual server %q is ambiguous: %d match (give proto/ip:port or the name)", s, len(hits))
	}
}

// findRealServer finds the real server s names in vs: its name, its
// ip:port or its ip (when only one has it).
func findRealServer(vs *conf.VirtualServer, s string) (*conf.RealServer, error) {
	for i := range vs.RealServers {
		if vs.RealServers[i].Name == s {
			return &vs.RealServers[i], nil
		}
	}
	var hits []*conf.RealServer
	if ap, err := netip.ParseAddrPort(s); err == nil {
		ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		for i := range vs.RealServers {
			if vs.RealServers[i].Address == ap {
				hits = append(hits, &vs.RealServers[i])
			}
		}
	} else if a, err := netip.ParseAddr(s); err == nil {
		for i := range vs.RealServers {
			if vs.RealServers[i].Address.Addr() == a.Unmap() {
				hits = append(hits, &vs.RealServers[i])
			}
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		names := make([]string, 0, len(vs.RealServers))
		for _, rs := range vs.RealServers[:min(len(vs.RealServers), 10)] {
			names = append(names, fmt.Sprintf("%q (%s)", rs.Name, rs.Address))
		}
		return nil, fmt.Errorf("real server %q: %w in virtual server %q (real servers: %s)", s, ErrNotFound, vs.Name, strings.Join(names, ", "))
	default:
		return nil, fmt.Errorf("real server %q is ambiguous in virtual server %q: give ip:port or the name", s, vs.Name)
	}
}
