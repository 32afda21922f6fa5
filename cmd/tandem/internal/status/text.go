package status

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Columns selects the table's counters, as ipvsadm's -L options do.
type Columns int

// Columns values.
const (
	// Conns: weight, ActiveConn, InActConn and the health (the default).
	Conns Columns = iota
	// Totals: Conns, InPkts, OutPkts, InBytes, OutBytes (ipvsadm -L --stats).
	Totals
	// Rates: CPS, InPPS, OutPPS, InBPS, OutBPS (ipvsadm -L --rate).
	Rates
)

// Write prints st for a terminal: a header line, the VRRP instances, then
// the table in `ipvsadm -Ln`'s layout with tandem's columns beside it,
// then the foreign services. now is the time ages are counted from.
func Write(w io.Writer, st *Status, cols Columns, now time.Time) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "node %s · tandem %s · %s · config %s · loaded %s ago · up %s · reloads %d ok, %d failed\n",
		st.Node, st.Version, st.File, Short(st.ConfigHash), Age(now, st.Loaded), Age(now, st.Started), st.Reloads.OK, st.Reloads.Failed)
	if st.Reloads.LastError != "" {
		fmt.Fprintf(ew, "last reload failed: %s\n", oneLine(st.Reloads.LastError))
	}
	if !st.IPVS.Managed {
		fmt.Fprintln(ew, "ipvs: not managed (--no-ipvs)")
	}
	if st.IPVS.KernelError != "" {
		fmt.Fprintf(ew, "ipvs: cannot read the kernel's table: %s\n", oneLine(st.IPVS.KernelError))
	}
	if hc := st.HealthChecks; hc != nil && (hc.Overloaded || hc.MassTimeout) {
		var why []string
		if hc.Overloaded && hc.OverloadedSince != nil {
			why = append(why, "checker overloaded (probes late) for "+Age(now, *hc.OverloadedSince))
		}
		if hc.MassTimeout && hc.MassTimeoutSince != nil {
			why = append(why, "mass timeout of all checks for "+Age(now, *hc.MassTimeoutSince))
		}
		fmt.Fprintf(ew, "health checks: HELD, probe timeouts do not take real servers out: %s\n", strings.Join(why, ", "))
	}

	if b := st.BGP; b != nil {
		writeBGP(ew, b, now)
	}
	if len(st.VRRP) > 0 {
		fmt.Fprintln(ew)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VRRP\tSTATE\tPRIO\tMASTER\tSINCE\tTRANS\tSENT\tRECV\tDROPPED\tINTERFACE\tVRID\tTRACK")
		for _, in := range st.VRRP {
			prio := strconv.Itoa(in.Priority)
			if in.Priority != in.ConfiguredPriority {
				prio += "/" + strconv.Itoa(in.ConfiguredPriority)
			}
			master := in.Master
			switch {
			case master == "":
				master = "-"
			case master != "self":
				master += " (" + strconv.Itoa(in.MasterPriority) + ")"
			}
			since := "-"
			if in.Since != nil {
				since = Age(now, *in.Since)
			}
			var dropped uint64
			for _, n := range in.Dropped {
				dropped += n
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n", in.Name, in.State, prio, master, since,
				in.Transitions, in.AdvertsSent, in.AdvertsReceived, dropped, in.Interface, in.VRID, track(in))
		}
		tw.Flush()
		for _, in := range st.VRRP {
			for reason, n := range in.Dropped {
				if n > 0 {
					fmt.Fprintf(ew, "  %s dropped %d adverts: %s\n", in.Name, n, reason)
				}
			}
		}
	}

	fmt.Fprintln(ew)
	writeTable(ew, st, cols, now)

	if len(st.Foreign) > 0 {
		fmt.Fprintln(ew)
		fmt.Fprintln(ew, "Foreign services (not in the file; left alone):")
		tw := tabwriter.NewWriter(ew, 0, 0, 1, ' ', 0)
		for _, f := range st.Foreign {
			fmt.Fprintf(tw, "%s %s\n", f.Service, f.Scheduler)
			for _, d := range f.RealServers {
				fmt.Fprintf(tw, "  -> %s\t%s\t%d\t%d\t%d\n", d.Address, fwd(d.Forward), d.Weight, d.ActiveConns, d.InactiveConns)
			}
		}
		tw.Flush()
	}
	return ew.err
}

