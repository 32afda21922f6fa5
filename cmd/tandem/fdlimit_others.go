//go:build !unix

package main

import "log/slog"

func raiseFileLimit(int, *slog.Logger) {}
