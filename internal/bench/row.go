package bench

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zcopy/zcopy/zerocopy"
)

// Row is what one row of the table measures: a send method over a plain
// TCP connection, or, with TLS set, the pseudo-method "tls": readwrite
// inside TLS 1.3, as zcopy's encrypted transfers run it (package
// internal/secure beneath zerocopy.SendFile with Auto, which falls to
// ReadWrite since a TLS connection has no descriptor).
type Row struct {
	Method zerocopy.Method
	TLS    bool
}

// tlsName is the TLS row's name, in tables, JSON and --methods.
const tlsName = "tls"

// TLSRow is the encrypted row.
var TLSRow = Row{Method: zerocopy.ReadWrite, TLS: true}

// String returns the row's name as ParseMethods accepts it.
func (r Row) String() string {
	if r.TLS {
		return tlsName
	}
	return r.Method.String()
}

// ZeroCopy reports whether the row's sender leaves the file's bytes to the
// kernel and the NIC, the CPU never copying them into user space: sendfile
// and splice. Readwrite and mmap copy them through the CPU; tls copies
// them and encrypts them too.
func (r Row) ZeroCopy() bool {
	return !r.TLS && (r.Method == zerocopy.Sendfile || r.Method == zerocopy.Splice)
}

// AllRows returns every row this platform can measure, in table order: each
// send method (zerocopy.SendMethods), then tls.
func AllRows() []Row {
	var out []Row
	for _, m := range zerocopy.SendMethods() {
		out = append(out, Row{Method: m})
	}
	return append(out, TLSRow)
}

// rowNames lists the names of every row of this platform.
func rowNames() string {
	var names []string
	for _, r := range AllRows() {
		names = append(names, r.String())
	}
	return strings.Join(names, ", ")
}

// ParseMethods reads a comma-separated list of rows (send methods and
// tls), or "all" for every row this platform has.
func ParseMethods(s string) ([]Row, error) {
	if strings.TrimSpace(s) == "all" {
		return AllRows(), nil
	}
	var out []Row
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, tlsName) {
			out = append(out, TLSRow)
			continue
		}
		m, err := zerocopy.ParseMethod(f)
		if err != nil {
			return nil, fmt.Errorf("unknown method %q (want some of %s, or all)", f, rowNames())
		}
		if m == zerocopy.Auto {
			return nil, errors.New("auto is not a method to measure: name the methods (or all)")
		}
		if !zerocopy.Supported(m, true) {
			return nil, fmt.Errorf("method %v cannot send on this system (have %s)", m, rowNames())
		}
		out = append(out, Row{Method: m})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no methods in %q", s)
	}
	return out, nil
}
