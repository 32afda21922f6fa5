package keepalived

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/tandem-lb/tandem/conf/importer"
)

var globalNot = map[string]string{
	"notification_email":              "tandem sends no e-mail; use notify hooks or metrics",
	"notification_email_from":         "tandem sends no e-mail",
	"smtp_server":                     "tandem sends no e-mail",
	"smtp_connect_timeout":            "tandem sends no e-mail",
	"smtp_helo_name":                  "tandem sends no e-mail",
	"email_faults":                    "tandem sends no e-mail",
	"startup_script":                  "run it from the service manager",
	"shutdown_script":                 "run it from the service manager",
	"vrrp_mcast_group4":               "tandem uses the standard group 224.0.0.18",
	"vrrp_mcast_group6":               "tandem uses the standard group ff02::12",
	"vrrp_strict":                     "tandem has no strict mode",
	"vrrp_skip_check_adv_addr":        "tandem checks adverts its own way",
	"vrrp_check_unicast_src":          "tandem drops unicast adverts from addresses that are not peers",
	"vrrp_iptables":                   "tandem installs no firewall rules",
	"vrrp_ipsets":                     "tandem installs no firewall rules",
	"nftables":                        "tandem installs no firewall rules",
	"nftables_priority":               "tandem installs no firewall rules",
	"nftables_ifindex":                "tandem installs no firewall rules",
	"vrrp_garp_lower_prio_delay":      "tandem sends no GARP on a lower-priority advert",
	"vrrp_garp_lower_prio_repeat":     "tandem sends no GARP on a lower-priority advert",
	"vrrp_garp_master_refresh_repeat": "tandem sends the garp count at each refresh",
	"vrrp_garp_interface_delay":       "not supported",
	"vrrp_lower_prio_no_advert":       "not supported",
	"vrrp_higher_prio_send_advert":    "not supported",
	"vrrp_min_garp":                   "not supported",
	"vrrp_priority":                   "tandem sets no process priority",
	"checker_priority":                "tandem sets no process priority",
	"bfd_priority":                    "tandem sets no process priority",
	"vrrp_no_swap":                    "a flag of tandem run, not of the file: --lock-memory (with CAP_IPC_LOCK in the unit)",
	"checker_no_swap":                 "a flag of tandem run, not of the file: --lock-memory (with CAP_IPC_LOCK in the unit)",
	"vrrp_rt_priority":                "a flag of tandem run, not of the file: --realtime N (with CAP_SYS_NICE in the unit)",
	"checker_rt_priority":             "tandem's checks need no real-time priority; VRRP's: tandem run --realtime N",
	"max_auto_priority":               "a flag of tandem run, not of the file: --realtime N (with CAP_SYS_NICE in the unit)",
	"vrrp_rlimit_rttime":              "not supported",
	"checker_rlimit_rttime":           "not supported",
	"dynamic_interfaces":              "tandem waits for interfaces on its own",
	"lvs_flush":                       "tandem owns only the services its file names and never flushes the table",
	"lvs_flush_onstop":                "tandem leaves the table in place on exit (the backup stays hot)",
	"lvs_sync_daemon_interface":       "use lvs_sync_daemon (tandem's conn_sync)",
	"enable_traps":                    "tandem has no SNMP; it serves Prometheus metrics",
	"enable_snmp_vrrp":                "tandem has no SNMP; it serves Prometheus metrics",
	"enable_snmp_checker":             "tandem has no SNMP; it serves Prometheus metrics",
	"enable_snmp_rfc":                 "tandem has no SNMP; it serves Prometheus metrics",
	"enable_snmp_keepalived":          "tandem has no SNMP; it serves Prometheus metrics",
	"snmp_socket":                     "tandem has no SNMP",
	"enable_dbus":                     "tandem has no D-Bus interface; it has a control socket",
	"notify_fifo":                     "tandem has no notify FIFO; use notify hooks",
	"notify_fifo_script":              "tandem has no notify FIFO; use notify hooks",
	"vrrp_notify_fifo":                "tandem has no notify FIFO; use notify hooks",
	"vrrp_notify_fifo_script":         "tandem has no notify FIFO; use notify hooks",
	"lvs_notify_fifo":                 "tandem has no notify FIFO; use notify hooks",
	"lvs_notify_fifo_script":          "tandem has no notify FIFO; use notify hooks",
	"vrrp_netlink_cmd_rcv_bufs":       "not needed",
	"vrrp_netlink_monitor_rcv_bufs":   "not needed",
	"lvs_netlink_cmd_rcv_bufs":        "not needed",
	"lvs_netlink_monitor_rcv_bufs":    "not needed",
	"net_namespace":                   "tandem runs in the namespace it is started in",
	"instance":                        "tandem runs in the namespace it is started in",
	"use_pid_dir":                     "not needed",
	"script_security":                 "not needed",
	"process_names":                   "not needed",
	"process_name":                    "not needed",
	"vrrp_process_name":               "not needed",
	"checker_process_name":            "not needed",
	"bfd_process_name":                "not needed",
	"vrrp_startup_delay":              "not supported",
	"vrrp_gna_interval":               "tandem uses garp interval for IPv6 too (set it in each vrrp's garp)",
	"vrrp_version_keepalived":         "not supported",
	"vrrp_skip_check":                 "not supported",
	"default_interface":               "name the interface in each vrrp",
	"checker_log_all_failures":        "tandem logs check transitions",
	"no_checker_emails":               "tandem sends no e-mail",
	"random_seed":                     "not needed",
	"reload_time_file":                "not supported",
	"reload_repeat":                   "not supported",
	"reload_file":                     "not supported",
	"data_use_instance":               "not supported",
	"child_wait_time":                 "not supported",
	"umask":                           "not supported",
	"vrrp_dont_set_rp_filter":         "not supported",
	"lvs_timeouts":                    "",
}

