package lab

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/cavaliergopher/cpio"
)

// readAll returns every entry of the (possibly concatenated) newc archives
// in b: name → body, with symlink targets as bodies.
func readAll(t *testing.T, b []byte) map[string]string {
	t.Helper()
	got := map[string]string{}
	for len(b) > 0 {
		r := cpio.NewReader(bytes.NewReader(b))
		var n int64
		for {
			h, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r)
			got[h.Name] = string(body)
			if h.Linkname != "" {
				got[h.Name] = h.Linkname
			}
			if h.Mode.IsDir() {
				got[h.Name] = "<dir>"
			}
			n++
		}
		// Skip to the next archive: past the trailer and the zero padding.
		i := bytes.Index(b, []byte("TRAILER!!!"))
		if i < 0 {
			t.Fatal("no trailer")
		}
		b = bytes.TrimLeft(b[i+len("TRAILER!!!"):], "\x00")
		if n == 0 {
			t.Fatal("empty archive")
		}
	}
	return got
}

func TestInitramfsAppendsToBase(t *testing.T) {
	dir := t.TempDir()
	var base bytes.Buffer
	a := newArchive(&base)
	a.mkdirAll("lib/modules/x")
	a.data("lib/modules/x/a.ko", []byte("module"), 0o644)
	a.symlink("bin/sh", "/bin/busybox")
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	base.Write(make([]byte, 512-base.Len()%512))
	basePath := filepath.Join(dir, "base.cpio")
	if err := os.WriteFile(basePath, base.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "tool")
	if err := os.WriteFile(src, []byte("#!binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "initrd")
	spec := RunSpec{Argv: []string{"/tool", "-v"}, Env: []string{"A=1"}}
	if err := Initramfs(out, basePath, spec, []File{{Name: "tool", Src: src}, {Name: "etc/x/y", Data: []byte("yy")}}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b[base.Len():], []byte("070701")) {
		t.Fatalf("per-run archive does not start right after the padded base")
	}
	got := readAll(t, b)
	for name, want := range map[string]string{
		"lib/modules/x/a.ko": "module",
		"bin/sh":             "/bin/busybox",
		"tool":               "#!binary",
		"etc/x":              "<dir>",
		"etc/x/y":            "yy",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
	var rs RunSpec
	if err := json.Unmarshal([]byte(got["lab/run.json"]), &rs); err != nil || rs.Argv[0] != "/tool" || rs.Env[0] != "A=1" {
		t.Errorf("lab/run.json = %q (%v)", got["lab/run.json"], err)
	}
}

func TestTestSpec(t *testing.T) {
	s := TestSpec("")
	if s.Argv[len(s.Argv)-2] != "^TestKernel" || s.Argv[len(s.Argv)-1] != "" {
		t.Errorf("TestSpec(\"\") = %q: want ipvs's kernel tests and every scenario", s.Argv)
	}
	s = TestSpec("TestSeed")
	if s.Argv[len(s.Argv)-2] != "TestSeed" || s.Argv[len(s.Argv)-1] != "TestSeed" {
		t.Errorf("TestSpec(TestSeed) = %q", s.Argv)
	}
}

// TestResolveModules checks the module closure against the cached kernel,
// when there is one (the lab's first run downloads it).
func TestResolveModules(t *testing.T) {
	k, err := cachedKernel(CacheDir())
	if err != nil {
		t.Skip("no lab kernel in cache yet")
	}
	mods, err := k.ResolveModules([]string{"ip_vs_rr", "ipip"})
	if err != nil {
		t.Fatal(err)
	}
	pos := map[string]int{}
	for i, m := range mods {
		pos[modName(m)] = i
	}
	for _, dep := range [][2]string{{"ip_vs", "ip_vs_rr"}, {"nf_conntrack", "ip_vs"}, {"ip_tunnel", "ipip"}, {"tunnel4", "ipip"}} {
		d, ok1 := pos[dep[0]]
		m, ok2 := pos[dep[1]]
		if !ok1 || !ok2 || d > m {
			t.Errorf("%s must load before %s: order %v", dep[0], dep[1], mods)
		}
	}
}
