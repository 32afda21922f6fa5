//go:build !linux

package director

import (
	"context"
	"log/slog"

	"github.com/tandem-lb/tandem/conf"
)

// ProbeVIPs probes nothing here.
func ProbeVIPs(context.Context, *conf.Cluster, *slog.Logger) error { return nil }