var globalKnown = map[string]string{
	"router_id": "", "vrrp_garp_master_delay": "", "vrrp_garp_master_repeat": "", "vrrp_garp_master_refresh": "",
	"vrrp_garp_interval": "", "lvs_sync_daemon": "", "script_user": "", "enable_script_security": "", "vrrp_version": "",
	"lvs_timeouts": "",
}

func (t *tr) globalDefs(g *stmt) {
	for _, s := range g.block {
		switch s.kw {
		case "router_id":
			if a, ok := t.arg(s); ok {
				t.routerID = a
			}
		case "vrrp_version":
			if n, ok := t.intArg(s, 2, 3); ok {
				t.version = int(n)
			}
		case "vrrp_garp_master_delay", "vrrp_garp_master_repeat", "vrrp_garp_master_refresh", "vrrp_garp_interval":
			t.garpSetting(&t.garp, strings.TrimPrefix(s.kw, "vrrp_"), s)
		case "lvs_sync_daemon":
			t.syncDaemon(s, "")
		case "lvs_timeouts":
			t.lvsTimeouts(s)
		case "script_user": // script_user USER [GROUP]
			if len(s.args) < 1 || len(s.args) > 2 {
				t.invalid(s, "want a user and an optional group")
				continue
			}
			t.scriptsBlk = &blk{typ: "scripts"}
			t.scriptsBlk.set("user", str(s.args[0]))
			if len(s.args) == 2 {
				t.scriptsBlk.set("group", str(s.args[1]))
			}
			t.changed(nil, s, "carried over as scripts { user }; tandem runs every program directly, without a shell (script strings are imported as /bin/sh -c), and refuses one that a user other than root or this user could replace")
		case "enable_script_security":
			t.changed(nil, s, "tandem's scripts { security = true } is the default: a script that a user other than root (or the scripts user) could replace is refused")
		default:
			if why, ok := globalNot[s.kw]; ok {
				t.skip(nil, s, why)
				t.globalNotes = append(t.globalNotes, fmt.Sprintf("keepalived: %s (%s:%d): not translated: %s", s.kw, filepath.Base(s.file), s.line, why))
				continue
			}
			t.unknown(nil, s, globalKnown, globalNot)
		}
	}
}

