module github.com/tandem-lb/tandem

go 1.26.8

require (
	github.com/cavaliergopher/cpio v1.0.1
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/sys v0.50.0
)

require github.com/vishvananda/netns v0.0.5 // indirect