// serviceLine is ipvsadm's service line: "TCP  203.0.113.10:80 wlc persistent 300".
func serviceLine(vs VirtualServer) string {
	var b strings.Builder
	if vs.FWMark != 0 {
		fmt.Fprintf(&b, "FWM  %d", vs.FWMark)
		if vs.Family == "ipv6" {
			b.WriteString(" IPv6")
		}
	} else {
		fmt.Fprintf(&b, "%-4s %s", strings.ToUpper(vs.Protocol), vs.Address)
	}
	b.WriteString(" " + vs.Scheduler)
	for _, f := range vs.Flags {
		b.WriteString(" " + f)
	}
	if vs.PersistenceSeconds > 0 {
		fmt.Fprintf(&b, " persistent %d", int(vs.PersistenceSeconds))
	}
	return b.String()
}

func rsName(rs RealServer) string {
	switch {
	case rs.Sorry:
		return "[sorry]"
	case rs.Removed:
		return "[removed]"
	}
	return "[" + rs.Name + "]"
}

// detail is the real server's name, override, age of its health and
// last probe.
func detail(rs RealServer, now time.Time) string {
	parts := []string{rsName(rs)}
	if rs.Override != nil {
		parts = append(parts, rs.Override.Mode+" by operator "+Age(now, rs.Override.Since)+" ago")
	}
	if rs.Since != nil {
		parts = append(parts, "for "+Age(now, *rs.Since))
	}
	if rs.Check != "" && rs.LastProbe != nil {
		parts = append(parts, fmt.Sprintf("%s %s", rs.Check, Seconds(rs.LastProbeSeconds)))
	}
	if rs.LastError != "" {
		parts = append(parts, "error: "+oneLine(rs.LastError))
	}
	return strings.Join(parts, " ")
}

