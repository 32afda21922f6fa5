// Package healthcheck owns the probing of real servers (TCP connect, HTTP,
// HTTPS, commands), their scheduling with jitter, and rise/fall counting that
// turns probe results into edge-only verdicts (up, down).
//
// It is a placeholder in this release: cmd/tandem's main loop already merges
// verdicts into the desired IPVS table (ipvs.Table); the checkers land with
// the health-check issue. Checkers never touch IPVS. It must not import ipvs,
// vrrp or conf.
package healthcheck
