package scenarios

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/ipvs"
)

// TestBenchResync measures, in the lab VM and in one sitting, a full read
// of the kernel's IPVS table of 1 000 services × 10 real servers, the read
// behind tandem's periodic resync and `tandem status`, against
// `ipvsadm -Ln >/dev/null`. Each round takes, in turn:
//
//   - ipvsadm -Ln: a process, timed from outside it, started on a thread
//     already in the namespace (no nsenter in the figure), output to
//     /dev/null;
//   - Reconciler.Dump (in-process), with the default read sockets;
//   - Reconciler.Status (in-process): the same read with the counters;
//   - Reconciler.Reconcile of the same table (in-process, 0 writes): the
//     periodic resync (dump, normalise, diff);
//   - Reconciler.Dump over one socket, one service after another
//     (ReadSockets: 1), the way every read went before.
//
// Run with TANDEM_LAB_BENCH=1 (tandem-lab bench -run 'TestBenchResync$').
func TestBenchResync(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const rounds, nsvc, ndst = 5, 1000, 10
	ctx := context.Background()
	want, _ := benchTable(nsvc, ndst)
	ns := newNS(t, "bench-resync")
	rec, err := ipvs.Open(ns.Path())
	must(t, err)
	defer rec.Close()
	seq, err := ipvs.OpenWith(ns.Path(), ipvs.Options{ReadSockets: 1})
	must(t, err)
	defer seq.Close()
	res, err := rec.Reconcile(ctx, want, nil)
	must(t, err)
	if res.Writes != nsvc*(ndst+1) {
		t.Fatalf("cold apply wrote %d, want %d", res.Writes, nsvc*(ndst+1))
	}
	if n := strings.Count(ipvsadm(t, ns, "-Ln"), "->") - 1; n != nsvc*ndst {
		t.Fatalf("the kernel has %d destinations, want %d", n, nsvc*ndst)
	}

	// checkTable fails unless t is the whole table.
	checkTable := func(what string, svcs int, dests func() int) {
		if svcs != nsvc || dests() != nsvc*ndst {
			t.Fatalf("%s read %d services, %d destinations; want %d, %d", what, svcs, dests(), nsvc, nsvc*ndst)
		}
	}
	tableDests := func(tb ipvs.Table) func() int {
		return func() (n int) {
			for _, s := range tb {
				n += len(s.Destinations)
			}
			return n
		}
	}
	var ipvsadmT, dumpT, statusT, resyncT, seqT samples
	var resyncW []int
	for r := 0; r < rounds; r++ {
		var took time.Duration
		must(t, ns.Do(func() error {
			cmd := exec.Command("/usr/sbin/ipvsadm", "-Ln") // Stdout nil: /dev/null
			start := time.Now()
			err := cmd.Run()
			took = time.Since(start)
			return err
		}))
		ipvsadmT = append(ipvsadmT, took)

		start := time.Now()
		tb, err := rec.Dump(ctx)
		dumpT = append(dumpT, time.Since(start))
		must(t, err)
		checkTable("Dump", len(tb), tableDests(tb))

		start = time.Now()
		st, err := rec.Status(ctx)
		statusT = append(statusT, time.Since(start))
		must(t, err)
		checkTable("Status", len(st), func() (n int) {
			for _, s := range st {
				n += len(s.Dests)
			}
			return n
		})

		res, err := rec.Reconcile(ctx, want, nil)
		must(t, err)
		resyncT, resyncW = append(resyncT, res.Took), append(resyncW, res.Writes)

		start = time.Now()
		tb, err = seq.Dump(ctx)
		seqT = append(seqT, time.Since(start))
		must(t, err)
		checkTable("sequential Dump", len(tb), tableDests(tb))
	}
	ratio := func(a, b samples) string {
		return fmt.Sprintf("%.2fx", float64(median(a))/float64(median(b)))
	}
	fmt.Printf("BENCH resync: full read of %d services x %d real servers, %d rounds in one sitting, in the lab VM\n", nsvc, ndst, rounds)
	fmt.Printf("BENCH ipvsadm -Ln >/dev/null (process, from outside):          %v\n", ipvsadmT)
	fmt.Printf("BENCH tandem Dump, %d sockets (in-process):                     %v\n", ipvs.DefaultReadSockets, dumpT)
	fmt.Printf("BENCH tandem Status, %d sockets, with counters (in-process):    %v\n", ipvs.DefaultReadSockets, statusT)
	fmt.Printf("BENCH tandem Reconcile, unchanged table (in-process resync):   %v  writes %v\n", resyncT, resyncW)
	fmt.Printf("BENCH tandem Dump, 1 socket, sequential (in-process):          %v\n", seqT)
	fmt.Printf("BENCH ratio (medians) Dump / ipvsadm -Ln:       %s (target <= 0.5x)\n", ratio(dumpT, ipvsadmT))
	fmt.Printf("BENCH ratio (medians) Status / ipvsadm -Ln:     %s\n", ratio(statusT, ipvsadmT))
	fmt.Printf("BENCH ratio (medians) resync / ipvsadm -Ln:     %s\n", ratio(resyncT, ipvsadmT))
	fmt.Printf("BENCH ratio (medians) 1-socket Dump / ipvsadm:  %s\n", ratio(seqT, ipvsadmT))
	for _, w := range resyncW {
		if w != 0 {
			t.Errorf("resync of an unchanged table wrote %v, want 0", resyncW)
			break
		}
	}
}

// median is the middle sample (the upper one of an even count).
func median(s samples) time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
}
