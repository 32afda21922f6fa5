// Package deb tests tandem's Debian package (scripts/deb, sources in
// cmd/tandem/dist) the way an operator meets it.
//
// TestInstall builds the .deb (or takes $TANDEM_DEB), installs it with dpkg
// into a clean Debian root (debootstrap --variant=minbase bookworm, cached
// for the day beside the lab's kernel, lab.CacheDir), and from the installed
// files runs tandem version and tandem check on the example cluster file. It
// needs root, debootstrap and the network to a Debian mirror
// ($TANDEM_DEB_MIRROR) once a day; it skips only under -short or when not
// run as root. With lintian installed it also runs lintian on the package.
//
// Nothing imports this package.
package deb
