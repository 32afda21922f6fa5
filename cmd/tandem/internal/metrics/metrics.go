// Package metrics exports a running director's state to Prometheus
// (github.com/prometheus/client_golang): at each scrape it builds the
// status document (package status) once and turns it into samples, so
// /metrics, `tandem status` and the status page always agree. Counters
// that status does not keep (the probe latency histogram) are observed
// as they happen.
//
// The series, all prefixed tandem_ (Names lists them; the Grafana
// dashboard's test checks its queries against it):
//
//   - VRRP, per instance (labels vrrp_instance, interface, vrid: not
//     "instance", which Prometheus keeps for the target): state (one
//     series per state, 1 for the current one), priority,
//     configured_priority, transitions, became_master, released_master,
//     adverts sent / received / dropped by reason, the last transition's
//     time, each tracked item's state; adverts no instance could be told
//     about, by reason.
//   - The table (table.go), per virtual server (label virtual_server: its
//     name, or a foreign service's ipvsadm name) and per real server
//     (plus real_server): the kernel's counters (connections, packets and
//     bytes in and out), active and inactive connections and the current
//     weight; quorum state, healthy weight, sorry server; each real
//     server's health (one series, for its current health), configured
//     weight, check transitions and maintenance override; and _info
//     series carrying the service, address, scheduler, forwarding method
//     and check, to join on.
//   - tandem's own: a probe latency histogram per check kind and result,
//     reconcile runs / writes / errors and the last one's duration, the
//     kernel read's success, reloads by result and the last one's time,
//     the running config's hash (tandem_config_info: both directors must
//     show the same), build info; and the Go runtime and process
//     collectors (goroutines, open files, RSS).
package metrics

import (
	"bufio"
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// scrapeTimeout bounds building the status for one scrape.
const scrapeTimeout = 10 * time.Second

// Metrics is the registry of one director.
type Metrics struct {
	get    func(ctx context.Context) (*status.Status, error)
	reg    *prometheus.Registry
	probes *prometheus.HistogramVec

	// mu serialises scrapes: each builds the status document once and
	// hands it to the collector through cur.
	mu  sync.Mutex
	cur *status.Status
}

// New returns the metrics of a director whose status get returns.
func New(get func(ctx context.Context) (*status.Status, error), version string) *Metrics {
	m := &Metrics{get: get, reg: prometheus.NewRegistry()}
	m.probes = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tandem_health_probe_duration_seconds",
		Help:    "Latency of the health checks' probes, by check kind and result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"kind", "result"})
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tandem_build_info",
		Help: "A metric with a constant '1' value labelled by tandem's version and the Go version it was built with.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	m.reg.MustRegister(m.probes, build, &collector{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveProbe records one probe (healthcheck.Options.OnProbe).
func (m *Metrics) ObserveProbe(kind string, latency time.Duration, ok bool) {
	result := "success"
	if !ok {
		result = "failure"
	}
	m.probes.WithLabelValues(kind, result).Observe(latency.Seconds())
}

// Handler serves the metrics (/metrics) in Prometheus's text format
// (0.0.4): the registry's families through client_golang's encoder, then
// the table's (table.go).
func (m *Metrics) Handler() http.Handler {
	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		defer m.mu.Unlock()
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
		defer cancel()
		m.cur, _ = m.get(ctx) // nil on error: only the process's own series
		defer func() { m.cur = nil }()
		mfs, _ := m.reg.Gather() // what it gathered, errors or not
		w.Header().Set("Content-Type", string(format))
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := expfmt.NewEncoder(bw, format)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				return
			}
		}
		if m.cur != nil {
			writeTable(bw, m.cur)
		}
		bw.Flush()
	})
}

// Registry is the registry (the families client_golang encodes), for
// tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// desc is one series family's description, registered in names.
func desc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc(name, help, labels, nil)
	names = append(names, name)
	return d
}

// names lists every family exported (Names).
var names []string

