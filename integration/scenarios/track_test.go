package scenarios

import (
	"bufio"
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestQuorumTracking: a director whose checks find its virtual server's
// real servers down (here: its own path to them is cut) lowers its VRRP
// priority by the tracked weight and the other director, whose checks
// pass, takes the VIP; when the path comes back the first takes it back.
func TestQuorumTracking(t *testing.T) {
	vmOnly(t)
	l := newSyncLab(t, "qt", "dr", false)
	cfg := strings.Replace(syncConfig("dr", false), `  advert_interval = "300ms"
}`, `  advert_interval = "300ms"
  track_virtual_servers = { echo = -60 }
}`, 1)
	cfg = strings.Replace(cfg, `  forward   = "dr"
`, `  forward   = "dr"
  quorum    = 1
  check "tcp" {
    interval = "200ms"
    timeout  = "100ms"
    rise     = 1
    fall     = 1
  }
`, 1)
	l.cfg = writeConfig(t, cfg)

	p1 := startTandem(t, l.d[0], "run", "-c", l.cfg, "--node", "d1")
	p1.waitLog(`virtual server up: quorum reached`, 0, 10*time.Second)
	p1.waitTransition("public", "MASTER", 0, 10*time.Second)
	p2 := startTandem(t, l.d[1], "run", "-c", l.cfg, "--node", "d2")
	p2.waitLog(`virtual server up: quorum reached`, 0, 10*time.Second)
	at2 := p2.waitTransition("public", "BACKUP", 0, 10*time.Second)
	say(t, "d1 (150) is master, d2 (100) backup; both see the real servers")
	if got := echoFrom(t, l); got == "" {
		t.Fatal("the VIP does not answer before the cut")
	}

	// Cut d1 off its real servers: its checks fail, its priority drops
	// to 90, below d2's 100, and d2 preempts.
	nft := func(args ...string) {
		t.Helper()
		out, err := l.d[0].Command(context.Background(), append([]string{"/usr/sbin/nft"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("nft %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	nft("add", "table", "ip", "cut")
	nft("add", "chain", "ip", "cut", "out", "{ type filter hook output priority 0; }")
	nft("add", "rule", "ip", "cut", "out", "ip", "daddr", "{ 10.0.0.11, 10.0.0.12 }", "drop")
	_, at1 := p1.waitLog(`virtual server up: quorum reached`, 0, time.Second)
	_, at1 = p1.waitLog(`virtual server down: quorum lost`, at1, 5*time.Second)
	_, at1 = p1.waitLog(`vrrp priority.*priority=90`, at1, 5*time.Second)
	at2 = p2.waitTransition("public", "MASTER", at2, 5*time.Second)
	say(t, "d1's checks fail: its priority drops to 90 and d2 takes the VIP")
	if got := echoFrom(t, l); got == "" {
		t.Error("the VIP does not answer after d2 took over")
	}

	// A reload that only changes the weight applies it at once (it used
	// to wait for the next change of a check's verdict): 150-30 = 120,
	// above d2's 100, so d1 preempts although its checks still fail.
	must(t, os.WriteFile(l.cfg, []byte(strings.Replace(cfg, "echo = -60", "echo = -30", 1)), 0o644))
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	_, at1 = p1.waitLog(`vrrp priority.*priority=120`, at1, 5*time.Second)
	at2 = p2.waitTransition("public", "BACKUP", at2, 5*time.Second)
	at1 = p1.waitTransition("public", "MASTER", at1, 5*time.Second)
	say(t, "a reload lowering d1's tracked weight to -30 applies at once: 120, d1 takes the VIP back")
	// And back to -60: 90 again, d2 takes over.
	must(t, os.WriteFile(l.cfg, []byte(cfg), 0o644))
	must(t, p1.cmd.Process.Signal(syscall.SIGHUP))
	_, at1 = p1.waitLog(`vrrp priority.*priority=90`, at1, 5*time.Second)
	at2 = p2.waitTransition("public", "MASTER", at2, 5*time.Second)

	// Heal: d1's checks pass, its priority is 150 again and it preempts.
	nft("delete", "table", "ip", "cut")
	p1.waitLog(`vrrp priority.*priority=150`, at1, 5*time.Second)
	p2.waitTransition("public", "BACKUP", at2, 5*time.Second)
	say(t, "d1's checks pass again: it takes the VIP back")
	if got := echoFrom(t, l); got == "" {
		t.Error("the VIP does not answer after d1 took it back")
	}
	must(t, p2.stop())
	must(t, p1.stop())
}

// echoFrom sends one line to the VIP's echo service from the client and
// returns the answer ("" on failure).
func echoFrom(t *testing.T, l *syncLab) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := l.client.DialContext(ctx, "tcp", syncVIP+":9000")
	if err != nil {
		t.Logf("dial %s: %v", syncVIP, err)
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return ""
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Logf("read: %v", err)
	}
	return strings.TrimSpace(line)
}
