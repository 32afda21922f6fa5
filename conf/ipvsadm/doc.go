// Package ipvsadm imports an IPVS setup written for ipvsadm into a tandem
// cluster file: `ipvsadm-save` / `ipvsadm -Sn` output, and shell scripts of
// ipvsadm commands in the style of the classic lvs_nat.sh (variables, the
// ip_forward and send_redirects sysctls, an iptables MASQUERADE rule, a VIP
// added by hand with ifconfig or ip addr).
//
// The importer is a line reader plus a table of command → translation or
// "not translated: why": every line it does not carry over is a Finding
// (file:line) and a comment at its place in the output. It never touches
// the system (no name lookups) and never panics; the input is bounded
// (MaxInput, MaxLine).
package ipvsadm
