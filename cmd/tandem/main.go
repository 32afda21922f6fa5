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
//	tandem release -c FILE             after an unclean exit of run (the
//	                                   unit's ExecStopPost=), remove the
//	                                   VIPs it left
//	tandem version                     print the version, commit and build
//	tandem completion bash|zsh|fish    print a shell completion script
//	tandem man DIR                     write the man pages: tandem(1), one
//	                                   per subcommand, tandem-cluster(5)
//
// The command line is a cobra tree (internal/cli has its conventions):
// `tandem help CMD` and `CMD --help` print help to stdout; flags have
// their long form (--config, with -c as the shorthand) and Go's
// single-dash form (-node) is read as well. Exit status: 0 success, 1 a
// runtime error or an invalid file, 2 a usage error.
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
// `plan` and `reload` use; the socket serves root, tandem's own user and,
// with --socket-group, that group's members, checked with SO_PEERCRED).
// Flags, the file, its scripts, privileges, interfaces, IPVS, the metrics
// port and the VIPs (an ARP probe or duplicate address detection: one
// that another host answers for, with no VRRP router advertising its
// VRID, is a conflict) are all checked before anything is written, and a
// start that fails undoes the sysctls it wrote. --realtime and --lock-memory are keepalived's
// vrrp_rt_priority and vrrp_no_swap: SCHED_RR for the whole process and
// mlockall, against false failovers on a loaded host.
//
// The director runtime is internal/director; the control socket
// internal/control; `tandem realserver` internal/realserver; the man
// pages' roff internal/manpage.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tandem-lb/tandem/cmd/tandem/internal/cli"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/director"
	"github.com/tandem-lb/tandem/cmd/tandem/internal/realserver"
)

func main() {
	os.Exit(tandem(os.Args[1:], os.Stdout, os.Stderr))
}

// tandem runs the command line args and returns the exit status.
func tandem(args []string, stdout, stderr io.Writer) int {
	return cli.Execute(newRoot(stdout, stderr), args, stdout, stderr)
}

// defaultConfig is where every subcommand looks for the cluster file.
const defaultConfig = "/etc/tandem/cluster.hcl"

// newRoot returns tandem's command tree, writing to stdout and stderr:
// each subcommand writes to its command's OutOrStdout and ErrOrStderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "tandem",
		Short: "an LVS director pair from one cluster file (VRRP, IPVS, health checks)",
		Long: `tandem turns two Linux boxes into an active/standby LVS director pair from
one cluster file (tandem-cluster(5)): VRRP moves the VIPs, the kernel's IPVS
balances, health checks take real servers in and out.

` + cli.ExitStatus,
		Version: versionText(),
		// With no command, the usage on stderr, as a usage error. (An
		// unknown command is an error before this runs.)
		RunE: func(c *cobra.Command, _ []string) error {
			io.WriteString(c.ErrOrStderr(), c.UsageString())
			return cli.Exit(cli.ExitUsage)
		},
		DisableAutoGenTag: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("{{.Version}}")
	root.AddCommand(
		runCommand(),
		checkCommand(),
		planCommand(),
		reloadCommand(),
		statusCommand(),
		maintainCommand(director.ModeDrain, "drain a real server: weight 0, established connections finish"),
		maintainCommand(director.ModeDisable, "disable a real server: weight 0, then out of the table once drained (--now: at once)"),
		maintainCommand(director.ModeEnable, "give a real server back to its checks' verdict"),
		drainNodeCommand(),
		cli.Wrap(&cobra.Command{
			Use:   "realserver",
			Short: "prepare this host as a DR/TUN real server of the cluster file (--undo reverts)",
			Long: `realserver prepares this host as a direct-routing or tunnelling real server:
the VIPs on lo (DR) or a tunnel device (TUN), ARP settings, rp_filter; from
the cluster file (-c FILE, with --name or --address to pick the real
servers) or without one (--mode dr|tun --vip ADDR...). -n prints what it
would do; --undo removes exactly what earlier runs added. Its flags are
Go's: -c, -n and the long ones with one dash or two.`,
			Example: `  tandem realserver -c /etc/tandem/cluster.hcl
  tandem realserver --mode dr --vip 203.0.113.10
  tandem realserver --undo`,
		}, realserver.Main),
		cli.Wrap(&cobra.Command{
			Use:   "release",
			Short: "after an unclean exit of tandem run, remove the VIPs it left (systemd ExecStopPost=)",
			Long: `release is what the systemd unit's ExecStopPost= runs: after a tandem run that
did not exit cleanly (SIGKILL, a crash, the watchdog) it removes the VIPs
tandem added and stops the IPVS sync master daemon. After a clean exit
(SERVICE_RESULT=success) it does nothing unless --force; while a tandem run
holds the node's lock it does nothing. Its flags are Go's: -c and the long
ones with one dash or two.`,
		}, cmdRelease),
		importCommand(),
		versionCommand(),
		manCommand(),
	)
	// cobra's completion command, with a wrong or missing shell as a
	// usage error rather than its help.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = func(c *cobra.Command, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unknown shell %q (bash, zsh, fish or powershell)", args[0])
				}
				return nil
			}
			c.RunE = func(c *cobra.Command, args []string) error {
				fmt.Fprintf(c.ErrOrStderr(), "tandem completion: which shell? bash, zsh, fish or powershell\n%s", c.UsageString())
				return cli.Exit(cli.ExitUsage)
			}
		}
	}
	return root
}