var (
	vrrpLabels = []string{"vrrp_instance", "interface", "vrid"}

	dVRRPState        = desc("tandem_vrrp_state", "VRRP instance state: 1 for the current state (INIT, BACKUP, MASTER, FAULT, STOP), 0 for the others.", append(vrrpLabels, "state")...)
	dVRRPPriority     = desc("tandem_vrrp_priority", "Effective VRRP priority (configured, with the tracking adjustments).", vrrpLabels...)
	dVRRPConfPriority = desc("tandem_vrrp_configured_priority", "Configured VRRP priority of this node.", vrrpLabels...)
	dVRRPSince        = desc("tandem_vrrp_last_transition_timestamp_seconds", "Time of the instance's last state change, in seconds since the epoch.", vrrpLabels...)
	dVRRPTransitions  = desc("tandem_vrrp_transitions_total", "VRRP state changes.", vrrpLabels...)
	dVRRPBecame       = desc("tandem_vrrp_became_master_total", "Transitions to MASTER.", vrrpLabels...)
	dVRRPReleased     = desc("tandem_vrrp_released_master_total", "Transitions from MASTER.", vrrpLabels...)
	dVRRPSent         = desc("tandem_vrrp_adverts_sent_total", "VRRP adverts sent.", vrrpLabels...)
	dVRRPReceived     = desc("tandem_vrrp_adverts_received_total", "VRRP adverts received and accepted.", vrrpLabels...)
	dVRRPDropped      = desc("tandem_vrrp_adverts_dropped_total", "VRRP adverts for this instance's VRID refused, by reason.", append(vrrpLabels, "reason")...)
	dVRRPTrack        = desc("tandem_vrrp_track_ok", "1 while a tracked interface, script or virtual server is fine, 0 while it has failed.", append(vrrpLabels, "kind", "name")...)
	dVRRPRunnerDrop   = desc("tandem_vrrp_packets_dropped_total", "VRRP packets no instance could be told about (malformed, unknown VRID), by reason.", "reason")

	dReconciles  = desc("tandem_ipvs_reconciles_total", "Reconciles and updates of the kernel's IPVS table.")
	dWrites      = desc("tandem_ipvs_reconcile_writes_total", "IPVS writes made to repair or update the kernel's table.")
	dRecErrors   = desc("tandem_ipvs_reconcile_errors_total", "Reconciles and updates that failed.")
	dRecDuration = desc("tandem_ipvs_last_reconcile_duration_seconds", "How long the last reconcile or update took.")
	dKernelUp    = desc("tandem_ipvs_kernel_read_ok", "1 when this scrape read the kernel's IPVS table, 0 when it failed (or IPVS is not managed).")
	dReloads     = desc("tandem_reloads_total", "Reloads of the cluster file, by result (success, failure).", "result")
	dLastReload  = desc("tandem_last_reload_timestamp_seconds", "Time of the last reload attempt, in seconds since the epoch (0: none).")
	dLastOK      = desc("tandem_last_reload_successful", "1 when the last reload was applied (or none was tried), 0 when it failed.")
	dConfig      = desc("tandem_config_info", "The running cluster file: its SHA-256 (both directors should show the same) and path.", "hash", "file", "node")
	dLoaded      = desc("tandem_config_loaded_timestamp_seconds", "When the running cluster file was loaded, in seconds since the epoch.")

	dOverloaded    = desc("tandem_healthcheck_overloaded", "1 while the health checker is overloaded (its probes run late against their schedule): probe timeouts are held, not counted.")
	dMassTimeout   = desc("tandem_healthcheck_mass_timeout", "1 while most of all the health checks time out at once: probe timeouts are held, not counted.")
	dLateProbes    = desc("tandem_healthcheck_probes_late_total", "Health-check probes that started, or saw their deadline, late against their schedule.")
	dBGPPeerUp     = desc("tandem_bgp_peer_up", "1 while the BGP session with the peer is established.", "peer", "peer_as")
	dBGPPeerRoutes = desc("tandem_bgp_peer_announced_routes", "Routes this director announces to the peer.", "peer", "peer_as")
	dBGPAnnounced  = desc("tandem_bgp_route_announced", "1 while this director announces the address (ready, quorum, not draining), 0 while it withholds it.", "prefix")
	dBGPDraining   = desc("tandem_bgp_draining", "1 once drain-node or a stop withdrew this director's routes.")
	dBGPMismatch   = desc("tandem_bgp_placement_mismatch", "1 while another director's placement hash (read from its metrics listener) differs from this one's, 0 while it is the same; absent while it cannot be read.", "node")
	dBGPPlacement  = desc("tandem_bgp_placement_info", "Hash of what decides which real server a flow goes to: every director of a cluster must show the same (alert on count(count by (hash) (tandem_bgp_placement_info)) > 1).", "hash")

	dHeldTimeouts = desc("tandem_healthcheck_timeouts_held_total", "Health-check probe timeouts not counted because the checker was overloaded or in a mass timeout.")
)

