package scenarios

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCrashAdopt: a DR pair with conn_sync and health checks, three
// long-lived client connections through the master d1. d1's tandem is
// killed (SIGKILL: the box stays up, so its VIP and its IPVS table stay in
// its kernel); d2 takes over within VRRP's bound and the connections go on
// through it. d1's tandem is started again: it removes the VIP the killed
// run left before it acts as backup, adopts the IPVS table the kernel
// kept with 0 writes (its start reconcile, its metrics' write counter and
// ipvsadm -Sn before and after), and after its preempt delay takes the
// VIP back; the connections survive that move too. Each connection's
// longest silence around each move is reported.
func TestCrashAdopt(t *testing.T) {
	vmOnly(t)
	const (
		nconn    = 3
		interval = 100 * time.Millisecond
	)
	l := newPairLab(t, "crash", pairOpts{advert: "100ms", preempt: true, preemptDelay: "3s", prio: [2]int{150, 100}, check: "1s"})
	p1 := l.start(0)
	p1.waitLog(`vrrp transition.*instance=public.*to=MASTER`, 0, 10*time.Second)
	p2 := l.start(1)
	p2.waitLog(`vrrp transition.*instance=public.*to=BACKUP`, 0, 10*time.Second)
	p1.waitLog(`ipvs sync daemon.*started master on \S+ syncid 7`, 0, 5*time.Second)
	p2.waitLog(`ipvs sync daemon.*started backup on \S+ syncid 7`, 0, 5*time.Second)
	// The checks put both real servers in (each on its first success).
	waitIPVS(t, l.d[0], `10\.0\.0\.11:9000 Route 1 .*10\.0\.0\.12:9000 Route 1 `, 15*time.Second, "-Ln")

	var conns []*echoConn
	for range nconn {
		conns = append(conns, dialEcho(t, l.client, syncVIP+":9000", interval))
	}
	for i, c := range conns {
		if !c.waitMore(0, 5, 10*time.Second) {
			_, _, err := c.status()
			t.Fatalf("connection %d does not work before the crash: %s", i, err)
		}
	}
	// The master's sync daemon flushes at least every 2 s: wait until the
	// backup holds every connection.
	waitIPVS(t, l.d[1], fmt.Sprintf(`(ESTABLISHED 10\.0\.0\.2:\d+ 10\.0\.0\.100:9000 .*){%d}`, nconn), 8*time.Second, "-Lnc")
	tableBefore := ipvsSave(l.d[0])

	type count struct{ answers, bytes int }
	counts := func() []count {
		var out []count
		for _, c := range conns {
			n, b, _ := c.status()
			out = append(out, count{n, b})
		}
		return out
	}
	atKill := counts()
	killAt := time.Now()
	must(t, l.kill(0, syscall.SIGKILL))
	tookOver, err := l.waitState(1, "MASTER", 10*time.Second)
	must(t, err)
	takeover := tookOver.Sub(killAt)
	// Master_Down_Interval = 3 × 100 ms + skew (100 ms × (256-100)/256):
	// 361 ms; the bound asserted is generous (the VM is slow), the
	// measured time is reported.
	if takeover > 5*time.Second {
		t.Errorf("d2 took over %v after the kill; VRRP's bound is 361 ms", takeover)
	}
	leftover := l.hasVIP(0)
	say(t, "d1's tandem killed (SIGKILL): d2 MASTER after %v; the VIP left on d1's eth0: %v", takeover.Round(time.Millisecond), leftover)
	for i, c := range conns {
		if !c.waitMore(atKill[i].answers, 20, 15*time.Second) {
			_, _, err := c.status()
			t.Fatalf("connection %d did not survive the takeover by d2: %s", i, err)
		}
	}
	afterTakeover := counts()
	var gaps1 []time.Duration
	for _, c := range conns {
		gaps1 = append(gaps1, c.gapAround(killAt, time.Now()))
	}

	// d1 comes back.
	restartAt := time.Now()
	p1b := l.start(0)
	_, at := p1b.waitLog(`vrrp transition.*instance=public.*from=INIT to=BACKUP`, 0, 15*time.Second)
	backupAt := time.Now()
	var vipGone time.Time
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !l.hasVIP(0) {
			vipGone = time.Now()
			break
		}
	}
	if vipGone.IsZero() {
		t.Fatalf("d1 restarted as BACKUP still holds the VIP its killed run left: %v", addrsOf(l.d[0], "eth0"))
	}
	// Still backup (the preempt delay is 3 s): it removed the VIP before
	// acting as one.
	if st := l.state(0); st != "BACKUP" {
		t.Errorf("d1 is %q when its leftover VIP is found gone, want BACKUP", st)
	}
	if l.hasVIP(0) {
		t.Errorf("the VIP came back on d1 while it is backup")
	}
	w, _ := p1b.reconciled(0)
	tableAfter := ipvsSave(l.d[0])
	body, err := scrape(l.d[0])
	must(t, err)
	mw := metricValue(body, "tandem_ipvs_reconcile_writes_total")
	say(t, "d1 restarted: BACKUP %v after its start, leftover VIP gone %v after that; start reconcile writes=%d, tandem_ipvs_reconcile_writes_total %v",
		backupAt.Sub(restartAt).Round(time.Millisecond), vipGone.Sub(backupAt).Round(time.Millisecond), w, mw)
	if w != 0 || mw != 0 {
		t.Errorf("d1's restart wrote to IPVS (start reconcile %d writes, metrics %v): the kernel's table was not adopted", w, mw)
	}
	if tableAfter != tableBefore {
		t.Errorf("ipvsadm -Sn changed across the crash and restart:\nbefore\n%s\nafter\n%s", tableBefore, tableAfter)
	}

	// Preempt: d1 takes back after its delay.
	p1b.waitLog(`vrrp transition.*instance=public.*to=MASTER`, at, 15*time.Second)
	backAt := time.Now()
	if _, err := l.waitState(1, "BACKUP", 5*time.Second); err != nil {
		t.Error(err)
	}
	for i, c := range conns {
		if !c.waitMore(afterTakeover[i].answers, 20, 15*time.Second) {
			_, _, err := c.status()
			t.Fatalf("connection %d did not survive d1 taking back: %s", i, err)
		}
	}
	// In a starved VM d2 may still take a false turn as master when d1's
	// adverts run late; d1 (higher priority) ends it at its next advert:
	// d2 must not keep the VIP.
	for end := time.Now().Add(3 * time.Second); l.hasVIP(1); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Errorf("d2 still holds the VIP 3 s after d1 took back")
			break
		}
	}
	var gaps2 []time.Duration
	for _, c := range conns {
		gaps2 = append(gaps2, c.gapAround(backAt.Add(-time.Second), time.Now()))
	}
	atEnd := counts()
	body, err = scrape(l.d[0])
	must(t, err)
	mw2 := metricValue(body, "tandem_ipvs_reconcile_writes_total")
	if !strings.Contains(ipvsadm(t, l.d[0], "-Lnc"), "10.0.0.2:") {
		t.Errorf("d1 holds no entry of the client's connections after taking back")
	}
	for i, c := range conns {
		c.finish()
		n, b, err := c.status()
		if err != "" {
			t.Errorf("connection %d: %s", i, err)
		}
		say(t, "connection %d (%s): answers/bytes before the kill %d/%d, after d2 took over %d/%d, after d1 took back %d/%d (total %d/%d); longest silence: kill->d2 %v, d2->d1 %v",
			i, c.server, atKill[i].answers, atKill[i].bytes, afterTakeover[i].answers-atKill[i].answers, afterTakeover[i].bytes-atKill[i].bytes,
			atEnd[i].answers-afterTakeover[i].answers, atEnd[i].bytes-afterTakeover[i].bytes, n, b,
			gaps1[i].Round(time.Millisecond), gaps2[i].Round(time.Millisecond))
	}
	fmt.Printf("CRASH takeover after SIGKILL %v; d1 restart -> BACKUP %v; leftover VIP removed %v after BACKUP; adopt writes %d (metrics %v, %v after taking back); ipvsadm -Sn unchanged %v; gaps kill %v, take-back %v\n",
		takeover.Round(time.Millisecond), backupAt.Sub(restartAt).Round(time.Millisecond), vipGone.Sub(backupAt).Round(time.Millisecond),
		w, mw, mw2, tableAfter == tableBefore, gaps1, gaps2)
}
