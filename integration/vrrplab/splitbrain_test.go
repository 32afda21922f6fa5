package vrrplab

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// TestAuthMismatchSplitBrain: two directors whose VRRPv2 passwords differ
// refuse each other's adverts and both become master with the VIP. Each
// says so at Warn, naming the instance, the VRID, the peer and the reason;
// each transition is one log line with its reason; the VIP and the GARP
// burst are logged at Info. (The split brain itself is the configuration's
// fault: the test only checks that it is not silent.)
func TestAuthMismatchSplitBrain(t *testing.T) {
	l := lab(t, "tvl-split")
	cfg := func(pass string) string {
		return WriteConfig(t, `
node "d1" { priority = 150 }
node "d2" { priority = 100 }

vrrp "public" {
  vrid            = 51
  interface       = "eth0"
  addresses       = ["10.77.0.10/24"]
  version         = 2
  advert_interval = "1s"
  auth_pass       = "`+pass+`"
}
`)
	}
	p1 := l.Start(l.Director("d1"), cfg("s3cret"))
	p2 := l.Start(l.Director("d2"), cfg("other"))
	waitState(p1, "public", "MASTER", 0)
	waitState(p2, "public", "MASTER", 0)
	const warn = `level=WARN msg="vrrp: another router sends adverts for this VRID that we reject: possible split brain".* instance=public vrid=51 from=%s reason="auth mismatch"`
	p1.WaitLog(fmt.Sprintf(warn, `10\.77\.0\.2`), 0, 5*time.Second)
	p2.WaitLog(fmt.Sprintf(warn, `10\.77\.0\.1`), 0, 5*time.Second)

	for _, p := range []*Proc{p1, p2} {
		log := p.Log()
		for re, want := range map[string]int{
			`msg="vrrp transition"`: 2,
			`level=INFO msg="vrrp transition" instance=public from=INIT to=BACKUP priority=\d+ reason=startup`:                                          1,
			`level=INFO msg="vrrp transition" instance=public from=BACKUP to=MASTER priority=\d+ reason="advert timeout \(master down timer expired\)"`: 1,
			`level=INFO msg="vrrp vip added".* instance=public address=10\.77\.0\.10/24 interface=eth0`:                                                 1,
			`level=INFO msg="vrrp announce burst".* instance=public interface=eth0 kind="gratuitous ARP" addresses=1 count=5 .*packets=10`:              1,
		} {
			if got := len(regexp.MustCompile(re).FindAllString(log, -1)); got != want {
				t.Errorf("%s: %d lines match %s, want %d", p.Name, got, re, want)
			}
		}
	}
}
