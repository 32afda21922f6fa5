//go:build !unix

package director

import "log/slog"

func raiseFileLimit(int, *slog.Logger) {}
