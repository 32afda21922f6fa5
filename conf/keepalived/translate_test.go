package keepalived

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf/importer"
)

const vi = `
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    priority 150
    virtual_ipaddress {
        192.0.2.10/24
    }
}
`

// TestTranslate is a table per keyword group: a keepalived snippet, text
// the cluster file must hold and findings (substrings) it must report.
func TestTranslate(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []string // in the HCL
		findings []string // "LINE KEYWORD SEVERITY" prefixes or substrings
		not      []string // not in the HCL
	}{
		{
			name: "tokenizer: quotes, comments, brace on next line, one-line block",
			in: `global_defs { router_id "lb 1" } # trailing
vrrp_instance VI_1
{
    interface eth0   ! comment
    virtual_router_id 51
    virtual_ipaddress { 192.0.2.10/24 }
}`,
			want: []string{`node "lb_1"`, `addresses = ["192.0.2.10/24"]`, `vrid      = 51`},
		},
		{
			name: "global_defs garp, version, sync daemon, timeouts",
			in: `global_defs {
  vrrp_garp_master_delay 10
  vrrp_garp_master_repeat 3
  vrrp_garp_master_refresh 60
  vrrp_version 3
  lvs_sync_daemon eth1 VI_1 id 7 port 9000
  lvs_timeouts tcp 900 tcpfin 120 udp 300
  script_user nobody
  enable_script_security
}` + vi,
			want:     []string{"count        = 3", `repeat_after = "10s"`, `refresh      = "1m"`, "version   = 3", "sync_id   = 7", "port      = 9000", `interface = "eth1"`, `tcp     = "15m"`, `tcp_fin = "2m"`, "scripts {\n  user = \"nobody\"\n}"},
			findings: []string{"8 script_user changed", "9 enable_script_security changed"},
		},
		{
			name: "vrrp_script",
			in: `vrrp_script chk {
  script "/usr/bin/pgrep -x haproxy"
  interval 2
  timeout 5
  weight -20
  rise 2
  fall 3
  user nobody
}
vrrp_script sh {
  script "pidof haproxy | grep 1"
}` + strings.Replace(vi, "}\n", "}\n track_script {\n chk\n sh weight 5\n }\n", 1),
			want:     []string{`command  = ["/usr/bin/pgrep", "-x", "haproxy"]`, `interval = "2s"`, `timeout  = "2s"`, "weight   = -20", `["/bin/sh", "-c", "pidof haproxy | grep 1"]`, `track_scripts = ["chk", "sh"]`},
			findings: []string{"4 timeout changed", "8 user not translated", "11 script changed", "sh not translated"},
		},
		{
			name: "vrrp_instance attributes",
			in: `vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 255
  advert_int 0.5
  nopreempt
  preempt_delay 10
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
  }
  track_interface {
    eth1
    eth2 weight 10
  }
  virtual_ipaddress {
    192.0.2.10/24 dev eth0
    192.0.2.11 dev eth1 label eth1:0
  }
  virtual_ipaddress_excluded {
    192.0.2.12/24
  }
  use_vmac
  smtp_alert
  garp_master_delay 3
}`,
			want: []string{"priority = 254", "version          = 2", "preempt          = false", `unicast_peers    = ["10.0.0.1", "10.0.0.2"]`, `track_interfaces = ["eth1", "eth2"]`, `"192.0.2.11/32"`, `"192.0.2.12/24"`, `repeat_after = "3s"`, "# keepalived: use_vmac (", "not translated"},
			not:  []string{"preempt_delay", "advert_interval"},
			findings: []string{"2 state changed", "5 priority changed", "6 advert_int changed version 2 adverts are whole seconds: keepalived rounds it to 1s", "8 preempt_delay changed",
				"15 eth2 changed", "19 192.0.2.11 changed", "19 192.0.2.11 not translated", "21 virtual_ipaddress_excluded changed", "24 use_vmac not translated", "25 smtp_alert not translated"},
		},
		{
			name: "authentication and notify dispatch",
			in: strings.Replace(vi, "priority 150", `priority 150
    authentication {
        auth_type PASS
        auth_pass secret123
    }
    notify_master "/usr/local/bin/master.sh up"
    notify_backup /usr/local/bin/backup.sh
    notify_stop /usr/local/bin/stop.sh`, 1),
			want:     []string{`auth_pass = "secret12"`, `version   = 2`, `notify = ["/bin/sh", "-c", "case \"$3\" in MASTER) /usr/local/bin/master.sh up ;; BACKUP) /usr/local/bin/backup.sh ;; STOP) /usr/local/bin/stop.sh ;; esac", "notify"]`},
			findings: []string{"8 auth_pass changed", "10 notify_master changed"},
		},
		{
			name: "generic notify kept as argv",
			in: strings.Replace(vi, "priority 150", `priority 150
    notify "/etc/keepalived/notify.sh arg"`, 1),
			want: []string{`notify = ["/etc/keepalived/notify.sh", "arg"]`},
		},
		{
			name: "authentication AH with version 3",
			in: strings.Replace(vi, "priority 150", `priority 150
    version 3
    authentication {
        auth_type AH
        auth_pass x
    }`, 1),
			findings: []string{"7 authentication not translated"},
			not:      []string{"auth_pass ="},
		},
		{
			name: "sync group",
			in: vi + `vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 52
  virtual_ipaddress {
    10.1.0.1/24
  }
}
vrrp_sync_group G {
  group {
    VI_1
    VI_2
    VI_9
  }
  notify "/usr/bin/logger -t vrrp"
  global_tracking
}`,
			want:     []string{`sync_group "G"`, `instances = ["VI_1", "VI_2"]`, `notify    = ["/usr/bin/logger", "-t", "vrrp"]`},
			findings: []string{"vrrp_sync_group invalid", "global_tracking not translated"},
		},
		{
			name: "virtual server",
			in: vi + `
virtual_server 192.0.2.10 80 {
  delay_loop 5
  lb_algo sh
  lb_kind DR
  sh-port
  hashed
  ops
  persistence_timeout 600
  persistence_granularity 255.255.255.0
  protocol UDP
  quorum 3
  quorum_up /bin/true
  hysteresis 1
  alpha
  omega
  inhibit_on_failure
  sorry_server 192.0.2.99 80
  real_server 192.0.2.21 80 {
    weight 2
    uthreshold 100
    lthreshold 50
    notify_up /bin/true
    TCP_CHECK {
      connect_port 8080
      connect_timeout 3
      bindto 192.0.2.5
      retry 2
      delay_before_retry 1
    }
  }
  real_server 192.0.2.22 8080 {
    MISC_CHECK {
      misc_path "/usr/local/bin/check.sh 192.0.2.22"
      misc_timeout 10
    }
    SMTP_CHECK {
    }
  }
}`,
			want: []string{`address   = "192.0.2.10:80"`, `scheduler = "sh"`, `scheduler_flags = ["sh-port"]`, "one_packet = true", `forward    = "dr"`,
				`on_failure = "drain"`, `protocol   = "udp"`, "quorum     = 3", `timeout = "10m"`, `netmask = "255.255.255.0"`, `address = "192.0.2.99:80"`,
				`address         = "192.0.2.21"`, "upper_threshold = 100", `check "tcp"`, "port           = 8080", `source_address = "192.0.2.5"`, "fall           = 3", "rise           = 1",
				`check "command"`, `command  = ["/usr/local/bin/check.sh", "192.0.2.22"]`, `timeout  = "5s"`, `"192.0.2.22"`},
			findings: []string{"22 quorum_up not translated", "23 hysteresis changed", "24 alpha changed", "25 omega changed", "32 notify_up not translated", "38 delay_before_retry changed",
				"41 real_server changed", "42 MISC_CHECK changed the timeout 10s", "46 SMTP_CHECK not translated"},
		},
		{
			name: "http checks: several urls, status, virtualhost, SSL_GET",
			in: vi + `
virtual_server 192.0.2.10 443 {
  virtualhost www.example.com
  real_server 192.0.2.21 443 {
    SSL_GET {
      url {
        path /health
        status_code 200 301-302
        digest 0123456789abcdef0123456789ABCDEF
      }
      url {
        path /other
      }
      nb_get_retry 4
    }
  }
}`,
			want:     []string{`check "https"`, `path     = "/health"`, `status   = ["200", "301-302"]`, `digest   = "md5:0123456789abcdef0123456789abcdef"`, `host     = "www.example.com"`, "insecure_skip_verify = true", "fall     = 5", `interval = "1m"`},
			findings: []string{"20 url not translated", "14 SSL_GET changed"},
		},
		{
			name: "fwmark and virtual_server_group ranges",
			in: vi + `
virtual_server_group G {
  192.0.2.10-12 80
  fwmark 7
}
virtual_server group G {
  lb_algo rr
  real_server 192.0.2.21 80 {
    TCP_CHECK {
    }
  }
}
virtual_server fwmark 9 {
  protocol TCP
  real_server 192.0.2.22 443 {
    HTTP_GET {
      url {
        path /
      }
    }
  }
}`,
			want:     []string{`"vs_192.0.2.10_80"`, `"vs_192.0.2.12_80"`, `"vs_fwmark_7"`, "fwmark    = 9", "port     = 443", `static_vips = ["192.0.2.11", "192.0.2.12"]`},
			findings: []string{"12 192.0.2.10-12 changed", "15 virtual_server changed", "23 protocol changed"},
		},
		{
			name: "a fwmark service's family: ip_family, else its servers'",
			in: vi + `
virtual_server fwmark 5 {
  lb_kind DR
  real_server 2001:db8::11 443 {
    TCP_CHECK {
    }
  }
}
virtual_server fwmark 6 {
  ip_family inet6
  lb_kind DR
}
virtual_server fwmark 8 {
  lb_kind DR
  real_server 2001:db8::13 443 {
  }
  real_server 192.0.2.30 443 {
  }
}
virtual_server fwmark 10 {
  ip_family inet7
  real_server 192.0.2.31 443 {
  }
}
virtual_server 192.0.2.10 80 {
  ip_family inet
}`,
			want:     []string{"fwmark    = 5\n  family    = \"ipv6\"", "fwmark    = 6\n  family    = \"ipv6\"", "fwmark    = 8\n  family    = \"ipv6\"", "fwmark    = 10\n  real_server"},
			not:      []string{"192.0.2.30"},
			findings: []string{"26 real_server invalid the real server's family differs", "30 ip_family invalid unknown address family \"inet7\"", "35 ip_family not translated the family follows the address"},
		},
		{
			name: "sorry servers that cannot be",
			in: vi + `
virtual_server 192.0.2.10 80 {
  sorry_server 127.0.0.1 8080
}
virtual_server 192.0.2.10 81 {
  sorry_server 224.0.0.1 81
}
virtual_server 192.0.2.10 82 {
  sorry_server localhost 82
}`,
			not:      []string{"sorry_server {"},
			findings: []string{"12 sorry_server invalid 127.0.0.1 is the director itself", "15 sorry_server invalid 224.0.0.1 can never be a sorry server", `18 sorry_server invalid "localhost" is not an address`},
		},
		{
			name:     "a byte-order mark and CRLF lines",
			in:       strings.ReplaceAll("\uFEFFglobal_defs {\n  router_id lb1\n}\n"+vi, "\n", "\r\n"),
			want:     []string{`node "lb1"`, `addresses = ["192.0.2.10/24"]`},
			findings: []string{"1  changed a UTF-8 byte-order mark"},
		},
		{
			name: "what keepalived ignores stays ignored: capitals, no protocol",
			in: vi + `
virtual_server 192.0.2.10 80 {
  lb_algo RR
  lb_kind dr
  protocol Tcp
  real_server 192.0.2.21 80 {
    lvs_method tun
  }
}
virtual_server 192.0.2.10 53 {
  lb_algo rr
  lb_kind DR
  real_server 192.0.2.22 53 {
  }
}
virtual_server 192.0.2.10 54 {
  protocol ICMP
}`,
			want: []string{"address   = \"192.0.2.10:80\"\n  protocol  = \"tcp\"\n  real_server", "address   = \"192.0.2.10:53\"\n  protocol  = \"udp\"\n  scheduler = \"rr\"\n  forward   = \"dr\"", "address   = \"192.0.2.10:54\"\n  protocol  = \"udp\""},
			not:  []string{`forward   = "tun"`},
			findings: []string{`12 lb_algo invalid unknown scheduler "RR": keepalived takes lower-case names only and ran wlc: wlc used (write rr`,
				`13 lb_kind invalid unknown forwarding method "dr": keepalived takes NAT, DR or TUN in capitals and ignored it: ignored (write DR`,
				`16 lvs_method invalid unknown forwarding method "tun"`,
				"19 virtual_server changed no protocol: keepalived runs the service as UDP", `26 protocol invalid unknown protocol "ICMP": ignored`},
		},
		{
			name: "nb_get_retry counts in HTTP_GET and SSL_GET only, as in keepalived",
			in: vi + `
virtual_server 192.0.2.10 80 {
  protocol TCP
  nb_get_retry 4
  real_server 192.0.2.21 80 {
    TCP_CHECK {
      nb_get_retry 3
    }
  }
  real_server 192.0.2.22 80 {
    TCP_CHECK {
      retry 3
    }
  }
  real_server 192.0.2.23 80 {
    HTTP_GET {
      url {
        path /
      }
      nb_get_retry 3
    }
  }
}`,
			want: []string{"address = \"192.0.2.21:80\"\n    check \"tcp\" {\n      interval = \"1m\"\n      timeout  = \"5s\"\n      rise     = 1\n      fall     = 2",
				"address = \"192.0.2.22:80\"\n    check \"tcp\" {\n      interval = \"1m\"\n      timeout  = \"5s\"\n      rise     = 1\n      fall     = 4",
				"address = \"192.0.2.23:80\"\n    check \"http\" {\n      interval = \"1m\"\n      timeout  = \"5s\"\n      rise     = 1\n      fall     = 4"},
			findings: []string{"13 nb_get_retry invalid keepalived reads nb_get_retry only in HTTP_GET and SSL_GET", "16 nb_get_retry invalid keepalived reads nb_get_retry only"},
		},
		{
			name:     "a version 2 advert interval is rounded as keepalived rounds it; version 3 keeps 10 ms steps",
			in:       strings.Replace(vi, "priority 150", "priority 150\n    advert_int 1.6", 1) + strings.Replace(strings.Replace(strings.Replace(vi, "VI_1", "VI_2", 1), "virtual_router_id 51", "virtual_router_id 52\n    advert_int 300", 1), "192.0.2.10/24", "192.0.2.20/24", 1) + strings.Replace(strings.Replace(strings.Replace(vi, "VI_1", "VI_3", 1), "virtual_router_id 51", "virtual_router_id 53\n    version 3\n    advert_int 0.504", 1), "192.0.2.10/24", "192.0.2.30/24", 1),
			want:     []string{"version         = 2\n  advert_interval = \"2s\"", "addresses = [\"192.0.2.20/24\"]\n  version   = 2\n}", "version         = 3\n  advert_interval = \"500ms\""},
			findings: []string{"6 advert_int changed version 2 adverts are whole seconds: keepalived rounds it to 2s", "15 advert_int invalid 300 s is out of range 10ms..255s"},
		},
		{
			name:     "unknown keywords with a did-you-mean",
			in:       strings.Replace(vi, "priority 150", "priorty 150\n    virtual_router_idd 3", 1) + "virtual_server 192.0.2.10 80 {\n real_server 192.0.2.21 80 {\n weigth 3\n }\n}\nvrrp_instanse X {\n}",
			findings: []string{`5 priorty invalid unknown keyword; did you mean "priority"?`, `6 virtual_router_idd invalid unknown keyword; did you mean "virtual_router_id"?`, `13 weigth invalid unknown keyword; did you mean "weight"?`, `16 vrrp_instanse invalid unknown keyword; did you mean "vrrp_instance"?`},
			want:     []string{"# keepalived: priorty (", "# keepalived: weigth ("},
		},
		{
			name:     "trailing junk and repeated keywords",
			in:       strings.Replace(vi, "priority 150", "priority 150 200\n    priority 120\n    virtual_router_id 52 x\n    nopreempt yes", 1),
			want:     []string{"priority = 120", "vrid      = 52"},
			findings: []string{"5 priority invalid extra words ignored: 200", "6 priority invalid given again (first at line 5)", "7 virtual_router_id invalid extra words ignored: x", "8 nopreempt invalid takes no value"},
		},
		{
			name:     "variables, ~SEQ",
			in:       "$IF=eth7\n$VIP=192.0.2.10\n" + strings.Replace(strings.Replace(vi, "eth0", "${IF}", 1), "192.0.2.10", "$VIP", 1) + "~SEQ(i, 1, 3)\nfoo $UNDEF\n",
			want:     []string{`interface = "eth7"`, `"192.0.2.10/24"`},
			findings: []string{"12 ~SEQ not translated", "13 $UNDEF invalid"},
		},
		{
			name:     "unbalanced braces",
			in:       "}\n" + vi + "vrrp_instance VI_2 {\n interface eth0\n",
			findings: []string{"1 } invalid", "11 vrrp_instance invalid block not closed"},
			want:     []string{`vrrp "VI_1"`},
		},
		{
			name:     "virtual server named from the comment above it; quorum above the weights",
			in:       vi + "# web\nvirtual_server 192.0.2.10 80 {\n  quorum 5\n  real_server 192.0.2.21 80 {\n    weight 2\n    inhibit_on_failure\n  }\n}\n",
			want:     []string{`virtual_server "web"`, "quorum = 2", `real_server "rs_192.0.2.21_80"`},
			findings: []string{"12 quorum changed quorum 5 is more than the real servers weigh (2)", "15 inhibit_on_failure changed"},
		},
		{
			name:     "instance without addresses is a comment",
			in:       "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n}\n",
			findings: []string{"1 vrrp_instance invalid no virtual_ipaddress"},
			want:     []string{`# vrrp "VI_1" {`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(t, "keepalived.conf", tt.in)
			res := mustImport(t, p...)
			out := norm(string(res.HCL))
			for _, w := range tt.want {
				if !strings.Contains(out, norm(w)) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(out, norm(w)) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			var got []string
			for _, f := range res.Findings {
				got = append(got, strings.Join([]string{itoa(f.Line), f.Keyword, string(f.Severity), f.Message}, " "))
			}
			for _, w := range tt.findings {
				found := false
				for _, g := range got {
					if strings.HasPrefix(g, w) || (!startsWithDigit(w) && strings.Contains(g, w)) {
						found = true
					}
				}
				if !found {
					t.Errorf("no finding %q in:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// TestPair: two directors' files make one cluster file with both nodes,
// their priorities and the unicast peers of both.
func TestPair(t *testing.T) {
	a := `global_defs {
  router_id lb1
}
vrrp_instance VI_1 {
  state MASTER
  interface eth0
  virtual_router_id 51
  priority 150
  unicast_src_ip 10.0.0.1
  unicast_peer {
    10.0.0.2
  }
  virtual_ipaddress {
    192.0.2.10/24
  }
}
vrrp_instance VI_2 {
  interface eth1
  virtual_router_id 52
  priority 100
  virtual_ipaddress {
    10.1.0.1/24
  }
}
`
	b := strings.NewReplacer("lb1", "lb2", "MASTER", "BACKUP", "priority 150", "priority 100", "10.0.0.1", "10.0.0.X", "10.0.0.2", "10.0.0.1", "priority 100\n  virtual_ipaddress {\n    10.1.0.1", "priority 120\n  virtual_ipaddress {\n    10.1.0.1").Replace(a)
	b = strings.Replace(b, "10.0.0.X", "10.0.0.2", 1)
	paths := write(t, "lb1.conf", a, "lb2.conf", b)
	res := mustImport(t, paths...)
	out := norm(string(res.HCL))
	for _, w := range []string{
		"node \"lb1\" {\n  priority = 150\n}",
		"node \"lb2\" {\n  priority = 100\n}",
		`unicast_peers = ["10.0.0.1", "10.0.0.2"]`,
		"priorities = {\n    \"lb1\" = 100\n    \"lb2\" = 120\n  }",
	} {
		if !strings.Contains(out, norm(w)) {
			t.Errorf("output lacks %q:\n%s", w, res.HCL)
		}
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Message, "one file") || strings.Contains(f.Message, "both directors are") {
			t.Errorf("pair reported as one file, or as one name: %v", f)
		}
	}

	// Both files kept keepalived's sample router_id.
	paths = write(t, "a.conf", strings.ReplaceAll(a, "lb1", "LVS_DEVEL"), "b.conf", strings.ReplaceAll(b, "lb2", "LVS_DEVEL"))
	res = mustImport(t, paths...)
	if out := norm(string(res.HCL)); !strings.Contains(out, `node "LVS_DEVEL" {`) || !strings.Contains(out, `node "LVS_DEVEL_2" {`) {
		t.Errorf("one router_id for both: want LVS_DEVEL and LVS_DEVEL_2:\n%s", res.HCL)
	}
	if lines := findingLines(res.Findings); !strings.Contains(lines, `b.conf: changed: router_id: both directors are "LVS_DEVEL": this one is node "LVS_DEVEL_2"`) {
		t.Errorf("no finding on the shared router_id in:\n%s", lines)
	}
}

func TestIncludes(t *testing.T) {
	paths := write(t,
		"keepalived.conf", "global_defs {\n router_id lb1\n}\ninclude conf.d/*.conf\ninclude missing.conf\n",
		"conf.d/a.conf", vi+"include ../nested/b.inc\n",
		"nested/b.inc", "virtual_server 192.0.2.10 80 {\n real_server 192.0.2.21 80 {\n weigth 1\n }\n}\n",
		"loop.conf", "include loop.conf\n")
	res := mustImport(t, paths[0])
	out := string(res.HCL)
	if !strings.Contains(out, `vrrp "VI_1"`) || !strings.Contains(out, `virtual_server "vs_192.0.2.10_80"`) {
		t.Errorf("includes not read:\n%s", out)
	}
	lines := findingLines(res.Findings)
	for _, w := range []string{"keepalived.conf:5: invalid: include: no file matches \"missing.conf\"", "b.inc:3: invalid: weigth: unknown keyword"} {
		if !strings.Contains(lines, w) {
			t.Errorf("no finding %q in:\n%s", w, lines)
		}
	}
	// an include loop stops at the nesting bound
	res = mustImport(t, paths[3])
	if !strings.Contains(findingLines(res.Findings), "nested more than") {
		t.Errorf("include loop not reported: %s", findingLines(res.Findings))
	}
}

// TestHostile: inputs that must not panic, and whose output parses.
func TestHostile(t *testing.T) {
	tests := map[string]string{
		"non-UTF-8":       "global_defs {\n router_id \xff\xfe\x00\n}\n" + vi,
		"1 MB of {":       strings.Repeat("{", 1<<20),
		"1 MB of words {": strings.Repeat("a {\n", 1<<18),
		"1 MB of }":       strings.Repeat("}", 1<<20),
		"unterminated":    "global_defs {\n router_id \"abc\n" + vi,
		"empty":           "",
		"only comments":   "# a\n! b\n",
		"var bomb":        "$A=$B$B$B$B$B$B$B$B\n$B=$C$C$C$C$C$C$C$C\n$C=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n$D=$A$A$A$A$A$A$A$A$A$A\nfoo $D$D$D$D$D$D$D$D\n",
		"control chars":   "vrrp_script s {\n script \"/bin/echo \x01\x1b${x}%{y}\"\n}\n" + vi,
		"strange names":   "vrrp_instance .-/ {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n 192.0.2.1\n }\n}\nvirtual_server 192.0.2.1 80 {\n}\n",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			p := write(t, "keepalived.conf", in)
			mustImport(t, p...)
		})
	}
	if _, err := Import([]string{filepath.Join(t.TempDir(), "nope.conf")}); err == nil {
		t.Error("a missing main file is no error")
	}
	if _, err := Import(nil); err == nil {
		t.Error("no file is no error")
	}
	// An endless file is refused before it is read (it was read whole:
	// the importer grew until killed).
	for _, p := range []string{"/dev/zero", t.TempDir()} {
		if _, err := Import([]string{p}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v, want not a regular file", p, err)
		}
	}
}

func FuzzImport(f *testing.F) {
	samples, _ := filepath.Glob("testdata/samples/keepalived.conf.*")
	for _, s := range samples {
		if strings.HasSuffix(s, ".findings") || strings.HasSuffix(s, ".hcl") {
			continue
		}
		b, err := os.ReadFile(s)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(vi))
	f.Fuzz(func(t *testing.T, in []byte) {
		p := filepath.Join(t.TempDir(), "keepalived.conf")
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Import([]string{p})
		if err != nil {
			t.Fatal(err)
		}
		checkParses(t, res.HCL)
		for _, fd := range res.Findings {
			if fd.Severity != importer.NotTranslated && fd.Severity != importer.Changed && fd.Severity != importer.Invalid {
				t.Fatalf("bad severity %q", fd.Severity)
			}
		}
	})
}

// norm collapses white space, so that tests do not depend on alignment.
func norm(s string) string { return strings.Join(strings.Fields(s), " ") }
