package metrics

import _ "embed"

// Dashboard is a Grafana dashboard of tandem's metrics (import it in
// Grafana, or fetch it from a running director's listener at
// /grafana-dashboard.json). Every query names series tandem exports:
// TestDashboard checks it against Names and promtool.
//
//go:embed dashboard.json
var Dashboard []byte
