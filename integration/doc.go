// Package integration owns tandem's real-kernel and real-peer tests.
//
// TestLab boots the lab VM (package integration/lab: Debian's cloud kernel
// under qemu TCG, with IPVS) once, runs every scenario of
// integration/scenarios inside it and reports each as a subtest. It skips
// only where qemu is not installed; .ci/run installs it, so CI never skips.
//
// Nothing imports this package.
package integration
