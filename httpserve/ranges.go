package httpserve

import (
	"fmt"
	"net/http"
	"strings"
)

// maxRanges is the most byte ranges one request may ask for; a request that
// asks for more gets the whole file, as nginx's max_ranges does. It bounds
// the work and the multipart overhead one small request can cause.
const maxRanges = 1000

// screenRange corrects what http.ServeContent gets wrong about the Range
// header, before it sees it (RFC 9110, sections 14.1.1 and 14.2):
//   - a unit other than bytes is ignored (the whole file, 200), not 416;
//   - a suffix range of length 0 ("-0") is unsatisfiable; if nothing else
//     is asked for, the answer is 416 with "bytes */SIZE", not a 206 with
//     an impossible Content-Range;
//   - more than maxRanges ranges are ignored.
//
// It reports whether it answered the request itself.
func screenRange(w http.ResponseWriter, r *http.Request, size int64) (answered bool) {
	h := r.Header.Get("Range")
	if h == "" {
		return false
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok {
		r.Header.Del("Range")
		return false
	}
	var keep []string
	n := 0
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n++
		if part != "-0" {
			keep = append(keep, part)
		}
	}
	switch {
	case n > maxRanges:
		r.Header.Del("Range")
	case n > 0 && len(keep) == 0:
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
		http.Error(w, "416 requested range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
		return true
	case len(keep) < n:
		r.Header.Set("Range", "bytes="+strings.Join(keep, ","))
	}
	return false
}