// Names returns the name of every series family tandem exports, the
// runtime's and the process's aside.
func Names() []string {
	out := append([]string(nil), names...)
	for _, f := range tableFamilies {
		out = append(out, f.name)
	}
	return append(out, "tandem_health_probe_duration_seconds", "tandem_build_info")
}

// collector exports the scrape's document, but for the table (table.go).
type collector struct{ m *Metrics }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dVRRPState, dVRRPPriority, dVRRPConfPriority, dVRRPSince, dVRRPTransitions,
		dVRRPBecame, dVRRPReleased, dVRRPSent, dVRRPReceived, dVRRPDropped, dVRRPTrack, dVRRPRunnerDrop,
		dReconciles, dWrites, dRecErrors, dRecDuration, dKernelUp, dReloads, dLastReload, dLastOK, dConfig, dLoaded,
		dOverloaded, dMassTimeout, dLateProbes, dHeldTimeouts,
		dBGPPeerUp, dBGPPeerRoutes, dBGPAnnounced, dBGPDraining, dBGPPlacement, dBGPMismatch} {
		ch <- d
	}
}

var vrrpStates = []string{"INIT", "BACKUP", "MASTER", "FAULT", "STOP"}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.m.cur
	if st == nil {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, l...)
	}
	for _, in := range st.VRRP {
		l := []string{in.Name, in.Interface, strconv.Itoa(in.VRID)}
		for _, s := range vrrpStates {
			gauge(dVRRPState, b2f(in.State == s), append(l, s)...)
		}
		gauge(dVRRPPriority, float64(in.Priority), l...)
		gauge(dVRRPConfPriority, float64(in.ConfiguredPriority), l...)
		if in.Since != nil {
			gauge(dVRRPSince, float64(in.Since.UnixNano())/1e9, l...)
		}
		counter(dVRRPTransitions, float64(in.Transitions), l...)
		counter(dVRRPBecame, float64(in.BecameMaster), l...)
		counter(dVRRPReleased, float64(in.ReleasedMaster), l...)
		counter(dVRRPSent, float64(in.AdvertsSent), l...)
		counter(dVRRPReceived, float64(in.AdvertsReceived), l...)
		for reason, n := range in.Dropped {
			counter(dVRRPDropped, float64(n), append(l, reason)...)
		}
		for _, t := range in.Track {
			gauge(dVRRPTrack, b2f(t.OK), append(l, t.Kind, t.Name)...)
		}
	}
	for reason, n := range st.VRRPDropped {
		counter(dVRRPRunnerDrop, float64(n), reason)
	}
	counter(dReconciles, float64(st.IPVS.Reconciles))
	counter(dWrites, float64(st.IPVS.ReconcileWrites))
	counter(dRecErrors, float64(st.IPVS.ReconcileErrors))
	gauge(dRecDuration, st.IPVS.LastReconcileSeconds)
	gauge(dKernelUp, b2f(st.IPVS.Managed && st.IPVS.KernelError == ""))
	counter(dReloads, float64(st.Reloads.OK), "success")
	counter(dReloads, float64(st.Reloads.Failed), "failure")
	last := 0.0
	if st.Reloads.Last != nil {
		last = float64(st.Reloads.Last.UnixNano()) / 1e9
	}
	gauge(dLastReload, last)
	gauge(dLastOK, b2f(st.Reloads.LastError == ""))
	gauge(dConfig, 1, st.ConfigHash, st.File, st.Node)
	gauge(dLoaded, float64(st.Loaded.UnixNano())/1e9)
	if b := st.BGP; b != nil {
		for _, p := range b.Peers {
			as := strconv.FormatUint(uint64(p.AS), 10)
			gauge(dBGPPeerUp, b2f(p.State == "established"), p.Address, as)
			gauge(dBGPPeerRoutes, float64(p.Announced), p.Address, as)
		}
		for _, r := range b.Routes {
			gauge(dBGPAnnounced, b2f(r.Announced), r.Prefix)
		}
		gauge(dBGPDraining, b2f(b.Draining))
		gauge(dBGPPlacement, 1, b.PlacementHash)
		for _, p := range b.Placements {
			if p.Error == "" {
				gauge(dBGPMismatch, b2f(!p.Same), p.Node)
			}
		}
	}
	if hc := st.HealthChecks; hc != nil {
		gauge(dOverloaded, b2f(hc.Overloaded))
		gauge(dMassTimeout, b2f(hc.MassTimeout))
		counter(dLateProbes, float64(hc.LateProbes))
		counter(dHeldTimeouts, float64(hc.HeldTimeouts))
	}
}
