//go:build !linux

package healthcheck

// newPolledHTTP is Linux's (http_linux.go): elsewhere every http check
// runs through net/http.
func newPolledHTTP(*httpChecker, Spec, func() bool) Checker { return nil }