// runFlags are tandem run's flags, which cmdRun reads.
type runFlags struct {
	path, node, logFormat, logLevel, socket *string
	socketGroup                             *string
	resync                                  *time.Duration
	noIPVS, lockMemory                      *bool
	realtime                                *int
}

func runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "apply the cluster file and keep it applied (the daemon)",
		Long: `run programs the kernel's IPVS table and the director's settings
(ip_forward, send_redirects, masquerading), re-applies them every --resync,
reloads the file on tandem reload or SIGHUP, touching only what changed (a
bad file keeps the running config), and exits on SIGTERM or SIGINT leaving
the table in place, so connections survive a restart. It runs the node's
VRRP instances (VIPs, gratuitous ARPs, notify hooks) and, on SIGTERM, hands
the VIPs over (priority 0). One run per node: a second is refused. Flags,
the file and its scripts, privileges, interfaces, IPVS, the metrics port
and the VIPs (an ARP probe, or duplicate address detection for IPv6: an
address another host answers for, with no VRRP router advertising its VRID,
is a conflict) are all checked before anything is written; a start that
fails says why in one line and exits 1.

The control socket (tandem status, reload, plan, drain...) serves root
only: it is mode 0600 and each caller is checked with SO_PEERCRED. With
--socket-group GROUP it is 0660 and of that group, and members of GROUP
(their primary or a supplementary group) are served too; anyone else gets
"refused" and the refusal is logged with the caller's uid and pid.`,
		Example: `  tandem run -c /etc/tandem/cluster.hcl --node director1`,
		Args:    cli.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return cli.Exit(cmdRun(&f, c.OutOrStdout(), c.ErrOrStderr()))
		},
	}
	fs := cmd.Flags()
	f.path = fs.StringP("config", "c", defaultConfig, "cluster file")
	f.node = fs.String("node", "", "this director's node name (default: the node whose hostname matches)")
	f.logFormat = fs.String("log-format", "text", "log format: text or json")
	f.logLevel = fs.String("log-level", "", "log level: debug, info, warn, error (default: the file's director.log_level, else info)")
	f.socket = fs.String("socket", defaultSocket(), "the control socket (tandem reload, tandem plan)")
	f.socketGroup = fs.String("socket-group", "", "also serve this group's members (name or number) on the control socket, made 0660 and of that group; default: root only")
	f.resync = fs.Duration("resync", 30*time.Second, "re-read the kernel and repair drift this often (100ms..24h)")
	f.noIPVS = fs.Bool("no-ipvs", false, "VRRP only: leave IPVS and the director settings alone (hosts without IPVS, tests)")
	f.realtime = fs.Int("realtime", 0, "run under SCHED_RR at this priority, 1..99 (keepalived's vrrp_rt_priority); 0 = off")
	f.lockMemory = fs.Bool("lock-memory", false, "lock the process's memory against swapping (keepalived's vrrp_no_swap)")
	cmd.RegisterFlagCompletionFunc("config", hclFiles)
	cmd.RegisterFlagCompletionFunc("log-format", fixed("text", "json"))
	cmd.RegisterFlagCompletionFunc("log-level", fixed("debug", "info", "warn", "error"))
	return cmd
}

// hclFiles completes a cluster file name.
func hclFiles(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return []string{"hcl"}, cobra.ShellCompDirectiveFilterFileExt
}

// fixed completes one of values.
func fixed(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
