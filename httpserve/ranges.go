package httpserve

import (
	"net/http"
	"strconv"
	"strings"
)

// maxRanges is the most byte ranges one request may ask for; a request that
// asks for more gets the whole file, as nginx's max_ranges does. It bounds
// the work and the multipart overhead one small request can cause.
const maxRanges = 1000

// screenRange rewrites r's Range header, before http.ServeContent sees it,
// into a form whose meaning net/http cannot get wrong, and never answers
// the request itself: ServeContent then evaluates the preconditions first
// and the Range last, in the order RFC 9110 (section 13.2.2) gives, so a
// matching If-None-Match gets its 304, a failing If-Match its 412 and a
// false If-Range the whole file, whatever the Range says. The rewrite
// (RFC 9110, sections 14.1.1 and 14.2), for a file of size bytes:
//   - a header that is not a bytes ranges-specifier ("items=0-5", no "="),
//     one that names no range ("bytes=", "bytes=,"), and any Range on an
//     empty file, are ignored: the whole file, 200 (a server may always
//     ignore Range; an empty file has no range net/http can describe);
//   - a bytes range set that breaks the grammar (a sign, a space inside a
//     range, last before first, no digits) is unsatisfiable: 416 with
//     "bytes */SIZE" (net/http's own parser takes "-+0" and "0 - 5");
//   - a suffix of length 0 ("-0", "-00") and a range that starts past the
//     end are unsatisfiable; the others are kept, spelt in plain decimal
//     (so "-00" cannot reach net/http, which answered it with a 206 whose
//     Content-Range ended before it began);
//   - a set with no satisfiable range is rewritten to one net/http finds
//     unsatisfiable too ("bytes=SIZE-"), so that it answers 416 with
//     "bytes */SIZE" once the preconditions are through;
//   - more than maxRanges ranges are ignored.
func screenRange(r *http.Request, size int64) {
	h := r.Header.Get("Range")
	if h == "" {
		return
	}
	unit, spec, ok := strings.Cut(h, "=")
	if !ok || !strings.EqualFold(unit, "bytes") || size == 0 {
		r.Header.Del("Range")
		return
	}
	keep, n, valid := parseRangeSet(spec, size)
	switch {
	case n == 0:
		r.Header.Del("Range") // "bytes=" names no range at all: ignored, as nginx does
	case !valid || len(keep) == 0 && n <= maxRanges:
		r.Header.Set("Range", unsatisfiable(size))
	case n > maxRanges:
		r.Header.Del("Range")
	default:
		r.Header.Set("Range", "bytes="+strings.Join(keep, ","))
	}
}

// unsatisfiable is a byte range net/http finds unsatisfiable in a file of
// size bytes: its first byte is the one past the end.
func unsatisfiable(size int64) string {
	return "bytes=" + strconv.FormatInt(size, 10) + "-"
}

// parseRangeSet parses a range-set (RFC 9110, section 14.1.1: 1#range-spec)
// strictly and returns the satisfiable ranges of a file of size bytes in
// plain decimal, the number of range-specs, and whether the set is valid.
// The list rule (section 5.6.1) allows optional whitespace around each
// comma and empty elements, but none before the first element: "bytes= 0-5"
// breaks the grammar.
func parseRangeSet(spec string, size int64) (keep []string, n int, valid bool) {
	first := true
	for part := range strings.SplitSeq(spec, ",") {
		if first {
			part, first = strings.TrimRight(part, " \t"), false
		} else {
			part = strings.Trim(part, " \t")
		}
		if part == "" {
			continue
		}
		n++
		if n > maxRanges {
			return nil, n, true
		}
		first, last, ok := strings.Cut(part, "-")
		if !ok {
			return nil, n, false
		}
		switch {
		case first == "": // suffix-range: "-" 1*DIGIT
			l, ok := digits(last)
			if !ok {
				return nil, n, false
			}
			if l > 0 && size > 0 {
				keep = append(keep, "-"+strconv.FormatInt(l, 10))
			}
		default: // int-range: first-pos "-" [ last-pos ]
			f, ok := digits(first)
			if !ok {
				return nil, n, false
			}
			var l int64 = -1
			if last != "" {
				if l, ok = digits(last); !ok || l < f {
					return nil, n, false
				}
			}
			if f >= size {
				continue // unsatisfiable
			}
			s := strconv.FormatInt(f, 10) + "-"
			if l >= 0 {
				s += strconv.FormatInt(l, 10)
			}
			keep = append(keep, s)
		}
	}
	return keep, n, n > 0
}

// digits parses 1*DIGIT; a value too large for int64 is taken as the
// largest, which every file is shorter than.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 1<<63 - 1, true
	}
	return v, true
}