func (t *tr) lvsTimeouts(s *stmt) {
	if t.timeouts == nil {
		t.timeouts = &blk{typ: "timeouts"}
	}
	for i := 0; i+1 < len(s.args); i += 2 {
		n, err := strconv.ParseInt(s.args[i+1], 10, 64)
		if err != nil || n < 0 || n > 2147483 {
			t.invalid(s, fmt.Sprintf("%q is not a timeout in seconds", clip(s.args[i+1])))
			continue
		}
		switch s.args[i] {
		case "tcp":
			t.timeouts.set("tcp", dur(n*1000))
		case "tcpfin":
			t.timeouts.set("tcp_fin", dur(n*1000))
		case "udp":
			t.timeouts.set("udp", dur(n*1000))
		default:
			t.invalid(s, fmt.Sprintf("unknown timeout %q", clip(s.args[i])))
		}
	}
	if len(s.args)%2 == 1 {
		t.invalid(s, "a timeout name without a value")
	}
}

// syncDaemon: lvs_sync_daemon IFACE INSTANCE [id N] [maxlen N] [port N] [ttl N] [group IP]
func (t *tr) syncDaemon(s *stmt, inst string) {
	if len(s.args) < 1 {
		t.invalid(s, "missing interface")
		return
	}
	cs := &blk{typ: "conn_sync"}
	cs.set("interface", str(s.args[0]))
	rest := s.args[1:]
	if inst == "" && len(rest) > 0 && !isSyncOpt(rest[0]) {
		inst, rest = rest[0], rest[1:]
	}
	if inst != "" {
		cs.set("vrrp", str(nameOf(inst, "vrrp")))
	}
	for i := 0; i < len(rest); i++ {
		if i+1 >= len(rest) {
			t.invalid(s, fmt.Sprintf("%q without a value", clip(rest[i])))
			break
		}
		v := rest[i+1]
		n, nerr := strconv.ParseInt(v, 10, 64)
		switch rest[i] {
		case "id":
			if nerr == nil && n >= 0 && n <= 255 {
				cs.set("sync_id", num(n))
			} else {
				t.invalid(s, "id must be 0..255")
			}
		case "port":
			if nerr == nil && n >= 1 && n <= 65535 {
				cs.set("port", num(n))
			} else {
				t.invalid(s, "port must be 1..65535")
			}
		case "ttl":
			if nerr == nil && n >= 1 && n <= 255 {
				cs.set("ttl", num(n))
			} else {
				t.invalid(s, "ttl must be 1..255")
			}
		case "group":
			if a, err := netip.ParseAddr(v); err == nil && a.IsMulticast() && a.Zone() == "" {
				cs.set("group", str(a.String()))
			} else {
				t.invalid(s, "group must be a multicast address")
			}
		case "maxlen":
			t.skip(nil, s, "maxlen: tandem lets the kernel size sync messages")
		default:
			t.invalid(s, fmt.Sprintf("unknown option %q", clip(rest[i])))
		}
		i++
	}
	if !validIface(s.args[0]) {
		t.invalid(s, fmt.Sprintf("%q is not an interface name", clip(s.args[0])))
		return
	}
	t.connSync = cs
}

func isSyncOpt(s string) bool {
	switch s {
	case "id", "maxlen", "port", "ttl", "group":
		return true
	}
	return false
}

func validIface(s string) bool {
	return s != "" && len(s) <= 15 && !strings.ContainsAny(s, "/: \t") && s != "all" && s != "default" && s != "." && s != ".." && strings.IndexFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) < 0
}

var scriptKnown = map[string]string{"script": "", "interval": "", "timeout": "", "weight": "", "rise": "", "fall": ""}
var scriptNot = map[string]string{
	"user":      "per-script users are not supported: every script runs as scripts.user (keepalived's script_user), else as tandem itself",
	"init_fail": "a tandem track_script starts as failed until it succeeds rise times",
}

