//go:build !linux

package main

const runDir = "/run/tandem"

// lockNode is a no-op outside Linux, where tandem run cannot run.
func lockNode(string) (func(), error) { return func() {}, nil }

func defaultSocket() string { return runDir + "/tandem.sock" }
