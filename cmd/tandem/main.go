// Command tandem turns two Linux boxes into an active/standby LVS director
// pair from one cluster file.
//
//	tandem run -c FILE [--node NAME]   apply the file and keep it applied
//	tandem check -c FILE [--node NAME] validate the file: exit 0, or print
//	                                   every diagnostic and exit 1; with
//	                                   --node, that node's view, and on that
//	                                   node its interfaces and addresses
//	tandem plan -c FILE                what a reload with FILE would change
//	                                   (--kernel: a start, with no daemon)
//	tandem reload                      reload the running daemon's file and
//	                                   print what changed
//	tandem status                      the running daemon's VRRP state and
//	                                   table with each real server's health
//	                                   (--json, --stats, --rate)
//	tandem drain|disable|enable VS RS  take a real server out for
//	                                   maintenance (weight 0; out of the
//	                                   table once drained, or --now), or
//	                                   give it back to its checks
//	tandem realserver -c FILE          prepare this host as a DR/TUN real
//	                                   server of the file (--undo reverts)
//	tandem version                     print the version
//
// `run` programs the kernel's IPVS table and the director's settings
// (ip_forward, send_redirects, masquerading), re-applies them every
// --resync, reloads the file on `tandem reload` or SIGHUP, touching only
// what changed (a bad file keeps the running config), and exits on
// SIGTERM or SIGINT leaving the table in place, so connections survive a
// restart. It runs the node's VRRP instances (VIPs, gratuitous ARPs,
// notify hooks) and, on SIGTERM, hands the VIPs over (priority 0).
// --no-ipvs runs VRRP only, leaving IPVS and the director settings alone,
// for hosts without IPVS and for tests. One run per node: a second is
// refused (a lock under /run/tandem, beside the control socket that
// `plan` and `reload` use). Flags, the file, privileges and interfaces are
// all checked before anything is written, and a start that fails undoes
// the sysctls it wrote. --realtime and --lock-memory are keepalived's
// vrrp_rt_priority and vrrp_no_swap: SCHED_RR for the whole process and
// mlockall, against false failovers on a loaded host.
//
// The director runtime is internal/director; the control socket
// internal/control; `tandem realserver` internal/realserver.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/realserver"
)

// version is set at link time (-ldflags "-X main.version=..."); otherwise
// the module's build info is used.
var version = ""

func main() {
	os.Exit(tandem(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  tandem run -c FILE [--node NAME] [--log-format text|json] [--log-level LEVEL] [--resync DURATION] [--no-ipvs]
             [--socket PATH] [--realtime PRIORITY] [--lock-memory]
  tandem reload [--socket PATH] [--json]
  tandem plan -c FILE [--socket PATH | --kernel [--node NAME]] [--json]
  tandem status [--socket PATH] [--json | --stats | --rate]
  tandem drain|enable [--socket PATH] VIRTUAL-SERVER REAL-SERVER
  tandem disable [--now] [--socket PATH] VIRTUAL-SERVER REAL-SERVER
  tandem check -c FILE [--node NAME [--local]]
  tandem realserver (-c FILE [--name NAME | --address IP] | --mode dr|tun --vip ADDR...) [-n] [--state FILE]
  tandem realserver --undo [--state FILE]
  tandem version
`

func tandem(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "reload":
		return cmdReload(args[1:], stdout, stderr)
	case "plan":
		return cmdPlan(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "drain":
		return cmdMaintain(director.ModeDrain, args[1:], stdout, stderr)
	case "disable":
		return cmdMaintain(director.ModeDisable, args[1:], stdout, stderr)
	case "enable":
		return cmdMaintain(director.ModeEnable, args[1:], stdout, stderr)
	case "realserver":
		return realserver.Main(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "tandem version: unexpected argument %q\n%s", args[1], usage)
			return 2
		}
		fmt.Fprintln(stdout, "tandem", versionString())
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tandem: unknown command %q\n%s", args[0], usage)
	return 2
}

func versionString() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}
