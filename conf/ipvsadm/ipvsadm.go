package ipvsadm

import (
	"fmt"
	"strings"
)

// An ipvsadm option: its canonical name and how many values it takes
// (-1: an optional one, as -p's timeout).
type option struct {
	name string
	args int
}

var longOpts = map[string]option{
	"add-service": {"A", 0}, "edit-service": {"E", 0}, "delete-service": {"D", 0},
	"clear": {"C", 0}, "restore": {"R", 0}, "save": {"S", 0},
	"add-server": {"a", 0}, "edit-server": {"e", 0}, "delete-server": {"d", 0},
	"list": {"L", 0}, "zero": {"Z", 0}, "set": {"set", 3},
	"start-daemon": {"start-daemon", 1}, "stop-daemon": {"stop-daemon", 1}, "help": {"h", 0},
	"version":     {"version", 0},
	"tcp-service": {"t", 1}, "udp-service": {"u", 1}, "sctp-service": {"sctp", 1},
	"fwmark-service": {"f", 1}, "scheduler": {"s", 1}, "persistent": {"p", -1},
	"netmask": {"M", 1}, "sched-flags": {"b", 1}, "ops": {"o", 0}, "ipv6": {"6", 0},
	"real-server": {"r", 1}, "gatewaying": {"g", 0}, "ipip": {"i", 0}, "masquerading": {"m", 0},
	"weight": {"w", 1}, "u-threshold": {"x", 1}, "l-threshold": {"y", 1},
	"pe": {"pe", 1}, "tun-type": {"tun-type", 1}, "tun-port": {"tun-port", 1},
	"tun-nocsum": {"tun-nocsum", 0}, "tun-csum": {"tun-csum", 0}, "tun-remcsum": {"tun-remcsum", 0},
	"numeric": {"n", 0}, "connection": {"c", 0}, "timeout": {"timeout", 0}, "daemon": {"daemon", 0},
	"stats": {"stats", 0}, "rate": {"rate", 0}, "thresholds": {"thresholds", 0},
	"persistent-conn": {"persistent-conn", 0}, "nosort": {"nosort", 0}, "sort": {"sort", 0},
	"exact": {"X", 0}, "mcast-interface": {"mcast-interface", 1}, "syncid": {"syncid", 1},
	"mcast-group": {"mcast-group", 1}, "mcast-port": {"mcast-port", 1}, "mcast-ttl": {"mcast-ttl", 1},
	"sync-maxlen": {"sync-maxlen", 1},
}

var shortOpts = map[byte]option{
	'A': {"A", 0}, 'E': {"E", 0}, 'D': {"D", 0}, 'C': {"C", 0}, 'R': {"R", 0}, 'S': {"S", 0},
	'a': {"a", 0}, 'e': {"e", 0}, 'd': {"d", 0}, 'L': {"L", 0}, 'l': {"L", 0}, 'Z': {"Z", 0},
	'h': {"h", 0}, 'v': {"version", 0},
	't': {"t", 1}, 'u': {"u", 1}, 'f': {"f", 1}, 's': {"s", 1}, 'p': {"p", -1}, 'M': {"M", 1},
	'b': {"b", 1}, 'o': {"o", 0}, '6': {"6", 0}, 'r': {"r", 1}, 'g': {"g", 0}, 'i': {"i", 0},
	'm': {"m", 0}, 'w': {"w", 1}, 'x': {"x", 1}, 'y': {"y", 1}, 'n': {"n", 0}, 'c': {"c", 0},
	'X': {"X", 0},
}

// commands: the canonical names that say what an ipvsadm line does.
var commands = map[string]bool{
	"A": true, "E": true, "D": true, "C": true, "R": true, "S": true, "a": true, "e": true,
	"d": true, "L": true, "Z": true, "set": true, "start-daemon": true, "stop-daemon": true,
	"h": true, "version": true,
}

// An ipvsadm invocation, its options by canonical name.
type invocation struct {
	cmd  string
	opts map[string][]string // values (nil slice for a flag)
	// order keeps the options in the order given, for messages.
	order []string
}

func (v *invocation) has(o string) bool { _, ok := v.opts[o]; return ok }

func (v *invocation) val(o string) string {
	if a := v.opts[o]; len(a) > 0 {
		return a[0]
	}
	return ""
}

// parseArgs reads ipvsadm's arguments (without the program name) the way
// its popt table does. An error is what ipvsadm itself would refuse.
func parseArgs(args []string) (*invocation, error) {
	v := &invocation{opts: map[string][]string{}}
	set := func(o option, vals []string) error {
		if commands[o.name] {
			if v.cmd != "" && v.cmd != o.name {
				return fmt.Errorf("more than one command (-%s and -%s)", v.cmd, o.name)
			}
			v.cmd = o.name
		}
		if _, dup := v.opts[o.name]; dup && !commands[o.name] {
			return fmt.Errorf("option %s given twice", display(o.name))
		}
		v.opts[o.name] = vals
		v.order = append(v.order, o.name)
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		var o option
		var vals []string
		inline, hasInline := "", false
		switch {
		case strings.HasPrefix(a, "--") && len(a) > 2:
			name := a[2:]
			if j := strings.IndexByte(name, '='); j >= 0 {
				name, inline, hasInline = name[:j], name[j+1:], true
			}
			var ok bool
			if o, ok = longOpts[name]; !ok {
				return nil, fmt.Errorf("unknown option --%s", clip(name))
			}
		case strings.HasPrefix(a, "-") && len(a) >= 2:
			var ok bool
			if o, ok = shortOpts[a[1]]; !ok {
				return nil, fmt.Errorf("unknown option -%s", clip(a[1:2]))
			}
			if len(a) > 2 {
				if o.args != 0 {
					inline, hasInline = a[2:], true
				} else { // bundled flags: -Ln
					for k := 2; k < len(a); k++ {
						f, ok := shortOpts[a[k]]
						if !ok || f.args > 0 {
							return nil, fmt.Errorf("unknown option %s", clip(a))
						}
						if err := set(f, nil); err != nil {
							return nil, err
						}
					}
				}
			}
		default:
			return nil, fmt.Errorf("unexpected argument %q", clip(a))
		}
		switch {
		case hasInline:
			if o.args == 0 {
				return nil, fmt.Errorf("option %s takes no value", display(o.name))
			}
			vals = []string{inline}
		case o.args > 0:
			if len(args)-1-i < o.args {
				return nil, fmt.Errorf("option %s needs a value", display(o.name))
			}
			vals = append([]string{}, args[i+1:i+1+o.args]...)
			i += o.args
		case o.args < 0: // optional value: taken when it does not look like an option
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				vals = []string{args[i+1]}
				i++
			} else {
				vals = []string{}
			}
		}
		if err := set(o, vals); err != nil {
			return nil, err
		}
	}
	if v.cmd == "" {
		return nil, fmt.Errorf("no command (-A, -a, ...)")
	}
	return v, nil
}

// display is an option as ipvsadm users write it.
func display(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	if name == "sctp" {
		return "--sctp-service"
	}
	return "--" + name
}

// clip bounds a piece of input quoted in a message.
func clip(s string) string {
	const n = 60
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