// counters are the five counter cells of s.
func counters(s *Stats, cols Columns) [5]string {
	if s == nil {
		return [5]string{"-", "-", "-", "-", "-"}
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	if cols == Rates {
		return [5]string{u(s.CPS), u(s.InPPS), u(s.OutPPS), u(s.InBPS), u(s.OutBPS)}
	}
	return [5]string{u(s.Conns), u(s.InPackets), u(s.OutPackets), Size(s.InBytes), Size(s.OutBytes)}
}

// row is one line of the table: cells padded to their column's width,
// then last as it is.
type row struct {
	cells [7]string
	n     int // cells used
	last  string
}

// writeTable writes the virtual servers in ipvsadm -Ln's layout, in two
// passes (the columns' widths, then the lines): a table of 10 000 real
// servers is written in a few milliseconds, without text/tabwriter's
// copies.
func writeTable(w io.Writer, st *Status, cols Columns, now time.Time) {
	n := 2
	for _, vs := range st.VirtualServers {
		n += 1 + len(vs.RealServers)
	}
	rows := make([]row, 0, n)
	switch cols {
	case Totals:
		rows = append(rows, row{cells: [7]string{"Prot LocalAddress:Port", "", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"}, n: 7},
			row{cells: [7]string{"  -> RemoteAddress:Port"}, n: 1})
	case Rates:
		rows = append(rows, row{cells: [7]string{"Prot LocalAddress:Port", "", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"}, n: 7},
			row{cells: [7]string{"  -> RemoteAddress:Port"}, n: 1})
	default:
		rows = append(rows, row{last: "Prot LocalAddress:Port Scheduler Flags"},
			row{cells: [7]string{"  -> RemoteAddress:Port", "Forward", "Weight", "ActiveConn", "InActConn", "Health"}, n: 6, last: "Detail"})
	}
	for _, vs := range st.VirtualServers {
		head := serviceLine(vs)
		if cols != Conns {
			r := row{cells: [7]string{head, "[" + vs.Name + "]"}, n: 7}
			c := counters(vs.Stats, cols)
			copy(r.cells[2:], c[:])
			rows = append(rows, r)
		} else {
			state := "up"
			if !vs.Up {
				state = "DOWN"
			}
			state = "[" + vs.Name + "] " + state + " " + strconv.FormatUint(vs.HealthyWeight, 10) + "/" + strconv.FormatUint(uint64(vs.Quorum), 10)
			if vs.Sorry {
				state += " sorry"
			}
			if vs.Panic {
				state += " PANIC (<" + vs.PanicThreshold + " healthy: all in)"
			}
			if h := vs.Held; h != nil {
				state += " HELD (" + h.Reason + ", " + strconv.Itoa(h.TimingOut) + "/" + strconv.Itoa(h.Checked) + " timing out, for " + Age(now, h.Since) + ")"
			}
			if !vs.InKernel && st.IPVS.Managed && st.IPVS.KernelError == "" {
				state += " NOT IN KERNEL"
			}
			rows = append(rows, row{cells: [7]string{head}, n: 6, last: state})
		}
		for _, rs := range vs.RealServers {
			addr := "  -> " + rs.Address
			if cols != Conns {
				r := row{cells: [7]string{addr, rsName(rs)}, n: 7}
				c := counters(rs.Stats, cols)
				copy(r.cells[2:], c[:])
				rows = append(rows, r)
				continue
			}
			weight := "-"
			if rs.Weight >= 0 {
				weight = strconv.Itoa(rs.Weight)
			}
			if rs.Weight != rs.ConfiguredWeight && !rs.Removed {
				weight += "(" + strconv.Itoa(rs.ConfiguredWeight) + ")"
			}
			rows = append(rows, row{cells: [7]string{addr, fwd(rs.Forward), weight, strconv.FormatUint(uint64(rs.ActiveConns), 10),
				strconv.FormatUint(uint64(rs.InactiveConns), 10), rs.Health}, n: 6, last: detail(rs, now)})
		}
	}
	var width [7]int
	for _, r := range rows {
		for i := range r.n {
			width[i] = max(width[i], len(r.cells[i]))
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	for _, r := range rows {
		b = b[:0]
		for i := range r.n {
			b = append(b, r.cells[i]...)
			if i < r.n-1 || r.last != "" {
				for range width[i] - len(r.cells[i]) + 2 {
					b = append(b, ' ')
				}
			}
		}
		b = append(b, r.last...)
		b = append(bytes.TrimRight(b, " "), '\n')
		bw.Write(b)
	}
	bw.Flush()
}

// fwd is ipvsadm's word for a forwarding method.
func fwd(f string) string {
	switch f {
	case "nat":
		return "Masq"
	case "dr":
		return "Route"
	case "tun":
		return "Tunnel"
	}
	return f
}

func track(in Instance) string {
	var parts []string
	for _, t := range in.Track {
		if t.Kind == "interface" && t.OK {
			continue
		}
		s := t.Name
		if !t.OK {
			s += " failed"
			if t.Weight != 0 {
				s += fmt.Sprintf(" (%+d)", t.Weight)
			}
		}
		parts = append(parts, s)
	}
	for _, f := range in.Fault {
		parts = append(parts, "fault: "+f)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// Size is a byte count as ipvsadm prints it: 1234, 12K, 3M, 4G.
func Size(n uint64) string {
	switch {
	case n >= 10<<30:
		return strconv.FormatUint(n>>30, 10) + "G"
	case n >= 10<<20:
		return strconv.FormatUint(n>>20, 10) + "M"
	case n >= 10<<10:
		return strconv.FormatUint(n>>10, 10) + "K"
	}
	return strconv.FormatUint(n, 10)
}

// Age is the time from t to now, short: 45s, 12m3s, 5h2m, 3d4h; "-"
// for a zero t.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Hour:
		return d.Round(time.Second).String()
	case d < 48*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	h := int(d.Hours())
	return fmt.Sprintf("%dd%dh", h/24, h%24)
}

// Seconds is a duration given in seconds: 1.234s, 12.35ms, 250µs.
func Seconds(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// Short is the first 12 digits of a hash.
func Short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// writeBGP writes the BGP part: the speaker, its peers, its routes.
func writeBGP(w io.Writer, b *BGP, now time.Time) {
	drain := ""
	if b.Draining {
		drain = " · DRAINING (routes withdrawn)"
	}
	fmt.Fprintf(w, "\nBGP AS %d · router id %s · placement %s%s\n", b.LocalAS, b.RouterID, b.PlacementHash, drain)
	for _, p := range b.Placements {
		switch {
		case p.Error != "":
			fmt.Fprintf(w, "placement of %s: not readable: %s\n", p.Node, oneLine(p.Error))
		case p.Same:
			fmt.Fprintf(w, "placement of %s: same\n", p.Node)
		default:
			fmt.Fprintf(w, "placement of %s: DIFFERENT (%s): the directors send a flow to different real servers\n", p.Node, p.Hash)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tAS\tSTATE\tSINCE\tROUTES\tLAST ERROR")
	for _, p := range b.Peers {
		since, lastErr := "-", "-"
		if p.Since != nil {
			since = Age(now, *p.Since)
		}
		if p.LastError != "" {
			lastErr = oneLine(p.LastError)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\n", p.Address, p.AS, p.State, since, p.Announced, lastErr)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tANNOUNCED\tWHY")
	for _, r := range b.Routes {
		yes := "no"
		if r.Announced {
			yes = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Prefix, yes, r.Reason)
	}
	tw.Flush()
}
