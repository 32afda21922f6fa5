// Package conf owns tandem's cluster file: the HCL schema, the defaults,
// validation with positioned diagnostics, and each node's view of the
// cluster.
//
// One cluster file describes a whole active/standby pair and is deployed
// unchanged to both directors; each director finds its own node block with
// Cluster.NodeForHost or Cluster.Node. README.md in this directory is the
// reference for every block and attribute.
//
// # Contract
//
// Parse (and Load, which reads the file first) parses, decodes, fills in
// defaults and validates in one pure call. It either returns an immutable
// Cluster and no error diagnostics, or a nil Cluster and every error it
// found: unknown attributes and blocks, wrong types, bad addresses,
// duplicates, broken references and impossible combinations. Each error is
// an hcl.Diagnostic of severity error with a Subject range (the offending
// value, attribute name or block label) and a Detail that ends with a hint.
// There are no warnings: anything doubtful is an error.
//
// Print diagnostics with Files.WriteDiagnostics, which gives
// "file:line:col: error: summary; detail" and a source snippet, or
// FormatDiagnostic for one line.
//
// conf has no side effects: it never touches the network, the kernel or any
// file other than the one Load reads, and it imports no other tandem
// package. The wiring builds each package's own config type (vrrp,
// healthcheck, ipvs) from the Cluster.
//
// # Concurrency
//
// A Cluster is read-only once returned and safe for concurrent reads.
// Parse and Load may be called from any goroutine.
package conf
