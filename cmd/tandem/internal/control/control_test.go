package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/status"
	"github.com/tandem-lb/tandem/conf"
)

type fakeDaemon struct {
	reloadErr error
	planPath  string
}

func (f *fakeDaemon) Reload(context.Context) (*director.ReloadResult, error) {
	if f.reloadErr != nil {
		return nil, f.reloadErr
	}
	return &director.ReloadResult{Plan: &director.Plan{File: "x.hcl", Writes: 1,
		Changes: []director.Change{{Area: "ipvs", Kind: "update destination", What: "a"}}}}, nil
}

func (f *fakeDaemon) Plan(_ context.Context, path string) (*director.Plan, error) {
	f.planPath = path
	return &director.Plan{File: path}, nil
}

func (f *fakeDaemon) Status(context.Context) (*status.Status, error) {
	return &status.Status{Schema: status.Schema, Node: "d1", VirtualServers: []status.VirtualServer{{Name: "web"}}}, nil
}

func (f *fakeDaemon) DrainNode(context.Context) (*director.DrainResult, error) {
	return nil, director.ErrNoBGP
}

func (f *fakeDaemon) Maintain(_ context.Context, req director.MaintenanceRequest) (*director.MaintenanceResult, error) {
	if req.VirtualServer != "web" {
		return nil, fmt.Errorf("virtual server %q: %w", req.VirtualServer, director.ErrNotFound)
	}
	return &director.MaintenanceResult{VirtualServer: "web", RealServer: req.RealServer, Mode: req.Mode, Changed: true}, nil
}

func TestSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "tandem.sock")
	f := &fakeDaemon{}
	srv, err := Serve(path, f, Access{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	ctx := context.Background()
	c := Client{Path: path}

	res, err := c.Reload(ctx)
	if err != nil || res.Error != "" || res.Plan == nil || res.Plan.Writes != 1 || res.Plan.Changes[0].Kind != "update destination" {
		t.Fatalf("reload: %+v, %v", res, err)
	}

	// A plan's path is made absolute by the client.
	t.Chdir(dir)
	res, err = c.Plan(ctx, "new.hcl")
	if err != nil || res.Error != "" || f.planPath != filepath.Join(dir, "new.hcl") {
		t.Fatalf("plan: %+v, %v; daemon got %q", res, err, f.planPath)
	}

	// A bad file: the diagnostics come back as `tandem check` prints them.
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("node \"d\" {\n  priorty = 1\n}\n"), 0o644)
	_, files, diags := conf.Load(bad)
	f.reloadErr = &director.LoadError{Path: bad, Files: files, Diags: diags}
	res, err = c.Reload(ctx)
	if err != nil || res.Error == "" || !strings.Contains(res.Diagnostics, "bad.hcl:2:3: error") || !strings.Contains(res.Diagnostics, "2 |   priorty = 1") {
		t.Fatalf("bad file: %+v, %v", res, err)
	}
	f.reloadErr = errors.New("netlink: boom")
	if res, err = c.Reload(ctx); err != nil || res.Error != "netlink: boom" || res.Diagnostics != "" {
		t.Fatalf("failed reload: %+v, %v", res, err)
	}

	res, err = c.Status(ctx)
	if err != nil || res.Status == nil || res.Status.Node != "d1" || res.Status.VirtualServers[0].Name != "web" {
		t.Fatalf("status: %+v, %v", res, err)
	}
	var text, js strings.Builder
	if err := c.StatusTo(ctx, &text, "text", "stats"); err != nil || !strings.HasPrefix(text.String(), "node d1 ") || !strings.Contains(text.String(), "InBytes") {
		t.Fatalf("status text: %v\n%s", err, text.String())
	}
	if err := c.StatusTo(ctx, &js, "json", ""); err != nil || !strings.Contains(js.String(), "\n  \"schema\": \"tandem/status/v1\",\n") {
		t.Fatalf("status json: %v\n%s", err, js.String())
	}
	res, err = c.Maintain(ctx, director.MaintenanceRequest{VirtualServer: "web", RealServer: "rs1", Mode: director.ModeDrain})
	if err != nil || res.Maintenance == nil || !res.Maintenance.Changed || res.Maintenance.Mode != director.ModeDrain {
		t.Fatalf("maintenance: %+v, %v", res, err)
	}
	res, err = c.Maintain(ctx, director.MaintenanceRequest{VirtualServer: "nope", RealServer: "rs1", Mode: director.ModeDrain})
	if err != nil || !strings.Contains(res.Error, `virtual server "nope": not found`) {
		t.Fatalf("maintenance of an unknown server: %+v, %v", res, err)
	}

	// No daemon.
	srv.Close()
	if err := c.StatusTo(ctx, io.Discard, "text", ""); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("status without a daemon: %v", err)
	}
	if _, err := c.Reload(ctx); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no daemon: %v, want ErrNoDaemon", err)
	}
}