func (t *tr) vrrpScript(s *stmt) {
	if len(s.args) == 0 {
		t.invalid(s, "vrrp_script without a name: ignored")
		return
	}
	name := t.name("track_script", s.args[0])
	if name != s.args[0] {
		t.changed(nil, s, fmt.Sprintf("renamed %q to %q (tandem's name rules)", clip(s.args[0]), name))
	}
	b := &blk{typ: "track_script", labels: []string{name}}
	b.set("command", cty.NilVal)
	var interval, timeout int64 = 1000, -1
	var tline *stmt
	hasCmd := false
	seen := map[string]int{}
	for _, c := range s.block {
		t.once(seen, c)
		switch c.kw {
		case "script":
			argv, ok := t.command(b, c)
			if ok {
				b.set("command", strs(argv))
				hasCmd = true
			}
		case "interval":
			if ms, ok := t.secArg(c, 10, 3600000); ok {
				interval = ms
			}
		case "timeout":
			if ms, ok := t.secArg(c, 1, 3600000); ok {
				timeout, tline = ms, c
			}
		case "weight":
			if len(c.args) > 1 && c.args[1] == "reverse" {
				t.skip(b, c, "reverse weights are not supported")
				c.args = c.args[:1]
			}
			if n, ok := t.intArg(c, -254, 254); ok {
				b.set("weight", num(n))
				if t.scriptW == nil {
					t.scriptW = map[string]int{}
				}
				t.scriptW[name] = int(n)
			}
		case "rise", "fall":
			if n, ok := t.intArg(c, 1, 100); ok {
				b.set(c.kw, num(n))
			}
		default:
			if why, ok := scriptNot[c.kw]; ok {
				t.skip(b, c, why)
				continue
			}
			t.unknown(b, c, scriptKnown, scriptNot)
		}
	}
	b.set("interval", dur(interval))
	if timeout >= 0 {
		if timeout > interval {
			t.changed(b, tline, fmt.Sprintf("timeout %s is longer than the interval: tandem needs timeout <= interval, so it is %s", fmtMS(timeout), fmtMS(interval)))
			timeout = interval
		}
		b.set("timeout", dur(timeout))
	}
	if !hasCmd {
		t.invalid(s, "vrrp_script without a script: not translated")
		t.topNotes = append(t.topNotes, commented(b)...)
		return
	}
	t.scripts = append(t.scripts, b)
}

// command splits a script line as a shell would; one that needs a shell
// (pipes, redirections, variables) or a relative path runs under /bin/sh.
func (t *tr) command(b *blk, s *stmt) ([]string, bool) {
	if len(s.args) == 0 {
		t.invalid(s, "missing command")
		return nil, false
	}
	line := strings.Join(s.args, " ")
	argv, shell := shellSplit(line)
	if len(argv) == 0 {
		t.invalid(s, "empty command")
		return nil, false
	}
	if shell || !strings.HasPrefix(argv[0], "/") {
		t.changed(b, s, "run with /bin/sh -c: tandem runs commands by absolute path without a shell")
		return []string{"/bin/sh", "-c", line}, true
	}
	return argv, true
}

// shellSplit splits words with shell quoting; shell reports characters
// only a shell would interpret.
func shellSplit(s string) ([]string, bool) {
	var out []string
	var cur strings.Builder
	in, shell := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			in = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return out, true
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			in = true
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '$' || s[j] == '`' {
					shell = true
				}
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				cur.WriteByte(s[j])
			}
			if j >= len(s) {
				return out, true
			}
			i = j
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		case strings.IndexByte("|&;<>()$`*?[]~{}#", c) >= 0:
			shell = true
			in = true
			cur.WriteByte(c)
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, shell
}

var vrrpKnown = map[string]string{
	"state": "", "interface": "", "virtual_router_id": "", "priority": "", "advert_int": "", "virtual_ipaddress": "",
	"virtual_ipaddress_excluded": "", "unicast_src_ip": "", "unicast_peer": "", "nopreempt": "", "preempt": "",
	"preempt_delay": "", "version": "", "authentication": "", "track_interface": "", "track_script": "",
	"notify": "", "notify_master": "", "notify_backup": "", "notify_fault": "", "notify_stop": "",
	"garp_master_delay": "", "garp_master_repeat": "", "garp_master_refresh": "", "garp_interval": "", "gna_interval": "",
	"lvs_sync_daemon_interface": "", "accept": "", "no_accept": "",
}

