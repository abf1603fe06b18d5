package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/zcopy/zcopy/internal/bytesize"
	"github.com/zcopy/zcopy/zerocopy"
)

// transferResult is the JSON object send and recv print with --json.
type transferResult struct {
	Bytes          int64   `json:"bytes"`
	Method         string  `json:"method"`
	Syscalls       int64   `json:"syscalls"`
	Seconds        float64 `json:"seconds"`
	Lease          bool    `json:"lease"`
	LeaseNote      string  `json:"lease_note,omitempty"`
	Fallbacks      int     `json:"fallbacks"`
	FallbackReason string  `json:"fallback_reason,omitempty"`
	Corked         bool    `json:"corked,omitempty"`
	PeakRSSKiB     int64   `json:"peak_rss_kib,omitempty"` // Linux: VmHWM of this process
	Error          string  `json:"error,omitempty"`
}

// report prints a transfer's outcome: one JSON object on stdout with
// --json, otherwise one line on stderr unless quiet.
func report(e *env, verb string, st zerocopy.Stats, err error, asJSON, quiet bool) {
	if asJSON {
		r := transferResult{
			Bytes:          st.Bytes,
			Method:         st.Method.String(),
			Syscalls:       st.Syscalls,
			Seconds:        st.Duration.Seconds(),
			Lease:          st.Lease,
			LeaseNote:      st.LeaseNote,
			Fallbacks:      st.Fallbacks,
			FallbackReason: st.FallbackReason,
			Corked:         st.Corked,
			PeakRSSKiB:     peakRSS(),
		}
		if err != nil {
			r.Error = err.Error()
		}
		b, _ := json.Marshal(r)
		fmt.Fprintf(e.stdout, "%s\n", b)
		return
	}
	if quiet || err != nil {
		return
	}
	var notes []string
	if st.Fallbacks > 0 {
		notes = append(notes, "after a fallback: "+st.FallbackReason)
	}
	if st.Lease {
		notes = append(notes, "lease held")
	}
	rate := ""
	if s := st.Duration.Seconds(); s > 0 {
		rate = fmt.Sprintf(" (%.2f GB/s)", float64(st.Bytes)/s/1e9)
	}
	fmt.Fprintf(e.stderr, "zcopy: %s %d bytes (%s) in %.3f s%s by %v, %d system calls",
		verb, st.Bytes, bytesize.Format(st.Bytes), st.Duration.Seconds(), rate, st.Method, st.Syscalls)
	if len(notes) > 0 {
		fmt.Fprintf(e.stderr, "; %s", strings.Join(notes, "; "))
	}
	fmt.Fprintln(e.stderr)
}
