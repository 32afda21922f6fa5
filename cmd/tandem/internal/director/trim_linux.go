package director

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dropExecutablePages unmaps tandem's own code and read-only data from
// its page tables (madvise MADV_DONTNEED on the executable's read-only
// private mappings), so that its resident set holds only the pages it
// touches from then on. Starting up runs the init code of every package
// linked in, spread over the whole binary, and the kernel maps the file
// around each fault (64 KB, or a whole large folio): after start the
// whole text and most read-only data of the binary are resident though
// most of it never runs again, counted in RSS and in the OOM killer's
// score. The pages stay in the page cache; those still used come back by
// minor faults.
//
// Only mappings that hold no private page are advised: a writable one
// would lose its data, and so would a read-only one that was written
// before it was made read-only (the dynamic loader's relocations, RELRO:
// dropped, they would read as the file's unrelocated bytes). A locked
// process (--lock-memory) is left as it is: madvise refuses locked
// pages, and locking asked for them resident. It returns the bytes of
// the mappings advised.
func dropExecutablePages() (int64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, err
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var total int64
	var start, end uint64 // the mapping in hand, if ours and read-only
	var clean bool        // it holds no private (anonymous) page
	flush := func() error {
		if end > start && clean {
			if _, _, e := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED); e != 0 {
				return e
			}
			total += int64(end - start)
		}
		start, end = 0, 0
		return nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Anonymous:"); ok {
			clean = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")) == "0"
			continue
		}
		// A mapping's header: start-end perms offset dev inode path.
		fields := strings.Fields(line)
		if len(fields) < 5 || !strings.Contains(fields[0], "-") || strings.HasSuffix(fields[0], ":") {
			continue
		}
		if err := flush(); err != nil {
			return total, err
		}
		clean = false
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe {
			continue
		}
		if perms := fields[1]; perms != "r-xp" && perms != "r--p" {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		s, err1 := strconv.ParseUint(lo, 16, 64)
		e, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 == nil && err2 == nil {
			start, end = s, e
		}
	}
	if err := sc.Err(); err != nil {
		return total, err
	}
	return total, flush()
}