var vrrpNot = map[string]string{
	"use_vmac":                   "tandem adds the VIPs to the interface itself; it has no VRRP MAC interface",
	"vmac_xmit_base":             "tandem has no VRRP MAC interface",
	"use_ipvlan":                 "tandem has no ipvlan interface",
	"dont_track_primary":         "tandem always follows the instance's interface",
	"smtp_alert":                 "tandem sends no e-mail; use notify",
	"track_process":              "tandem has no process tracking; a track_script (pidof) does the same",
	"track_bfd":                  "tandem has no BFD",
	"track_file":                 "tandem has no file tracking; a track_script that reads the file does the same",
	"auth_hmac":                  "not supported",
	"mcast_src_ip":               "tandem sends adverts from the interface's primary address",
	"virtual_routes":             "tandem does not manage routes",
	"virtual_rules":              "tandem does not manage policy rules",
	"notify_master_rx_lower_pri": "not supported",
	"notify_deleted":             "not supported",
	"strict_mode":                "tandem has no strict mode",
	"native_ipv6":                "not needed",
	"debug":                      "use tandem's log_level",
	"skip_check_adv_addr":        "tandem checks adverts its own way",
	"check_unicast_src":          "tandem drops unicast adverts from addresses that are not peers",
	"unicast_ttl":                "tandem sends adverts with TTL 255",
	"unicast_fault_no_peer":      "not supported",
	"garp_lower_prio_delay":      "tandem sends no GARP on a lower-priority advert",
	"garp_lower_prio_repeat":     "tandem sends no GARP on a lower-priority advert",
	"garp_master_refresh_repeat": "tandem sends the garp count at each refresh",
	"lower_prio_no_advert":       "not supported",
	"higher_prio_send_advert":    "not supported",
	"kernel_rx_buf_size":         "not needed",
	"track_src_ip":               "not supported",
	"vrrp_linkbeat_use_polling":  "tandem follows links through netlink",
	"linkbeat_use_polling":       "tandem follows links through netlink",
	"promote_secondaries":        "not supported",
	"no_accept":                  "",
}

