package conf

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

const scriptsFile = `
scripts {
  user  = "tandem-script"
  group = "tandem"
}
node "a" {}
track_script "chk" {
  command = ["/etc/tandem/chk", "x"]
}
vrrp "v" {
  vrid          = 1
  interface     = "eth0"
  addresses     = ["192.0.2.10/24"]
  track_scripts = ["chk"]
  notify        = ["/usr/local/bin/notify"]
}
virtual_server "web" {
  address = "192.0.2.10:80"
  check "command" { command = ["/bin/sh", "-c", "exit 0"] }
  real_server "a" { address = "192.0.2.11" }
  real_server "b" {
    address = "192.0.2.12"
    check "command" { command = ["/srv/check"] }
  }
}
`

// TestScriptsBlock: the block's values and defaults, and every program
// the file runs with the place its command is written.
func TestScriptsBlock(t *testing.T) {
	c := mustParse(t, scriptsFile)
	if s := c.Scripts; s.User != "tandem-script" || s.Group != "tandem" || s.Insecure || s.UserPos != "test.hcl:3:11" {
		t.Errorf("scripts %+v", s)
	}
	var got []string
	for _, u := range c.ScriptUses() {
		got = append(got, u.Pos+" "+u.Use+" "+strings.Join(u.Argv, " "))
	}
	want := []string{
		`test.hcl:8:13 track_script "chk" /etc/tandem/chk x`,
		`test.hcl:15:19 vrrp "v" notify /usr/local/bin/notify`,
		`test.hcl:19:31 virtual_server "web" check /bin/sh -c exit 0`,
		`test.hcl:23:33 virtual_server "web" real_server "b" check /srv/check`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("uses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if c := mustParse(t, `node "a" {}`); c.Scripts != (Scripts{}) {
		t.Errorf("default %+v", c.Scripts)
	}
	if c := mustParse(t, "scripts { security = false }\nnode \"a\" {}"); !c.Scripts.Insecure {
		t.Errorf("security = false: %+v", c.Scripts)
	}
	for src, want := range map[string]string{
		`scripts { group = "x" }`:                    "group without user",
		`scripts { user = "a:b" }`:                   "Invalid user",
		`scripts { user = "" }`:                      "Invalid user",
		"scripts {\n user = \"u\"\n group = \"\"\n}": "Invalid group",
		`scripts { shell = "/bin/sh" }`:              "Unsupported argument",
		`scripts { security = "yes" }`:               "security",
	} {
		_, diags := Parse([]byte(src+"\nnode \"a\" {}\n"), "s.hcl")
		if !diags.HasErrors() || !strings.Contains(fmtDiags(diags), want) || !strings.Contains(fmtDiags(diags), "s.hcl:") {
			t.Errorf("%s: %s", src, fmtDiags(diags))
		}
	}
}

// fakeFS is a file system of FileOwners; links map a path to its target.
type fakeFS struct {
	files map[string]FileOwner
	links map[string]string
}

func (f fakeFS) sys() ScriptFS {
	return ScriptFS{
		Stat: func(p string) (FileOwner, error) {
			if t, ok := f.links[p]; ok {
				p = t
			}
			if fi, ok := f.files[p]; ok {
				return fi, nil
			}
			return FileOwner{}, fs.ErrNotExist
		},
		EvalSymlinks: func(p string) (string, error) {
			if t, ok := f.links[p]; ok {
				return t, nil
			}
			return p, nil
		},
	}
}

// TestCheckScripts: a program that another user could replace (the
// file or a directory above it writable by group or others, or owned by
// someone else; through a symbolic link too) is refused with its place
// in the file, the offending path and its mode; a missing or
// non-executable one always; security = false lets the unsafe ones run.
func TestCheckScripts(t *testing.T) {
	dir := FileOwner{Mode: fs.ModeDir | 0o755}
	exe := FileOwner{Mode: 0o755}
	base := func() fakeFS {
		return fakeFS{files: map[string]FileOwner{
			"/": dir, "/etc": dir, "/etc/tandem": dir, "/etc/tandem/chk": exe,
			"/usr": dir, "/usr/local": dir, "/usr/local/bin": dir, "/usr/local/bin/notify": exe,
			"/bin": dir, "/bin/sh": exe, "/srv": dir, "/srv/check": exe,
			"/tmp": {Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		}, links: map[string]string{}}
	}
	c := mustParse(t, strings.Replace(scriptsFile, "/srv/check", "/etc/tandem/chk", 1))
	if errs := c.CheckScripts(990, base().sys()); len(errs) != 0 {
		t.Fatalf("safe: %v", errs)
	}
	for _, tt := range []struct {
		name string
		edit func(f fakeFS)
		want string
	}{
		{"world-writable file", func(f fakeFS) { f.files["/etc/tandem/chk"] = FileOwner{Mode: 0o757} },
			`test.hcl:8:13: track_script "chk": program /etc/tandem/chk is not safe to run: file /etc/tandem/chk is writable by others (mode -rwxr-xrwx)`},
		{"group-writable directory", func(f fakeFS) { f.files["/etc/tandem"] = FileOwner{GID: 50, Mode: fs.ModeDir | 0o775} },
			`track_script "chk": program /etc/tandem/chk is not safe to run: directory /etc/tandem is writable by group 50 (mode drwxrwxr-x)`},
		{"directory of another user", func(f fakeFS) { f.files["/usr/local/bin"] = FileOwner{UID: 1000, Mode: fs.ModeDir | 0o755} },
			`test.hcl:15:19: vrrp "v" notify: program /usr/local/bin/notify is not safe to run: directory /usr/local/bin is owned by uid 1000 (mode drwxr-xr-x), not by root or the scripts' user`},
		{"link into /tmp", func(f fakeFS) {
			f.links["/etc/tandem/chk"] = "/tmp/x/chk"
			f.files["/tmp/x"] = FileOwner{UID: 1000, Mode: fs.ModeDir | 0o755}
			f.files["/tmp/x/chk"] = FileOwner{UID: 1000, Mode: 0o755}
		}, `program /etc/tandem/chk (it resolves to /tmp/x/chk) is not safe to run: file /tmp/x/chk is owned by uid 1000`},
		{"missing", func(f fakeFS) { delete(f.files, "/usr/local/bin/notify") },
			`test.hcl:15:19: vrrp "v" notify: program /usr/local/bin/notify does not exist`},
		{"not executable", func(f fakeFS) { f.files["/bin/sh"] = FileOwner{Mode: 0o644} },
			`test.hcl:19:31: virtual_server "web" check: program /bin/sh is not an executable file (mode -rw-r--r--)`},
		{"a directory", func(f fakeFS) { f.files["/bin/sh"] = dir },
			`program /bin/sh is not an executable file (mode drwxr-xr-x)`},
	} {
		f := base()
		tt.edit(f)
		errs := c.CheckScripts(990, f.sys())
		if len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), tt.want) {
			t.Errorf("%s: %v\nwant %s", tt.name, errs, tt.want)
		}
	}
	// The scripts' own user may own them; a sticky /tmp with a safe
	// directory below is safe; root's group may write.
	f := base()
	f.files["/etc/tandem/chk"] = FileOwner{UID: 990, Mode: 0o755}
	f.files["/etc/tandem"] = FileOwner{GID: 0, Mode: fs.ModeDir | 0o775}
	f.links["/bin/sh"] = "/tmp/safe/sh"
	f.files["/tmp/safe"] = dir
	f.files["/tmp/safe/sh"] = exe
	if errs := c.CheckScripts(990, f.sys()); len(errs) != 0 {
		t.Errorf("safe variants: %v", errs)
	}
	// security = false: unsafe runs, missing does not.
	ci := mustParse(t, strings.Replace(scriptsFile, `group = "tandem"`, "group = \"tandem\"\n  security = false", 1))
	f = base()
	f.files["/etc/tandem/chk"] = FileOwner{UID: 1000, Mode: 0o777}
	delete(f.files, "/srv/check")
	errs := ci.CheckScripts(990, f.sys())
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `real_server "b" check: program /srv/check does not exist`) {
		t.Errorf("security = false: %v", errs)
	}
}
