// Package metrics exports a running director's state to Prometheus
// (github.com/prometheus/client_golang): at each scrape it builds the
// status document (package status) once and turns it into samples, so
// /metrics, `tandem status` and the status page always agree. Counters
// that status does not keep (the probe latency histogram) are observed
// as they happen.
//
// The series, all prefixed tandem_ (see Names for the full list, which
// the Grafana dashboard's test checks its queries against):
//
//   - VRRP, per instance (labels vrrp_instance, interface, vrid: not "instance", which Prometheus keeps for the target): state (one
//     series per state, 1 for the current one), priority,
//     configured_priority, transitions, became_master, released_master,
//     adverts sent / received / dropped by reason, the last transition's
//     time, each tracked item's state; adverts no instance could be told
//     about, by reason.
//   - IPVS, from the kernel's own counters (what ipvsadm -L --stats
//     shows), per virtual server (labels virtual_server, service;
//     virtual_server is "" for a foreign service) and per real server
//     (plus real_server, address): connections, packets and bytes in and
//     out, active and inactive connections, the current weight.
//   - tandem's own: each virtual server's quorum state and healthy
//     weight, each real server's health (one series, for its current
//     health) and configured weight, the check's transitions and last
//     probe's latency, a probe latency histogram per check kind and
//     result, reconcile runs / writes / errors and the last one's
//     duration, reloads by result and the last one's time, the running
//     config's hash (tandem_config_info), build info; and the Go runtime
//     and process collectors (goroutines, open files, RSS).
package metrics

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
)

// scrapeTimeout bounds building the status for one scrape.
const scrapeTimeout = 10 * time.Second

// Metrics is the registry of one director.
type Metrics struct {
	reg    *prometheus.Registry
	probes *prometheus.HistogramVec
}