func (t *tr) vrrpInstance(s *stmt) {
	if len(s.args) == 0 {
		t.invalid(s, "vrrp_instance without a name: ignored")
		return
	}
	name := t.name("vrrp", s.args[0])
	if name != s.args[0] {
		t.changed(nil, s, fmt.Sprintf("renamed %q to %q (tandem's name rules)", clip(s.args[0]), name))
	}
	v := &vinst{name: name, file: s.file, line: s.line, preempt: true}
	b := &blk{typ: "vrrp", labels: []string{name}}
	v.b = b
	for _, n := range []string{"vrid", "interface", "addresses", "version", "advert_interval", "preempt", "preempt_delay", "unicast_peers", "priorities", "auth_pass", "track_interfaces", "track_scripts", "notify"} {
		b.set(n, cty.NilVal)
	}
	iface := ""
	var excl []*stmt
	var vips []*stmt
	notify := map[string]*stmt{}
	var notifyOrder []string
	seen := map[string]int{}
	for _, c := range s.block {
		t.once(seen, c)
		switch c.kw {
		case "state":
			if a, ok := t.arg(c); ok {
				t.changed(nil, c, fmt.Sprintf("tandem has no initial state (%s): the higher priority becomes master", clip(a)))
			}
		case "interface":
			if a, ok := t.arg(c); ok {
				if !validIface(a) {
					t.invalid(c, fmt.Sprintf("%q is not an interface name", clip(a)))
					continue
				}
				iface = a
				b.set("interface", str(a))
			}
		case "virtual_router_id":
			if n, ok := t.intArg(c, 1, 255); ok {
				b.set("vrid", num(n))
			}
		case "priority":
			if n, ok := t.intArg(c, 0, 255); ok {
				if n == 255 {
					t.changed(nil, c, "255 belongs to an address owner: tandem uses 254")
					n = 254
				}
				if n == 0 {
					t.invalid(c, "priority 0 is reserved: 1 used")
					n = 1
				}
				v.prio, v.hasPrio = int(n), true
			}
		case "advert_int":
			if ms, ok := t.secArg(c, 10, 255000); ok {
				v.advertMS, v.advLine = ms, c.line
			}
		case "virtual_ipaddress":
			vips = append(vips, c)
		case "virtual_ipaddress_excluded":
			excl = append(excl, c)
		case "unicast_src_ip":
			if a, ok := t.arg(c); ok {
				if ip, err := netip.ParseAddr(a); err == nil && ip.Zone() == "" {
					v.src = ip.Unmap().String()
				} else {
					t.invalid(c, fmt.Sprintf("%q is not an IP address", clip(a)))
				}
			}
		case "unicast_peer":
			for _, p := range c.block {
				if ip, err := netip.ParseAddr(p.kw); err == nil && ip.Zone() == "" {
					v.peers = append(v.peers, ip.Unmap().String())
					if len(p.args) > 0 {
						t.skip(b, p, "peer options (min_ttl, max_ttl) are not supported")
					}
				} else {
					t.invalid(p, "not an IP address: ignored")
				}
			}
		case "nopreempt":
			v.preempt = false
			b.set("preempt", cty.False)
		case "preempt":
			v.preempt = true
			b.del("preempt")
		case "preempt_delay":
			if ms, ok := t.secArg(c, 0, 1000000); ok {
				b.set("preempt_delay", dur(ms))
				v.delayLine = c.line
			}
		case "version":
			if n, ok := t.intArg(c, 2, 3); ok {
				v.version = int(n)
			}
		case "authentication":
			t.auth(b, c)
		case "track_interface":
			var ifs []string
			for _, p := range c.block {
				if !validIface(p.kw) {
					t.invalid(p, "not an interface name: ignored")
					continue
				}
				ifs = append(ifs, p.kw)
				if len(p.args) > 0 {
					t.changed(b, p, "interface weights are not supported: the instance goes to FAULT while the interface is down")
				}
			}
			b.set("track_interfaces", strs(ifs))
		case "track_script":
			var ss []string
			for _, p := range c.block {
				n := nameOf(p.kw, "")
				if n == "" {
					t.invalid(p, "not a script name: ignored")
					continue
				}
				ss = append(ss, n)
				if len(p.args) > 0 {
					t.skip(b, p, "per-instance weight overrides are not supported: the track_script's own weight applies")
				}
			}
			b.set("track_scripts", strs(ss))
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			if _, ok := notify[c.kw]; !ok {
				notifyOrder = append(notifyOrder, c.kw)
			}
			notify[c.kw] = c
		case "garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_interval", "gna_interval":
			t.garpSetting(&v.garp, c.kw, c)
		case "lvs_sync_daemon_interface":
			t.syncDaemon(c, name)
		case "accept":
			b.set("accept", cty.True)
		case "no_accept":
			b.del("accept")
		default:
			if why, ok := vrrpNot[c.kw]; ok {
				t.skip(b, c, why)
				continue
			}
			t.unknown(b, c, vrrpKnown, vrrpNot)
		}
	}
	for _, c := range vips {
		t.vips(v, c, iface, false)
	}
	for _, c := range excl {
		t.vips(v, c, iface, true)
	}
	t.notify(b, notify, notifyOrder, "INSTANCE")
	if !v.preempt {
		if _, ok := b.get("preempt_delay"); ok {
			b.del("preempt_delay")
			if v.delayLine > 0 {
				t.r.add(s.file, v.delayLine, "preempt_delay", importer.Changed, "ignored with nopreempt, as keepalived does")
			}
		}
	}
	t.vrrps = append(t.vrrps, v)
}

