// Package keepalived imports keepalived.conf into a tandem cluster file
// (`tandem import keepalived`). It reads the files as keepalived 2.x's
// parser (keepalived/core/parser.c) does and translates each keyword, or
// reports it; nothing is dropped silently.
//
// # Reading
//
// Lines are cut into words at white space; "quoted strings" are one word;
// # and ! at the start of a word begin a comment; { and } are words of
// their own, so a block may open on the next line or close on the same
// one. include takes globs relative to the including file's directory,
// nested up to 16 deep. $NAME=value defines a variable and $NAME or
// ${NAME} is replaced by its text. ~SEQ lines are reported, not expanded.
// Bounds: 8 MiB a file, 32 MiB and 1000 files a node, 64 KiB a line,
// 1 Mi words, blocks 32 deep, 1000 findings; past them the input is cut
// with a finding, never a panic.
//
// Conditional lines (@ID line, @^ID line) apply when ID is the node's
// config id: its router_id or its file's name (base name, without .conf).
// A single file whose conditional lines name exactly two ids, none of
// them its own, is the shared file of a pair run with keepalived -i: it
// becomes two nodes named after the ids. Skipped lines are findings.
//
// # Translating
//
// One file gives one node (named after router_id, else the file name)
// and a commented template of the peer. Two files give two nodes: the
// first file gives the structure, each file its node's priorities
// (node.priority is its first instance's, vrrp.priorities the others)
// and unicast addresses (unicast_peers lists every node's unicast_src_ip
// and unicast_peer, as tandem skips its own); a block that differs
// otherwise between the files is a finding.
//
// Choices where keepalived and tandem differ:
//   - VRRP version: keepalived's default is 2 (3 for IPv6), written out;
//     a fractional advert_int of a version 2 instance is rounded to whole
//     seconds, as keepalived rounds it (so that a keepalived peer still
//     takes the adverts mid-migration).
//   - A VIP without /LEN is /32 (/128), as keepalived adds it.
//   - A virtual server whose address is no VIP goes to
//     director.static_vips.
//   - notify is tandem's notify unchanged (the same arguments);
//     notify_master/_backup/_fault/_stop become one /bin/sh dispatcher on
//     the state ($3). A command that is not an absolute path or needs a
//     shell runs under /bin/sh -c.
//   - Checks: keepalived marks a real server down after retry+1 failures
//     and up after one success, so fall = retry+1 (retry defaults to 1,
//     0 for MISC_CHECK) and rise = 1; interval = delay_loop (default
//     60s); timeout = connect_timeout (default 5s), at most the interval.
//     One check per real server (the first); the first url of an http
//     check. SSL_GET does not verify certificates, nor does the import
//     (tls.insecure_skip_verify = true).
//   - What keepalived ignores stays ignored, with a finding: a scheduler
//     not in lower case, a forwarding method not in capitals, an
//     nb_get_retry outside HTTP_GET and SSL_GET. A virtual server
//     without protocol is UDP, as keepalived runs it.
package keepalived
