// Package importer holds what tandem's importers share: the result of
// an import (a cluster file and what did not carry over) and its
// findings. The importers are conf/keepalived (keepalived.conf) and
// conf/ipvsadm (ipvsadm-save output and lvs_nat.sh-style scripts);
// `tandem import` prints the file on stdout and the findings on stderr.
package importer

import "fmt"

// Severity says how much of a finding carried over.
type Severity string

// Severities.
const (
	// NotTranslated: a keyword or line tandem has no equivalent for; the
	// output carries it as a comment at the place it would go.
	NotTranslated Severity = "not translated"
	// Changed: translated, with a difference in behaviour the operator
	// should know (the message says which).
	Changed Severity = "changed"
	// Invalid: input the source tool itself would refuse (a syntax error,
	// a missing include); the import goes on where it can.
	Invalid Severity = "invalid"
)

// A Finding is one thing of the input that did not carry over as it was.
type Finding struct {
	File     string
	Line     int // 1-based; 0 when the finding is about the whole file
	Keyword  string
	Severity Severity
	Message  string // what it means and what tandem does instead
}

func (f Finding) String() string {
	pos := f.File
	if f.Line > 0 {
		pos = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	if f.Keyword != "" {
		return fmt.Sprintf("%s: %s: %s: %s", pos, f.Severity, f.Keyword, f.Message)
	}
	return fmt.Sprintf("%s: %s: %s", pos, f.Severity, f.Message)
}

// Result is an import: the cluster file (formatted HCL that passes
// `tandem check`, the untranslated parts as comments) and the findings,
// in input order.
type Result struct {
	HCL      []byte
	Findings []Finding
}