func (t *tr) auth(b *blk, c *stmt) {
	typ, pass := "", ""
	var passLine *stmt
	for _, p := range c.block {
		switch p.kw {
		case "auth_type":
			typ, _ = t.arg(p)
		case "auth_pass":
			pass, _ = t.arg(p)
			passLine = p
		default:
			t.unknown(b, p, map[string]string{"auth_type": "", "auth_pass": ""})
		}
	}
	switch strings.ToUpper(typ) {
	case "PASS", "":
		if pass == "" {
			return
		}
		if len(pass) > 8 {
			t.changed(b, passLine, "keepalived uses only the first 8 characters: tandem too")
			pass = pass[:8]
			for !utf8Valid(pass) {
				pass = pass[:len(pass)-1]
			}
		}
		b.set("auth_pass", str(pass))
	case "AH":
		t.skip(b, c, "IPsec AH authentication is not supported")
	default:
		t.invalid(c, fmt.Sprintf("unknown auth_type %q", clip(typ)))
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// notify translates notify* lines: notify is tandem's notify (the same
// arguments: INSTANCE|GROUP, name, state and, for instances, priority);
// notify_master/backup/fault/stop become one /bin/sh dispatcher on the
// state.
func (t *tr) notify(b *blk, m map[string]*stmt, order []string, kind string) {
	if len(m) == 0 {
		return
	}
	if n, ok := m["notify"]; ok && len(m) == 1 {
		if argv, ok := t.command(b, n); ok {
			b.set("notify", strs(argv))
		}
		return
	}
	var cases []string
	if n, ok := m["notify"]; ok {
		cases = append(cases, strings.Join(n.args, " ")+` "$@"`)
	}
	var sw []string
	for _, k := range order {
		st := strings.ToUpper(strings.TrimPrefix(k, "notify_"))
		if k == "notify" {
			continue
		}
		c := m[k]
		if len(c.args) == 0 {
			t.invalid(c, "missing command")
			continue
		}
		sw = append(sw, fmt.Sprintf("%s) %s ;;", st, strings.Join(c.args, " ")))
	}
	first := m[order[0]]
	script := ""
	if len(cases) > 0 {
		script = cases[0] + "; "
	}
	script += `case "$3" in ` + strings.Join(sw, " ") + " esac"
	b.set("notify", strs([]string{"/bin/sh", "-c", script, "notify"}))
	t.changed(b, first, fmt.Sprintf("tandem has one notify, called with %s NAME STATE%s: the notify_* commands run from a /bin/sh dispatcher on the state", kind, map[bool]string{true: " PRIORITY", false: ""}[kind == "INSTANCE"]))
}

func (t *tr) vips(v *vinst, c *stmt, iface string, excluded bool) {
	if excluded {
		t.changed(v.b, c, "tandem moves these addresses like the others and lists them in its adverts too")
	}
	short := false
	for _, p := range c.block {
		a := p.kw
		var pf netip.Prefix
		if strings.Contains(a, "/") {
			x, err := netip.ParsePrefix(a)
			if err != nil {
				t.invalid(p, fmt.Sprintf("%q is not an address: ignored", clip(a)))
				continue
			}
			pf = x
		} else {
			ip, err := netip.ParseAddr(a)
			if err != nil {
				t.invalid(p, fmt.Sprintf("%q is not an address: ignored", clip(a)))
				continue
			}
			pf = netip.PrefixFrom(ip, ip.BitLen())
			if !short {
				t.changed(v.b, p, fmt.Sprintf("no prefix length: /%d as keepalived does (no subnet route); write the subnet's length if the VIP should carry one", ip.BitLen()))
				short = true
			}
		}
		if pf.Addr().Zone() != "" {
			t.invalid(p, "zoned address: ignored")
			continue
		}
		if pf.Addr().Is4In6() {
			pf = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96)
		}
		ip := pf.Addr()
		if ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() || ip == netip.MustParseAddr("255.255.255.255") || pf.Bits() <= 0 {
			t.invalid(p, fmt.Sprintf("%s can never be a VIP: ignored", pf))
			continue
		}
		if len(v.addrs) > 0 && v.addrs[0].Addr().Is4() != ip.Is4() {
			t.invalid(p, "an instance's addresses are all of one family: ignored (put it in an instance of its own)")
			continue
		}
		if t.vipOwner == nil {
			t.vipOwner = map[netip.Addr]string{}
		}
		if o, ok := t.vipOwner[ip]; ok {
			t.invalid(p, fmt.Sprintf("%s is already an address of vrrp %s: ignored", ip, o))
			continue
		}
		t.vipOwner[ip] = v.name
		v.addrs = append(v.addrs, pf)
		for i := 0; i < len(p.args); i++ {
			opt := p.args[i]
			val := ""
			if i+1 < len(p.args) {
				val = p.args[i+1]
			}
			switch opt {
			case "dev":
				if val != iface {
					t.changed(v.b, p, fmt.Sprintf("dev %s: tandem adds every address to the instance's interface %s", clip(val), iface))
				}
				i++
			case "label", "scope", "brd", "broadcast", "preferred_lft", "track_group":
				t.skip(v.b, p, fmt.Sprintf("%s: address options are not supported", opt))
				i++
			case "no_track", "home", "-":
				t.skip(v.b, p, fmt.Sprintf("%s: address options are not supported", opt))
			default:
				t.invalid(p, fmt.Sprintf("unknown address option %q: ignored", clip(opt)))
			}
		}
	}
}

var groupNot = map[string]string{
	"smtp_alert":                 "tandem sends no e-mail; use notify",
	"global_tracking":            "not supported",
	"sync_group_tracking_weight": "not supported",
	"track_interface":            "put track_interfaces in each vrrp",
	"track_script":               "put track_scripts in each vrrp",
	"track_file":                 "tandem has no file tracking",
	"track_process":              "tandem has no process tracking",
	"track_bfd":                  "tandem has no BFD",
	"notify_deleted":             "not supported",
}

var groupKnown = map[string]string{"group": "", "notify": "", "notify_master": "", "notify_backup": "", "notify_fault": "", "notify_stop": ""}

func (t *tr) syncGroup(s *stmt) {
	if len(s.args) == 0 {
		t.invalid(s, "vrrp_sync_group without a name: ignored")
		return
	}
	name := t.name("sync_group", s.args[0])
	b := &blk{typ: "sync_group", labels: []string{name}}
	b.set("instances", cty.NilVal)
	var inst []string
	notify := map[string]*stmt{}
	var order []string
	for _, c := range s.block {
		switch c.kw {
		case "group":
			for _, p := range c.block {
				inst = append(inst, p.kw)
			}
		case "notify", "notify_master", "notify_backup", "notify_fault", "notify_stop":
			if _, ok := notify[c.kw]; !ok {
				order = append(order, c.kw)
			}
			notify[c.kw] = c
		default:
			if why, ok := groupNot[c.kw]; ok {
				t.skip(b, c, why)
				continue
			}
			if !c.isBlk && len(c.args) == 0 {
				t.changed(nil, c, "an instance name outside group { }: read as a member")
				inst = append(inst, c.kw)
				continue
			}
			t.unknown(b, c, groupKnown, groupNot)
		}
	}
	var names []string
	for _, i := range inst {
		names = append(names, nameOf(i, i))
	}
	b.set("instances", strs(names))
	t.notify(b, notify, order, "GROUP")
	if t.groupLines == nil {
		t.groupLines = map[*blk]int{}
	}
	t.groupLines[b] = s.line
	t.groups = append(t.groups, b)
}

// garpSetting reads one gratuitous-ARP keyword (an instance's, or
// global_defs' without its vrrp_ prefix) into g.
func (t *tr) garpSetting(g *garp, kw string, s *stmt) {
	switch kw {
	case "garp_master_delay", "garp_master_refresh":
		if n, ok := t.intArg(s, 0, 1000000); ok {
			ms := n * 1000
			if kw == "garp_master_delay" {
				g.delay = &ms
			} else {
				g.refresh = &ms
			}
		}
	case "garp_master_repeat":
		if n, ok := t.intArg(s, 0, 10000); ok {
			g.repeat = &n
		}
	case "garp_interval", "gna_interval":
		if ms, ok := t.secArg(s, 0, 1000000000); ok {
			g.interval = &ms
		}
	}
}
