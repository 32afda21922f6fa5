package main

import (
	"context"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// The health-check wiring: each real server's check runs in package
// healthcheck, and its verdicts reach the main loop through d.post, which
// recomputes the desired table and applies the difference with
// Reconciler.Update. Until the health-check issue lands, every configured
// real server is in the table.

func (d *daemon) startHealth(ctx context.Context, c *conf.Cluster) error { return nil }

func (d *daemon) reloadHealth(ctx context.Context, c *conf.Cluster) {}

func (d *daemon) stopHealth() {}

// desired is the IPVS table the daemon wants for c, given what it knows.
func (d *daemon) desired(c *conf.Cluster) ipvs.Table { return desiredTable(c) }
