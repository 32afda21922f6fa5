package ipvsadm

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandem-lb/tandem/conf"
	"github.com/tandem-lb/tandem/conf/importer"
)

// load imports src and fails the test unless the output parses.
func load(t testing.TB, src string) (*importer.Result, *conf.Cluster) {
	t.Helper()
	res, err := Import("in.sh", []byte(src))
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	c, diags := conf.Parse(res.HCL, "out.hcl")
	if diags.HasErrors() {
		t.Fatalf("output does not parse: %v\n%s", diags, res.HCL)
	}
	return res, c
}

// squash collapses runs of spaces, so that expectations do not depend on
// hclwrite's alignment.
func squash(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

func findings(res *importer.Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestImport(t *testing.T) {
	tests := []struct {
		name string
		src  string
		hcl  []string // substrings of the output
		find []string // substrings of the findings
		none []string // substrings absent from the output
	}{
		{
			name: "save nat rr",
			src:  "-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.168.100.11:80 -m -w 1\n",
			hcl:  []string{`virtual_server "vs_tcp_203.0.113.10_80"`, `scheduler = "rr"`, `forward   = "nat"`, `real_server "rs_192.168.100.11_80"`, `static_vips = ["203.0.113.10"]`},
			find: []string{"in.sh:1: changed: vip", "vrrp"},
		},
		{
			name: "default forward is dr",
			src:  "-A -t 203.0.113.10:80\n-a -t 203.0.113.10:80 -r 203.0.113.31\n",
			hcl:  []string{`forward   = "dr"`, `scheduler = "wlc"`, `address = "203.0.113.31:80"`},
		},
		{
			name: "long options and inline values",
			src:  "ipvsadm --add-service --udp-service 203.0.113.10:53 --scheduler=sh --sched-flags sh-port --ops\nipvsadm --add-server --udp-service 203.0.113.10:53 --real-server 192.168.100.5 --masquerading --weight=4 --u-threshold 9 --l-threshold 3\n",
			hcl:  []string{`protocol        = "udp"`, `scheduler_flags = ["sh-port"]`, `one_packet      = true`, `weight          = 4`, `upper_threshold = 9`, `lower_threshold = 3`},
		},
		{
			name: "bundled value",
			src:  "ipvsadm -A -t 203.0.113.10:80 -srr -p600\nipvsadm -a -t 203.0.113.10:80 -r 192.168.100.5 -m -w7\n",
			hcl:  []string{`scheduler = "rr"`, `timeout = "600s"`, `weight  = 7`},
		},
		{
			name: "weight 0 kept",
			src:  "-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.168.100.11:80 -m -w 0\n",
			hcl:  []string{`weight  = 0`},
		},
		{
			name: "fwmark ipv6 persistence",
			src:  "-A -f 7 -6 -s sh -b flag-1 -p 30 -M 64\n-a -f 7 -6 -r [2001:db8::5]:0 -g -w 2\n",
			hcl:  []string{`fwmark    = 7`, `family    = "ipv6"`, `scheduler_flags = ["sh-fallback"]`, `netmask = 64`, `timeout = "30s"`, `address = "2001:db8::5"`},
			find: []string{`"flag-1" is "sh-fallback"`},
		},
		{
			name: "tun mixes families",
			src:  "-A -t [2001:db8::10]:80 -s rr\n-a -t [2001:db8::10]:80 -r 198.51.100.7 -i\n-a -t [2001:db8::10]:80 -r 198.51.100.8 -m\n",
			hcl:  []string{`address = "198.51.100.7:80"`, `forward   = "tun"`},
			find: []string{"preferred_lft", "198.51.100.8 is not of the service's address family"},
		},
		{
			name: "dr port fixed",
			src:  "-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 203.0.113.31:8080 -g\n",
			hcl:  []string{`address = "203.0.113.31:80"`},
			find: []string{"dr cannot change ports"},
		},
		{
			name: "script variables",
			src:  "#!/bin/bash\nexport VIP=\"203.0.113.10\"\nRIP1='192.168.100.11'\nIPVSADM=/sbin/ipvsadm\n$IPVSADM -A -t ${VIP}:80 -s rr\n\"${IPVSADM}\" -a -t $VIP:80 -r $RIP1:80 -m\n",
			hcl:  []string{`address   = "203.0.113.10:80"`, `address = "192.168.100.11:80"`},
		},
		{
			name: "name from comment above",
			src:  "# web\nipvsadm -A -t 203.0.113.10:80 -s rr\n# web\n\nipvsadm -A -t 203.0.113.10:81 -s rr\n",
			hcl:  []string{`virtual_server "web"`, `virtual_server "vs_tcp_203.0.113.10_81"`},
		},
		{
			name: "lvs_nat director settings",
			src:  "echo 1 > /proc/sys/net/ipv4/ip_forward\necho 0 >/proc/sys/net/ipv4/conf/all/send_redirects\necho 0 > /proc/sys/net/ipv4/conf/eth1/send_redirects\niptables -t nat -A POSTROUTING -s 192.168.100.5/24 -o eth0 -j MASQUERADE\nipvsadm -A -t 203.0.113.10:80 -s rr\nipvsadm -a -t 203.0.113.10:80 -r 192.168.100.11 -m\n",
			hcl:  []string{`ip_forward     = "auto"`, `send_redirects = false`, `masquerade     = ["192.168.100.0/24"]`, `interfaces = ["eth1", "eth0"]`},
			find: []string{"in.sh:1: changed: ip_forward", "has host bits", "-o eth0"},
		},
		{
			name: "sysctl ip_forward without nat",
			src:  "sysctl -w net.ipv4.ip_forward=1\nipvsadm -A -t 203.0.113.10:80 -s rr\nipvsadm -a -t 203.0.113.10:80 -r 203.0.113.31 -g\n",
			hcl:  []string{`ip_forward  = "on"`},
			find: []string{"no NAT real server"},
		},
		{
			name: "vip by hand",
			src:  "ifconfig eth0:0 203.0.113.10 netmask 255.255.255.0 up\nip addr add 2001:db8::10/64 dev eth1\nipvsadm -A -t 203.0.113.10:80 -s rr\n",
			hcl:  []string{`static_vips = ["203.0.113.10", "2001:db8::10"]`, `interfaces = ["eth0", "eth1"]`, `#   addresses = ["203.0.113.10/24"]`, `#   interface = "eth0"`},
			find: []string{"in.sh:1: changed: vip: the VIP 203.0.113.10 is set by hand"},
		},
		{
			name: "timeouts",
			src:  "ipvsadm --set 900 0 60\n",
			hcl:  []string{`tcp = "900s"`, `udp = "60s"`},
			none: []string{"tcp_fin"},
		},
		{
			name: "not translated lines are comments in place",
			src:  "ipvsadm -C\nroute add -net 10.0.0.0/8 gw 192.168.1.1\nfoo() { bar; }\nipvsadm -A -t 203.0.113.10:80 -s rr\nwhile true; do sleep 1; done\n",
			hcl:  []string{"# in.sh:1: not translated: ipvsadm -C", "# in.sh:2: not translated: route", "# in.sh:3: not translated", "# in.sh:5: not translated"},
			find: []string{"in.sh:1: not translated: ipvsadm -C: tandem never flushes", "in.sh:2: not translated: route"},
		},
		{
			name: "host and service names",
			src:  "-A -t www.example.com:http -s rr\n-A -t 203.0.113.10:https -s rr\n-a -t 203.0.113.10:https -r rs1.example.com:https -m\n",
			hcl:  []string{`address   = "203.0.113.10:443"`},
			find: []string{`host name "www.example.com"`, `service name "https" read as port 443`, `host name "rs1.example.com"`},
		},
		{
			name: "unknown scheduler kept default",
			src:  "-A -t 203.0.113.10:80 -s weird\n",
			hcl:  []string{`scheduler = "wlc"`},
			find: []string{`scheduler "weird"`},
		},
		{
			name: "edit server and service",
			src:  "-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 192.168.100.11 -m -w 2\n-e -t 203.0.113.10:80 -r 192.168.100.11 -m -w 9\n-E -t 203.0.113.10:80 -s lc\n",
			hcl:  []string{`weight  = 9`, `scheduler = "lc"`},
		},
		{
			name: "empty",
			src:  "",
			hcl:  []string{`node "director1"`},
		},
		{
			name: "hostname names the node",
			src:  "hostname lb1\n",
			hcl:  []string{`node "lb1"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := load(t, tt.src)
			out, fs := squash(string(res.HCL)), findings(res)
			for _, s := range tt.hcl {
				if !strings.Contains(out, squash(s)) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tt.none {
				if strings.Contains(out, squash(s)) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
			for _, s := range tt.find {
				if !strings.Contains(fs, s) {
					t.Errorf("findings lack %q:\n%s", s, fs)
				}
			}
		})
	}
}

// TestHostile: nothing crashes, the output always parses, and each bad
// line is reported.
func TestHostile(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	tests := []struct {
		name string
		src  string
		find string
	}{
		{"trailing junk", "-A -t 203.0.113.10:80 -s rr junk\n", "unexpected argument"},
		{"unknown option", "-A -t 203.0.113.10:80 --frobnicate\n", "unknown option --frobnicate"},
		{"missing value", "-A -t\n", "needs a value"},
		{"bad address", "-A -t 300.1.1.1:80 -s rr\n", `"300.1.1.1" is not an IP address`},
		{"bad port", "-A -t 203.0.113.10:70000 -s rr\n", "is not 0..65535"},
		{"loopback real server", "-A -t 203.0.113.10:80\n-a -t 203.0.113.10:80 -r 127.0.0.1\n", "loopback"},
		{"two commands", "-A -a -t 203.0.113.10:80\n", "more than one command"},
		{"no command", "-t 203.0.113.10:80\n", "no command"},
		{"non-UTF-8", "-A -t 203.0.113.10:80 \xff\xfe\n", "not UTF-8"},
		{"NUL", "-A -t 203.0.113.10:80\x00\n", "NUL"},
		{"unterminated single quote", "VIP='203.0.113.10\nipvsadm -A -t $VIP:80\n", "unterminated single quote"},
		{"unterminated double quote", "ipvsadm -A -t \"203.0.113.10:80\n", "unterminated double quote"},
		{"unterminated brace", "ipvsadm -A -t ${VIP:80\n", "unterminated ${"},
		{"1 MB line", "ipvsadm -A -t 203.0.113.10:80 " + long + "\n", "longer than"},
		{"64 KiB word", "-A -t " + long[:MaxLine-10] + "\n", "host name"},
		{"backtick", "VIP=`cat /etc/vip`\n", "command substitution"},
		{"here-document", "ipvsadm -R <<EOF\n-A -t 203.0.113.10:80\nEOF\n", "here-document"},
		{"unclosed if", "if true; then\nipvsadm -A -t 203.0.113.10:80\n", "never closed"},
		{"doubling variable", strings.Repeat("A=$A$A$A$A\n", 30) + "A=x\n" + strings.Repeat("A=$A$A$A$A\n", 30) + "ipvsadm -A -t $A\n", "value not known"},
		{"zoned address", "-A -t [fe80::1%eth0]:80\n", "not an IP address"},
		{"dup service", "-A -t 203.0.113.10:80\n-A -t 203.0.113.10:80\n", "already exists"},
		{"carriage returns", "ipvsadm -A -t 203.0.113.10:80 -s rr\r\nipvsadm -Q\r\n", "unknown option -Q"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := load(t, tt.src)
			if fs := findings(res); !strings.Contains(fs, tt.find) {
				t.Errorf("findings lack %q:\n%s", tt.find, fs)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	_, err := Import("big", make([]byte, MaxInput+1))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// TestManyServices: a large table stays within the limits and loads.
func TestManyServices(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 2000; i++ {
		b.WriteString("-A -t 203.0.113.10:" + itoa(1000+i) + " -s rr\n")
		b.WriteString("-a -t 203.0.113.10:" + itoa(1000+i) + " -r 192.168.100.11 -m -w 1\n")
	}
	_, c := load(t, b.String())
	if c == nil {
		t.Fatal("no cluster")
	}
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i/1000%10)) + string(rune('0'+i/100%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10)))
}

// FuzzImport: no input panics, and every output parses.
func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.s*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("-A -f 1 -6 -s mh -b flag-2 -p 10 -M 48\n-a -f 1 -6 -r [2001:db8::1]:8080 -m -x 5 -y 6\n"))
	f.Add([]byte("ipvsadm -A -u [::ffff:203.0.113.10]:53 -o -s rr\nipvsadm -a -u 203.0.113.10:53 -r ::ffff:192.168.1.1 -m\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		res, err := Import("fuzz.sh", src)
		if err != nil {
			return
		}
		if _, diags := conf.Parse(res.HCL, "fuzz.hcl"); diags.HasErrors() {
			t.Fatalf("output does not parse: %v\n%s", diags, res.HCL)
		}
		for _, fd := range res.Findings {
			if fd.Line < 0 {
				t.Fatalf("finding with line %d", fd.Line)
			}
		}
	})
}
