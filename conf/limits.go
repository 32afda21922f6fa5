package conf

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// maxErrors is how many errors the decoder keeps; past it, errors are
// counted (decoder.dropped) and reported in one closing diagnostic. A
// file can hold millions of wrong values (a list of numbers where strings
// go): keeping a diagnostic for each would cost gigabytes for nothing,
// since only the first ones are ever printed.
const maxErrors = 1000

// add keeps ds, up to maxErrors in all, and counts the rest.
func (d *decoder) add(ds ...*hcl.Diagnostic) {
	for _, dg := range ds {
		if len(d.diags) >= maxErrors {
			d.dropped++
			continue
		}
		d.diags = append(d.diags, dg)
	}
}

// droppedDiag is the closing diagnostic for the errors not kept, or nil.
func (d *decoder) droppedDiag(filename string) *hcl.Diagnostic {
	if d.dropped == 0 {
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Too many errors",
		Detail:   fmt.Sprintf("%d more errors were found and not listed. Hint: fix the ones listed first.", d.dropped),
		Subject:  &hcl.Range{Filename: filename},
	}
}
