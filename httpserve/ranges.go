package httpserve

import (
	"strconv"
	"strings"
)

// maxRanges is the most byte ranges one request may ask for; a request that
// asks for more gets the whole file, as nginx's max_ranges does. It bounds
// the work and the multipart overhead one small request can cause.
const maxRanges = 1000

// byteRange is a satisfiable range of a representation: length bytes from
// start, both in bytes, length > 0.
type byteRange struct{ start, length int64 }

// contentRange is the Content-Range value of r in a representation of size
// bytes (RFC 9110, section 14.4): "bytes FIRST-LAST/SIZE".
func (r byteRange) contentRange(size int64) string {
	b := make([]byte, 0, 48)
	b = append(b, "bytes "...)
	b = strconv.AppendInt(b, r.start, 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, r.start+r.length-1, 10)
	b = append(b, '/')
	b = strconv.AppendInt(b, size, 10)
	return string(b)
}

// rangeResult says what a Range header asks of a representation.
type rangeResult int

const (
	rangeIgnored       rangeResult = iota // send the whole representation, 200
	rangeSatisfiable                      // send the ranges, 206
	rangeUnsatisfiable                    // 416 with "bytes */SIZE"
)

// parseRange evaluates a Range header value h against a representation of
// size bytes (RFC 9110, sections 14.1.1 and 14.2) and returns the ranges to
// send, in the order asked, each clipped to the representation:
//   - a header that is not a bytes ranges-specifier ("items=0-5", no "="),
//     one that names no range ("bytes=", "bytes=,"), any Range on an empty
//     representation, more than maxRanges ranges, and ranges whose lengths
//     add up to more than the representation (overlaps a client could use
//     to multiply the response) are ignored: the whole of it, 200 (a server
//     may always ignore Range);
//   - a bytes range set that breaks the grammar (a sign, whitespace inside a
//     range or after "=", last before first, no digits) is unsatisfiable,
//     as is a set whose every range starts past the end or is a suffix of
//     length 0 ("-0", "-00").
//
// The list rule (section 5.6.1) allows optional whitespace around each comma
// and empty elements, but none before the first element.
func parseRange(h string, size int64) ([]byteRange, rangeResult) {
	unit, spec, ok := strings.Cut(h, "=")
	if h == "" || !ok || !strings.EqualFold(unit, "bytes") || size == 0 {
		return nil, rangeIgnored
	}
	var out []byteRange
	var n int
	var total int64
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
			return nil, rangeIgnored
		}
		lo, hi, ok := strings.Cut(part, "-")
		if !ok {
			return nil, rangeUnsatisfiable
		}
		var r byteRange
		switch {
		case lo == "": // suffix-range: "-" 1*DIGIT
			l, ok := digits(hi)
			if !ok {
				return nil, rangeUnsatisfiable
			}
			if l == 0 {
				continue
			}
			l = min(l, size)
			r = byteRange{size - l, l}
		default: // int-range: first-pos "-" [ last-pos ]
			f, ok := digits(lo)
			if !ok {
				return nil, rangeUnsatisfiable
			}
			l := size - 1
			if hi != "" {
				v, ok := digits(hi)
				if !ok || v < f {
					return nil, rangeUnsatisfiable
				}
				l = min(v, size-1)
			}
			if f >= size {
				continue
			}
			r = byteRange{f, l - f + 1}
		}
		out = append(out, r)
		total += r.length
	}
	switch {
	case n == 0:
		return nil, rangeIgnored
	case len(out) == 0:
		return nil, rangeUnsatisfiable
	case total > size:
		return nil, rangeIgnored
	}
	return out, rangeSatisfiable
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
