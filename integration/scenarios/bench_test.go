package scenarios

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandem-lb/tandem/ipvs"
)

// benchTable is 1 000 TCP services × 10 NAT real servers.
func benchTable(nsvc, ndst int) (ipvs.Table, string) {
	t := ipvs.Table{}
	var rules strings.Builder
	for i := 0; i < nsvc; i++ {
		vip := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)})
		s := ipvs.Service{Key: ipvs.VirtualService(ipvs.TCP, netip.AddrPortFrom(vip, 80)), Scheduler: "wrr"}
		fmt.Fprintf(&rules, "-A -t %s:80 -s wrr\n", vip)
		for j := 0; j < ndst; j++ {
			rs := netip.AddrFrom4([4]byte{192, 168, byte(i % 200), byte(j + 1)})
			s.Destinations = append(s.Destinations, ipvs.Destination{Addr: rs, Port: 8080, Forward: ipvs.Masq, Weight: 1})
			fmt.Fprintf(&rules, "-a -t %s:80 -r %s:8080 -m -w 1\n", vip, rs)
		}
		t[s.Key] = s
	}
	return t, rules.String()
}

type samples []time.Duration

func (s samples) String() string {
	c := slices.Clone(s)
	slices.Sort(c)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	return fmt.Sprintf("min %s / median %s / max %s", ms(c[0]), ms(c[len(c)/2]), ms(c[len(c)-1]))
}

// TestBenchApply measures a cold apply of 1 000 services × 10 real servers
// by tandem's reconciler against `ipvsadm -R` of the same rules, each into
// a fresh namespace, then tandem's second reconcile and one changed real
// server. Run with TANDEM_LAB_BENCH=1 (tandem-lab bench).
func TestBenchApply(t *testing.T) {
	vmOnly(t)
	if os.Getenv("TANDEM_LAB_BENCH") != "1" {
		t.Skip("benchmark: run with tandem-lab bench")
	}
	const runs = 5
	want, rules := benchTable(1000, 10)
	rulesFile := filepath.Join(t.TempDir(), "rules")
	must(t, os.WriteFile(rulesFile, []byte(rules), 0o644))
	ctx := context.Background()
	var ipvsadmT, coldT, secondT, oneT, updT samples
	var coldW, secondW, oneW, updW []int
	for r := 0; r < runs; r++ {
		ns := newNS(t, fmt.Sprintf("bench-ipvsadm-%d", r))
		in, err := os.Open(rulesFile)
		must(t, err)
		cmd := ns.Command(ctx, "/usr/sbin/ipvsadm", "-R")
		cmd.Stdin = in
		start := time.Now()
		out, err := cmd.CombinedOutput()
		ipvsadmT = append(ipvsadmT, time.Since(start))
		in.Close()
		if err != nil {
			t.Fatalf("ipvsadm -R: %v: %s", err, out)
		}
		n := strings.Count(ipvsadm(t, ns, "-Ln"), "->") - 1
		if n != 10000 {
			t.Fatalf("ipvsadm -R left %d destinations, want 10000", n)
		}
		ns.Close()

		ns2 := newNS(t, fmt.Sprintf("bench-tandem-%d", r))
		rec, err := ipvs.Open(ns2.Path())
		must(t, err)
		res, err := rec.Reconcile(ctx, want, nil)
		must(t, err)
		coldT, coldW = append(coldT, res.Took), append(coldW, res.Writes)
		res, err = rec.Reconcile(ctx, want, nil)
		must(t, err)
		secondT, secondW = append(secondT, res.Took), append(secondW, res.Writes)
		changed := want.Clone()
		k := changed.Keys()[r*7]
		s := changed[k]
		s.Destinations[3].Weight = 5
		changed[k] = s
		res, err = rec.Reconcile(ctx, changed, nil)
		must(t, err)
		oneT, oneW = append(oneT, res.Took), append(oneW, res.Writes)
		// The health-verdict path: Update diffs against the table it
		// already knows, without the dump.
		s.Destinations[3].Weight = 0
		changed[k] = s
		start = time.Now()
		res, err = rec.Update(ctx, []ipvs.Service{s}, nil)
		must(t, err)
		updT, updW = append(updT, time.Since(start)), append(updW, res.Writes)
		rec.Close()
		n = strings.Count(ipvsadm(t, ns2, "-Ln"), "->") - 1
		if n != 10000 {
			t.Fatalf("tandem left %d destinations, want 10000", n)
		}
		ns2.Close()
	}
	fmt.Printf("BENCH apply 1000 services x 10 real servers (11000 rules), %d runs, in the lab VM\n", runs)
	fmt.Printf("BENCH ipvsadm -R cold:            %v\n", ipvsadmT)
	fmt.Printf("BENCH tandem cold apply:          %v  writes %v\n", coldT, coldW)
	fmt.Printf("BENCH tandem second reconcile:    %v  writes %v\n", secondT, secondW)
	fmt.Printf("BENCH tandem one changed weight:  %v  writes %v\n", oneT, oneW)
	fmt.Printf("BENCH tandem Update, one weight:  %v  writes %v (no dump: the health-verdict path)\n", updT, updW)
	for i := range coldW {
		if coldW[i] != 11000 || secondW[i] != 0 || oneW[i] != 1 || updW[i] != 1 {
			t.Errorf("writes: cold %v, second %v, one change %v, update %v; want 11000, 0, 1, 1", coldW, secondW, oneW, updW)
			break
		}
	}
}