// New returns the metrics of a director whose status get returns.
func New(get func(ctx context.Context) (*status.Status, error), version string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
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
	m.reg.MustRegister(m.probes, build, &collector{get: get},
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

// Handler serves the metrics (/metrics).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// desc is one series family's description.
func desc(name, help string, labels ...string) *prometheus.Desc {
	d := prometheus.NewDesc(name, help, labels, nil)
	names = append(names, name)
	return d
}

// names lists every family the collector exports (Names).
var names []string

var (
	vrrpLabels = []string{"vrrp_instance", "interface", "vrid"}
	vsLabels   = []string{"virtual_server", "service"}
	rsLabels   = []string{"virtual_server", "service", "real_server", "address"}

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

	dSvcConns    = desc("tandem_ipvs_service_connections_total", "Connections scheduled by the IPVS service (the kernel's counter).", vsLabels...)
	dSvcInPkts   = desc("tandem_ipvs_service_in_packets_total", "Packets from clients through the IPVS service.", vsLabels...)
	dSvcOutPkts  = desc("tandem_ipvs_service_out_packets_total", "Packets to clients through the IPVS service.", vsLabels...)
	dSvcInBytes  = desc("tandem_ipvs_service_in_bytes_total", "Bytes from clients through the IPVS service.", vsLabels...)
	dSvcOutBytes = desc("tandem_ipvs_service_out_bytes_total", "Bytes to clients through the IPVS service.", vsLabels...)

	dDstConns    = desc("tandem_ipvs_destination_connections_total", "Connections scheduled to the real server (the kernel's counter).", rsLabels...)
	dDstInPkts   = desc("tandem_ipvs_destination_in_packets_total", "Packets from clients to the real server.", rsLabels...)
	dDstOutPkts  = desc("tandem_ipvs_destination_out_packets_total", "Packets from the real server to clients.", rsLabels...)
	dDstInBytes  = desc("tandem_ipvs_destination_in_bytes_total", "Bytes from clients to the real server.", rsLabels...)
	dDstOutBytes = desc("tandem_ipvs_destination_out_bytes_total", "Bytes from the real server to clients.", rsLabels...)
	dDstActive   = desc("tandem_ipvs_destination_active_connections", "Established connections to the real server (ipvsadm's ActiveConn).", rsLabels...)
	dDstInactive = desc("tandem_ipvs_destination_inactive_connections", "Other connection entries of the real server (ipvsadm's InActConn).", rsLabels...)
	dDstWeight   = desc("tandem_ipvs_destination_weight", "The real server's weight in the kernel's table.", rsLabels...)

	dVSUp        = desc("tandem_virtual_server_up", "1 while the virtual server's healthy weight reaches its quorum.", vsLabels...)
	dVSHealthy   = desc("tandem_virtual_server_healthy_weight", "Sum of the configured weights of the real servers in service.", vsLabels...)
	dVSQuorum    = desc("tandem_virtual_server_quorum", "The virtual server's quorum.", vsLabels...)
	dVSSorry     = desc("tandem_virtual_server_sorry", "1 while the sorry server is in the table.", vsLabels...)
	dVSInKernel  = desc("tandem_virtual_server_in_kernel", "1 when the kernel's table holds the service.", vsLabels...)
	dRSHealth    = desc("tandem_real_server_health", "The real server's health, one series with the value 1 labelled by the current one: up, down, unknown, unchecked, draining, maintenance.", append(rsLabels, "health")...)
	dRSUp        = desc("tandem_real_server_up", "1 while the real server takes new connections (up or unchecked, no override), else 0.", rsLabels...)
	dRSConfW     = desc("tandem_real_server_configured_weight", "The real server's weight in the file.", rsLabels...)
	dRSTrans     = desc("tandem_real_server_check_transitions_total", "State changes of the real server's health check.", rsLabels...)
	dRSLatency   = desc("tandem_real_server_last_probe_duration_seconds", "Latency of the real server's last health probe.", rsLabels...)
	dRSOverride  = desc("tandem_real_server_maintenance", "1 while an operator's override (drain or disable) is set on the real server.", append(rsLabels, "mode")...)
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
)

// Names returns the name of every series family tandem exports, the
// runtime's and the process's aside.
func Names() []string {
	return append(append([]string(nil), names...), "tandem_health_probe_duration_seconds", "tandem_build_info")
}

type collector struct {
	get func(ctx context.Context) (*status.Status, error)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dVRRPState, dVRRPPriority, dVRRPConfPriority, dVRRPSince, dVRRPTransitions,
		dVRRPBecame, dVRRPReleased, dVRRPSent, dVRRPReceived, dVRRPDropped, dVRRPTrack, dVRRPRunnerDrop,
		dSvcConns, dSvcInPkts, dSvcOutPkts, dSvcInBytes, dSvcOutBytes,
		dDstConns, dDstInPkts, dDstOutPkts, dDstInBytes, dDstOutBytes, dDstActive, dDstInactive, dDstWeight,
		dVSUp, dVSHealthy, dVSQuorum, dVSSorry, dVSInKernel, dRSHealth, dRSUp, dRSConfW, dRSTrans, dRSLatency, dRSOverride,
		dReconciles, dWrites, dRecErrors, dRecDuration, dKernelUp, dReloads, dLastReload, dLastOK, dConfig, dLoaded} {
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
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	st, err := c.get(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(dConfig, err)
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
	for _, vs := range st.VirtualServers {
		l := []string{vs.Name, vs.Service}
		gauge(dVSUp, b2f(vs.Up), l...)
		gauge(dVSHealthy, float64(vs.HealthyWeight), l...)
		gauge(dVSQuorum, float64(vs.Quorum), l...)
		gauge(dVSSorry, b2f(vs.Sorry), l...)
		gauge(dVSInKernel, b2f(vs.InKernel), l...)
		serviceStats(ch, vs.Stats, l)
		for _, rs := range vs.RealServers {
			name := rs.Name
			if rs.Removed {
				name = "(removed)"
			}
			rl := []string{vs.Name, vs.Service, name, rs.Address}
			gauge(dRSHealth, 1, append(rl, rs.Health)...)
			gauge(dRSUp, b2f((rs.Health == status.Up || rs.Health == status.Unchecked) && rs.Override == nil && !rs.Removed), rl...)
			if !rs.Removed {
				gauge(dRSConfW, float64(rs.ConfiguredWeight), rl...)
			}
			if rs.Check != "" {
				counter(dRSTrans, float64(rs.CheckTransitions), rl...)
				if rs.LastProbe != nil {
					gauge(dRSLatency, rs.LastProbeSeconds, rl...)
				}
			}
			if rs.Override != nil {
				gauge(dRSOverride, 1, append(rl, rs.Override.Mode)...)
			}
			if rs.Weight >= 0 {
				destStats(ch, rs.Stats, float64(rs.Weight), rs.ActiveConns, rs.InactiveConns, rl)
			}
		}
	}
	for _, f := range st.Foreign {
		l := []string{"", f.Service}
		serviceStats(ch, f.Stats, l)
		for _, d := range f.RealServers {
			destStats(ch, d.Stats, float64(d.Weight), d.ActiveConns, d.InactiveConns, []string{"", f.Service, "", d.Address})
		}
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
}

func serviceStats(ch chan<- prometheus.Metric, s *status.Stats, l []string) {
	if s == nil {
		return
	}
	for _, x := range []struct {
		d *prometheus.Desc
		v uint64
	}{{dSvcConns, s.Conns}, {dSvcInPkts, s.InPackets}, {dSvcOutPkts, s.OutPackets}, {dSvcInBytes, s.InBytes}, {dSvcOutBytes, s.OutBytes}} {
		ch <- prometheus.MustNewConstMetric(x.d, prometheus.CounterValue, float64(x.v), l...)
	}
}

func destStats(ch chan<- prometheus.Metric, s *status.Stats, weight float64, active, inactive uint32, l []string) {
	ch <- prometheus.MustNewConstMetric(dDstWeight, prometheus.GaugeValue, weight, l...)
	ch <- prometheus.MustNewConstMetric(dDstActive, prometheus.GaugeValue, float64(active), l...)
	ch <- prometheus.MustNewConstMetric(dDstInactive, prometheus.GaugeValue, float64(inactive), l...)
	if s == nil {
		return
	}
	for _, x := range []struct {
		d *prometheus.Desc
		v uint64
	}{{dDstConns, s.Conns}, {dDstInPkts, s.InPackets}, {dDstOutPkts, s.OutPackets}, {dDstInBytes, s.InBytes}, {dDstOutBytes, s.OutBytes}} {
		ch <- prometheus.MustNewConstMetric(x.d, prometheus.CounterValue, float64(x.v), l...)
	}
}
