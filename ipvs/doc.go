// Package ipvs owns tandem's Linux Virtual Server table: a plain model of
// virtual services and their real servers ([Table]), a pure diff between the
// table the kernel has and the one tandem wants ([Diff]), the code that applies
// that diff through IPVS generic netlink (tandem's own codec, behind the
// narrow [Kernel] interface), and the director's host settings: the
// ip_forward and send_redirects sysctls and a source-NAT (masquerade) rule in
// tandem's own nftables table.
//
// The package knows nothing about VRRP, health checks or the configuration
// file: the binary builds a [Table] from the configuration and the health
// verdicts, and hands it to a [Reconciler].
//
// # Ownership
//
// tandem owns only the services named in the table it is given, plus the
// services it is told to retire (named in the previous configuration, gone
// from the new one). Any other service in the kernel is foreign: it is never
// modified, and is reported in [Result.Foreign]. Closing a [Reconciler] never
// flushes the kernel table, so established connections survive a restart of
// tandem.
//
// # Normalisation
//
// The kernel does not read back exactly what was written (it adds the HASHED
// flag, it keeps a netmask and a timeout on services that have no use for
// them, and moby/ipvs, which tandem read through before, could not read the
// persistence-engine name). [Normalize]
// maps both sides of a comparison to one canonical form, so that a second
// reconcile with nothing changed writes nothing.
//
// # Concurrency
//
// The pure parts ([Diff], [Normalize], [Foreign], the table types) have no
// shared state. A netlink socket would interleave the replies of
// concurrent requests, so a [Reconciler] runs one owner goroutine that
// alone calls its [Kernel]; every method of a Reconciler may be called from
// any goroutine and is serialised through that owner. A [Kernel]
// implementation is called from one goroutine at a time and need not lock,
// except [MemKernel], which locks so that tests may inspect it at any time.
// The kernel handle of [Open] may fan one call out over its sockets (see
// below), but returns only when they are all idle again.
//
// # Reading the table back
//
// The kernel lists destinations per service only (IPVS_CMD_GET_DEST needs
// the service), and runs one dump at a time per socket, so a full read is
// a service dump and then one destination dump per service: 1 001 round
// trips for 1 000 services. The kernel handle of [Open] keeps a few
// sockets that only read ([Options.ReadSockets], [DefaultReadSockets]),
// opened with the writing one in its namespace, and runs the destination
// dumps on all of them at once. It reads in page-sized buffers, since the
// kernel allocates every datagram of a dump at the size of the largest
// read the socket has seen, and takes a dump's data and its end in one
// recvmmsg. In the lab VM, a read of 1 000 services × 10 destinations
// takes about a quarter of `ipvsadm -Ln`'s time, against some 40% before
// (BENCHMARKS.md); most of the gain is the buffer size, the extra sockets
// add 5 to 15%. [Reconciler.Status] is the same read with the counters of
// every service and destination ([Stats], [Conns]).
//
// # Pipelined writes
//
// The kernel handle of [Open] writes without a round trip per op: it
// encodes up to a few hundred IPVS requests, each with its own sequence
// number and asking for an ack, into one datagram, sends it with one
// sendmsg, then matches the acks to the requests by sequence number. The
// kernel handles the requests of one datagram in order (netlink_rcv_skb),
// so a service add and its destination adds may share a datagram. After a
// failed request the kernel goes on with the rest of its datagram; the
// handle then sends nothing more, and reports the first failure together
// with every op the kernel did apply ([Result.Ops]).
//
// Why not moby/ipvs, the library tandem started on: it does one round trip
// per op (11 000 writes took 2.2 s in the lab VM against 0.48 s
// pipelined, see BENCHMARKS.md), it looks the IPVS family up once per
// process and then silently talks to family 0 if that failed, and it runs
// modprobe and logs through logrus as side effects. tandem's codec is
// checked byte for byte against moby's encoding (TestEncodeLikeMoby), and
// in the lab the table tandem writes is read back through moby/ipvs and
// ipvsadm, as independent witnesses (integration/scenarios).
//
// # Connection sync and timeouts
//
// A [Control] ([OpenControl]) has a socket of its own for the IPVS
// settings outside the table: the kernel's connection-sync daemons
// (IPVS_CMD_NEW_DAEMON, DEL_DAEMON and GET_DAEMON, which moby/ipvs
// declares but never sends) and the TCP, TCP-FIN and UDP timeouts
// (IPVS_CMD_SET_CONFIG, GET_CONFIG). [DiffDaemons] is the pure part:
// running daemons and wanted ones in, roles to stop and daemons to start
// out; [Control.SetDaemons] reads, diffs and applies, so a second call
// writes nothing. A Control is safe for concurrent use.
//
// The director settings ([ApplySysctls], [UndoSysctls], [ApplyMasquerade],
// [RemoveMasquerade]) are plain functions for the main loop to call; they take
// no locks, and two concurrent calls may race on the same files.
package ipvs
