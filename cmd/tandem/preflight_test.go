package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/ipvs"
)

// TestCheckIPVS: a kernel without IPVS is reported, with the file's
// first virtual server and its place, unless --no-ipvs; other errors are
// left to the start.
func TestCheckIPVS(t *testing.T) {
	c, diags := conf.Parse([]byte(readmeExample(t)), "cluster.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	missing := func() error { return fmt.Errorf("%w: no netlink family IPVS", ipvs.ErrUnavailable) }
	err := checkIPVS(c, false, missing)
	if err == nil || !strings.Contains(err.Error(), `IPVS is not available in this kernel`) ||
		!strings.Contains(err.Error(), `the first virtual_server "web" at cluster.hcl:`) || !strings.Contains(err.Error(), "modprobe ip_vs") {
		t.Errorf("missing: %v", err)
	}
	if err := checkIPVS(c, true, missing); err != nil {
		t.Errorf("--no-ipvs: %v", err)
	}
	if err := checkIPVS(c, false, func() error { return errors.New("EPERM") }); err != nil {
		t.Errorf("another error: %v", err)
	}
	if err := checkIPVS(&conf.Cluster{}, false, missing); err == nil || !strings.Contains(err.Error(), "tandem run programs the IPVS table") {
		t.Errorf("no virtual server: %v", err)
	}
}

// TestCheckPrivilegesScripts: a scripts user needs CAP_SETUID and
// CAP_SETGID besides the network capabilities.
func TestCheckPrivilegesScripts(t *testing.T) {
	c, diags := conf.Parse([]byte("scripts { user = \"nobody\" }\n"+readmeExample(t)), "cluster.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	caps := func(v uint64) func() (uint64, error) { return func() (uint64, error) { return v, nil } }
	err := checkPrivileges(c, true, caps(1<<capNetAdmin|1<<capNetRaw))
	if err == nil || !strings.Contains(err.Error(), "the capabilities CAP_SETUID and CAP_SETGID (it adds VIPs, sends VRRP on raw sockets and programs IPVS, and runs the scripts as the scripts block's user)") {
		t.Errorf("network caps only: %v", err)
	}
	if err := checkPrivileges(c, true, caps(0)); err == nil || !strings.Contains(err.Error(), "CAP_NET_ADMIN, CAP_NET_RAW, CAP_SETUID and CAP_SETGID") {
		t.Errorf("none: %v", err)
	}
	if err := checkPrivileges(c, true, caps(1<<capNetAdmin|1<<capNetRaw|1<<capSetuid|1<<capSetgid)); err != nil {
		t.Errorf("all: %v", err)
	}
}
