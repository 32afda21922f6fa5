package lab

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cavaliergopher/cpio"
)

// Busybox applets linked into /bin of the VM.
var busyboxApplets = []string{
	"sh", "ip", "nsenter", "cat", "ls", "mount", "sleep", "echo", "ps",
	"kill", "sysctl", "dmesg", "wget", "nc", "grep", "timeout", "time", "env",
}

// Witnesses are host binaries copied into the base image with their shared
// libraries, when installed: real tools that read back what tandem did, and
// bird2 (bird and its readline-free client birdcl), the BGP router of the
// BGP scenarios.
var Witnesses = []string{"/usr/sbin/ipvsadm", "/usr/sbin/nft", "/usr/sbin/keepalived", "/usr/sbin/bird", "/usr/sbin/birdcl"}

// extraWitnesses are the host binaries that TANDEM_LAB_WITNESSES names
// (comma-separated absolute paths, e.g. /usr/bin/stress-ng), for
// experiments that need more than Witnesses; they get a base archive of
// their own.
func extraWitnesses() []string {
	var ws []string
	for _, w := range strings.Split(os.Getenv("TANDEM_LAB_WITNESSES"), ",") {
		if w = strings.TrimSpace(w); w != "" {
			ws = append(ws, w)
		}
	}
	return ws
}

// RunSpec is what the VM's init runs; it is written to /lab/run.json.
type RunSpec struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
}

// File is one file of the per-run archive.
type File struct {
	Name string // path inside the VM, without a leading slash
	Src  string // host path to copy
	Data []byte // used when Src is empty
	Mode int64
}

// BaseImage returns the path of the cached base archive (busybox, kernel
// modules and their load order in /etc/lab-modules, witnesses with their
// libraries), building it if its inputs changed. The archive is padded with
// zeros to a 512-byte boundary so a per-run archive can simply follow it.
func BaseImage(cache string, k *Kernel) (string, error) {
	mods, err := k.ResolveModules(Modules)
	if err != nil {
		return "", err
	}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		return "", fmt.Errorf("lab: busybox not found (apt-get install busybox-static): %w", err)
	}
	var witnesses []string
	for _, w := range append(Witnesses, extraWitnesses()...) {
		if _, err := os.Stat(w); err == nil {
			witnesses = append(witnesses, w)
		}
	}
	h := sha256.New()
	fmt.Fprintln(h, "v3", k.Release, strings.Join(mods, ","), strings.Join(busyboxApplets, ","))
	for _, f := range append([]string{busybox}, witnesses...) {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintln(h, f, st.Size(), st.ModTime().UnixNano())
	}
	out := filepath.Join(cache, "base-"+hex.EncodeToString(h.Sum(nil))[:16]+".cpio")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}

	var buf bytes.Buffer
	w := newArchive(&buf)
	for _, d := range []string{"bin", "sbin", "usr", "usr/sbin", "usr/bin", "etc", "proc", "sys", "dev", "tmp", "run", "run/netns", "run/bird", "etc/bird", "var", "var/run", "lab", "lib", "lib64"} {
		w.dir(d)
	}
	if err := w.file("bin/busybox", busybox, 0o755); err != nil {
		return "", err
	}
	for _, a := range busyboxApplets {
		w.symlink("bin/"+a, "/bin/busybox")
	}
	modDir := "lib/modules/" + k.Release
	for _, m := range mods {
		w.mkdirAll(path.Dir(modDir + "/" + m))
		if err := w.file(modDir+"/"+m, filepath.Join(k.ModulesDir(), m), 0o644); err != nil {
			return "", err
		}
	}
	var order []string
	for _, m := range mods {
		order = append(order, "/"+modDir+"/"+m)
	}
	w.data("etc/lab-modules", []byte(strings.Join(order, "\n")+"\n"), 0o644)
	w.data("etc/passwd", []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644)
	w.data("etc/group", []byte("root:x:0:\n"), 0o644)
	w.data("etc/hosts", []byte("127.0.0.1 localhost\n::1 localhost\n"), 0o644)
	libs := map[string]bool{}
	for _, bin := range witnesses {
		if err := w.file(strings.TrimPrefix(bin, "/"), bin, 0o755); err != nil {
			return "", err
		}
		deps, err := sharedLibs(bin)
		if err != nil {
			return "", err
		}
		for _, l := range deps {
			libs[l] = true
		}
	}
	var libList []string
	for l := range libs {
		libList = append(libList, l)
	}
	sort.Strings(libList)
	for _, l := range libList {
		real, err := filepath.EvalSymlinks(l)
		if err != nil {
			return "", err
		}
		name := strings.TrimPrefix(l, "/")
		w.mkdirAll(path.Dir(name))
		if err := w.file(name, real, 0o755); err != nil {
			return "", err
		}
	}
	if err := w.close(); err != nil {
		return "", err
	}
	if pad := buf.Len() % 512; pad != 0 {
		buf.Write(make([]byte, 512-pad))
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return "", err
	}
	return out, os.Rename(tmp, out)
}

// sharedLibs lists the absolute paths ldd reports for bin, including the
// dynamic loader.
func sharedLibs(bin string) ([]string, error) {
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("lab: ldd %s: %w", bin, err)
	}
	var libs []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs, nil
}

// Initramfs writes to dst the base archive followed by a per-run archive
// holding files and /lab/run.json.
func Initramfs(dst, base string, spec RunSpec, files []File) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	in, err := os.Open(base)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	in.Close()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w := newArchive(bw)
	w.dir("lab")
	for _, f := range files {
		w.mkdirAll(path.Dir(f.Name))
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		if f.Src != "" {
			if err := w.file(f.Name, f.Src, mode); err != nil {
				return err
			}
		} else {
			w.data(f.Name, f.Data, mode)
		}
	}
	js, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	w.data("lab/run.json", js, 0o644)
	if err := w.close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return out.Close()
}

// archive wraps a cpio writer with the few entry kinds the lab needs.
type archive struct {
	w    *cpio.Writer
	dirs map[string]bool
	err  error
}

func newArchive(w io.Writer) *archive {
	return &archive{w: cpio.NewWriter(w), dirs: map[string]bool{".": true, "/": true, "": true}}
}

func (a *archive) header(h *cpio.Header, body []byte) {
	if a.err != nil {
		return
	}
	h.Size = int64(len(body))
	if a.err = a.w.WriteHeader(h); a.err != nil {
		return
	}
	if len(body) > 0 {
		_, a.err = a.w.Write(body)
	}
}

func (a *archive) dir(name string) {
	if a.dirs[name] {
		return
	}
	a.dirs[name] = true
	a.header(&cpio.Header{Name: name, Mode: cpio.TypeDir | 0o755, Links: 2}, nil)
}

func (a *archive) mkdirAll(name string) {
	if a.dirs[name] {
		return
	}
	a.mkdirAll(path.Dir(name))
	a.dir(name)
}

func (a *archive) symlink(name, target string) {
	a.header(&cpio.Header{Name: name, Mode: cpio.TypeSymlink | 0o777}, []byte(target))
}

func (a *archive) data(name string, b []byte, mode int64) {
	a.header(&cpio.Header{Name: name, Mode: cpio.TypeReg | cpio.FileMode(mode)}, b)
}

func (a *archive) file(name, src string, mode int64) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	a.data(name, b, mode)
	return a.err
}

func (a *archive) close() error {
	if a.err != nil {
		return a.err
	}
	return a.w.Close()
}
