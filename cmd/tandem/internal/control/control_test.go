package control

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
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

func TestSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run", "tandem.sock")
	f := &fakeDaemon{}
	srv, err := Serve(path, f)
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

	// No daemon.
	srv.Close()
	if _, err := c.Reload(ctx); !errors.Is(err, ErrNoDaemon) {
		t.Errorf("no daemon: %v, want ErrNoDaemon", err)
	}
}
