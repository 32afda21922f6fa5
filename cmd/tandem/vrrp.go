package main

import (
	"context"

	"github.com/tandem-lb/tandem/conf"
)

// The VRRP wiring: the node's instances (conf.Cluster.VRRP) run as
// vrrp runners, and their transitions reach the main loop through d.post.
// Until the VRRP issue lands, VIPs are the directors' static addresses
// (director.static_vips) and these hooks have nothing to start.

func (d *daemon) startVRRP(ctx context.Context, c *conf.Cluster, n *conf.Node) error {
	if len(c.VRRP) > 0 {
		d.log.Warn("vrrp instances are parsed but not run yet: this build holds no VIPs", "instances", len(c.VRRP))
	}
	return nil
}

func (d *daemon) reloadVRRP(ctx context.Context, c *conf.Cluster, n *conf.Node) {}

func (d *daemon) stopVRRP() {}
