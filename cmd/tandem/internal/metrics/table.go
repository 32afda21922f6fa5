package metrics

import (
	"bufio"
	"strconv"
	"strings"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// The table's families: a dozen series per real server, so 120 000 at
// 10 000 real servers. Built as const metrics and encoded by
// client_golang they cost 0.8 s of CPU and 190 MB of allocations a
// scrape (BenchmarkScrape, before this writer); written here straight
// into the response, in the same text format (0.0.4) and with the same
// escaping, they cost a few per cent of that, and no memory that
// outlives the scrape. The families are fixed; their samples come from
// the scrape's status document.
//
// Labels: virtual_server (the block's name; a foreign service's ipvsadm
// name, "UDP 10.0.0.1:53"), real_server (the block's name; the address
// of a destination the file no longer lists, or of a foreign one). The
// address, service, forwarding method and check are on the _info series,
// to join on.

type family struct {
	name, typ, help string
	// vs emits the family's samples for one virtual server (or foreign
	// service); rs for one real server. Either may be nil.
	vs func(w *tableWriter, v *vsRow)
	rs func(w *tableWriter, v *vsRow, r *rsRow)
}

// vsRow and rsRow are what a family reads: the document's row and its
// escaped label set.
type vsRow struct {
	labels string // virtual_server="..."
	vs     *status.VirtualServer
	f      *status.Foreign
	stats  *status.Stats
}

type rsRow struct {
	labels string // virtual_server="...",real_server="..."
	rs     *status.RealServer
	fd     *status.ForeignDest
	stats  *status.Stats
	inKern bool
	weight int
	active uint32
	inact  uint32
}

// owned runs fn for a virtual server of the file (not a foreign one).
func owned(v *vsRow, fn func()) {
	if v.vs != nil {
		fn()
	}
}

func counter(stat func(*status.Stats) uint64) func(w *tableWriter, v *vsRow) {
	return func(w *tableWriter, v *vsRow) {
		if v.stats != nil {
			w.sample(v.labels, "", "", int64(stat(v.stats)))
		}
	}
}

func destCounter(stat func(*status.Stats) uint64) func(w *tableWriter, v *vsRow, r *rsRow) {
	return func(w *tableWriter, v *vsRow, r *rsRow) {
		if r.inKern && r.stats != nil {
			w.sample(r.labels, "", "", int64(stat(r.stats)))
		}
	}
}

var tableFamilies = []family{
	{name: "tandem_virtual_server_info", typ: "gauge", help: "Each virtual server (and foreign service, owned=\"false\") with its service, scheduler and forwarding method; the value is 1.",
		vs: func(w *tableWriter, v *vsRow) {
			if v.vs != nil {
				w.sample(v.labels+`,service="`+esc(v.vs.Service)+`",scheduler="`+esc(v.vs.Scheduler)+`",forward="`+esc(v.vs.Forward)+`",owned="true"`, "", "", 1)
			} else {
				w.sample(v.labels+`,service="`+esc(v.f.Service)+`",scheduler="`+esc(v.f.Scheduler)+`",forward="",owned="false"`, "", "", 1)
			}
		}},
	{name: "tandem_virtual_server_up", typ: "gauge", help: "1 while the virtual server's healthy weight reaches its quorum.",
		vs: func(w *tableWriter, v *vsRow) { owned(v, func() { w.sample(v.labels, "", "", b2i(v.vs.Up)) }) }},
	{name: "tandem_virtual_server_healthy_weight", typ: "gauge", help: "Sum of the configured weights of the real servers in service.",
		vs: func(w *tableWriter, v *vsRow) {
			owned(v, func() { w.sample(v.labels, "", "", int64(v.vs.HealthyWeight)) })
		}},
	{name: "tandem_virtual_server_quorum", typ: "gauge", help: "The virtual server's quorum.",
		vs: func(w *tableWriter, v *vsRow) { owned(v, func() { w.sample(v.labels, "", "", int64(v.vs.Quorum)) }) }},
	{name: "tandem_virtual_server_sorry", typ: "gauge", help: "1 while the sorry server is in the table.",
		vs: func(w *tableWriter, v *vsRow) { owned(v, func() { w.sample(v.labels, "", "", b2i(v.vs.Sorry)) }) }},
	{name: "tandem_virtual_server_panic", typ: "gauge", help: "1 while fewer of the virtual server's real servers are healthy than its panic_threshold: all of them are in the table.",
		vs: func(w *tableWriter, v *vsRow) { owned(v, func() { w.sample(v.labels, "", "", b2i(v.vs.Panic)) }) }},
	{name: "tandem_virtual_server_verdicts_held", typ: "gauge", help: "Real servers of the virtual server whose probe timeouts are held (not counted) now, labelled by why (mass timeout, checker overloaded, mass timeout of all checks); 0 when none.",
		vs: func(w *tableWriter, v *vsRow) {
			owned(v, func() {
				if h := v.vs.Held; h != nil {
					w.sample(v.labels, "reason", h.Reason, int64(h.TimingOut))
				} else {
					w.sample(v.labels, "reason", "", 0)
				}
			})
		}},
	{name: "tandem_virtual_server_in_kernel", typ: "gauge", help: "1 when the kernel's table holds the service.",
		vs: func(w *tableWriter, v *vsRow) { owned(v, func() { w.sample(v.labels, "", "", b2i(v.vs.InKernel)) }) }},
	{name: "tandem_ipvs_service_connections_total", typ: "counter", help: "Connections scheduled by the IPVS service (the kernel's counter).",
		vs: counter(func(s *status.Stats) uint64 { return s.Conns })},
	{name: "tandem_ipvs_service_in_packets_total", typ: "counter", help: "Packets from clients through the IPVS service.",
		vs: counter(func(s *status.Stats) uint64 { return s.InPackets })},
	{name: "tandem_ipvs_service_out_packets_total", typ: "counter", help: "Packets to clients through the IPVS service.",
		vs: counter(func(s *status.Stats) uint64 { return s.OutPackets })},
	{name: "tandem_ipvs_service_in_bytes_total", typ: "counter", help: "Bytes from clients through the IPVS service.",
		vs: counter(func(s *status.Stats) uint64 { return s.InBytes })},
	{name: "tandem_ipvs_service_out_bytes_total", typ: "counter", help: "Bytes to clients through the IPVS service.",
		vs: counter(func(s *status.Stats) uint64 { return s.OutBytes })},

	{name: "tandem_real_server_info", typ: "gauge", help: "Each real server (and destination of a foreign service) with its address, forwarding method and check kind; the value is 1.",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.rs != nil {
				w.sample(r.labels+`,address="`+esc(r.rs.Address)+`",forward="`+esc(r.rs.Forward)+`",check="`+esc(r.rs.Check)+`"`, "", "", 1)
			} else {
				w.sample(r.labels+`,address="`+esc(r.fd.Address)+`",forward="`+esc(r.fd.Forward)+`",check=""`, "", "", 1)
			}
		}},
	{name: "tandem_real_server_health", typ: "gauge", help: "The real server's health: one series, with the value 1, labelled by the current one (up, down, unknown, unchecked, draining, maintenance).",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.rs != nil {
				w.sample(r.labels, "health", r.rs.Health, 1)
			}
		}},
	{name: "tandem_real_server_configured_weight", typ: "gauge", help: "The real server's weight in the file.",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.rs != nil && !r.rs.Removed {
				w.sample(r.labels, "", "", int64(r.rs.ConfiguredWeight))
			}
		}},
	{name: "tandem_real_server_check_transitions_total", typ: "counter", help: "State changes of the real server's health check.",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.rs != nil && r.rs.Check != "" {
				w.sample(r.labels, "", "", int64(r.rs.CheckTransitions))
			}
		}},
	{name: "tandem_real_server_maintenance", typ: "gauge", help: "1 while an operator's override (drain or disable) is set on the real server.",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.rs != nil && r.rs.Override != nil {
				w.sample(r.labels, "mode", r.rs.Override.Mode, 1)
			}
		}},
	{name: "tandem_ipvs_destination_weight", typ: "gauge", help: "The real server's weight in the kernel's table.",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.inKern {
				w.sample(r.labels, "", "", int64(r.weight))
			}
		}},
	{name: "tandem_ipvs_destination_active_connections", typ: "gauge", help: "Established connections to the real server (ipvsadm's ActiveConn).",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.inKern {
				w.sample(r.labels, "", "", int64(r.active))
			}
		}},
	{name: "tandem_ipvs_destination_inactive_connections", typ: "gauge", help: "Other connection entries of the real server (ipvsadm's InActConn).",
		rs: func(w *tableWriter, v *vsRow, r *rsRow) {
			if r.inKern {
				w.sample(r.labels, "", "", int64(r.inact))
			}
		}},
	{name: "tandem_ipvs_destination_connections_total", typ: "counter", help: "Connections scheduled to the real server (the kernel's counter).",
		rs: destCounter(func(s *status.Stats) uint64 { return s.Conns })},
	{name: "tandem_ipvs_destination_in_packets_total", typ: "counter", help: "Packets from clients to the real server.",
		rs: destCounter(func(s *status.Stats) uint64 { return s.InPackets })},
	{name: "tandem_ipvs_destination_out_packets_total", typ: "counter", help: "Packets from the real server to clients.",
		rs: destCounter(func(s *status.Stats) uint64 { return s.OutPackets })},
	{name: "tandem_ipvs_destination_in_bytes_total", typ: "counter", help: "Bytes from clients to the real server.",
		rs: destCounter(func(s *status.Stats) uint64 { return s.InBytes })},
	{name: "tandem_ipvs_destination_out_bytes_total", typ: "counter", help: "Bytes from the real server to clients.",
		rs: destCounter(func(s *status.Stats) uint64 { return s.OutBytes })},
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// writeTable writes the table's families for st.
func writeTable(bw *bufio.Writer, st *status.Status) {
	var vss []vsRow
	var rss [][]rsRow
	for i := range st.VirtualServers {
		vs := &st.VirtualServers[i]
		v := vsRow{labels: `virtual_server="` + esc(vs.Name) + `"`, vs: vs, stats: vs.Stats}
		rows := make([]rsRow, len(vs.RealServers))
		for j := range vs.RealServers {
			r := &vs.RealServers[j]
			name := r.Name
			if name == "" {
				name = r.Address
			}
			rows[j] = rsRow{labels: v.labels + `,real_server="` + esc(name) + `"`, rs: r, stats: r.Stats,
				inKern: r.Weight >= 0, weight: r.Weight, active: r.ActiveConns, inact: r.InactiveConns}
		}
		vss, rss = append(vss, v), append(rss, rows)
	}
	for i := range st.Foreign {
		f := &st.Foreign[i]
		v := vsRow{labels: `virtual_server="` + esc(f.Service) + `"`, f: f, stats: f.Stats}
		rows := make([]rsRow, len(f.RealServers))
		for j := range f.RealServers {
			d := &f.RealServers[j]
			rows[j] = rsRow{labels: v.labels + `,real_server="` + esc(d.Address) + `"`, fd: d, stats: d.Stats,
				inKern: true, weight: d.Weight, active: d.ActiveConns, inact: d.InactiveConns}
		}
		vss, rss = append(vss, v), append(rss, rows)
	}
	w := &tableWriter{w: bw}
	for _, fam := range tableFamilies {
		w.name = fam.name
		bw.WriteString("# HELP " + fam.name + " " + fam.help + "\n# TYPE " + fam.name + " " + fam.typ + "\n")
		for i := range vss {
			if fam.vs != nil {
				fam.vs(w, &vss[i])
			}
			if fam.rs != nil {
				for j := range rss[i] {
					fam.rs(w, &vss[i], &rss[i][j])
				}
			}
		}
	}
}

// tableWriter writes one family's samples.
type tableWriter struct {
	w    *bufio.Writer
	name string
	buf  []byte
}

// sample writes name{labels,key="value"} v: labels already escaped,
// key optional (""), its value escaped here.
func (t *tableWriter) sample(labels, key, value string, v int64) {
	b := append(t.buf[:0], t.name...)
	b = append(b, '{')
	b = append(b, labels...)
	if key != "" {
		b = append(b, ',')
		b = append(b, key...)
		b = append(b, `="`...)
		b = appendEsc(b, value)
		b = append(b, '"')
	}
	b = append(b, '}', ' ')
	b = strconv.AppendInt(b, v, 10)
	b = append(b, '\n')
	t.w.Write(b)
	t.buf = b
}

// esc escapes a label value as the text format wants: \\, \", \n.
func esc(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return string(appendEsc(nil, s))
}

func appendEsc(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}
