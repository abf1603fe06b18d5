package httpserve

import (
	"net/http"
	"strings"
	"time"
)

// The conditional requests of RFC 9110, section 13, evaluated in the order of
// section 13.2.2 for a representation with a strong ETag and a
// Last-Modified date: If-Match (or, without it, If-Unmodified-Since) first,
// then If-None-Match (or, without it and for GET and HEAD,
// If-Modified-Since), and If-Range last, only to decide whether a Range is
// honoured. Both HTTP stacks the server runs on (fasthttp for plain HTTP,
// net/http for HTTPS) answer through this one implementation.

// verdict is the outcome of the preconditions: go on, or answer at once.
type verdict int

const (
	proceed         verdict = iota
	notModified             // 304
	preconditionBad         // 412
)

// cond is the value of one condition: absent (or ignored), true or false.
type cond int

const (
	condNone cond = iota
	condTrue
	condFalse
)

// evalPreconditions evaluates q's conditional header fields against rep.
func evalPreconditions(q *request, rep *representation) verdict {
	// The date conditions need the Last-Modified the server sends; without
	// one (a time of zero or the epoch) they are ignored.
	ius, ims := q.ifUnmodifiedSince, q.ifModifiedSince
	if rep.lastModified == "" {
		ius, ims = "", ""
	}
	c := ifMatch(q.ifMatch, rep.etag)
	if c == condNone {
		c = ifUnmodifiedSince(ius, rep.modTime)
	}
	if c == condFalse {
		return preconditionBad
	}
	switch ifNoneMatch(q.ifNoneMatch, rep.etag) {
	case condFalse:
		if q.safe() {
			return notModified
		}
		return preconditionBad
	case condNone:
		if q.safe() && ifModifiedSince(ims, rep.modTime) == condFalse {
			return notModified
		}
	}
	return proceed
}

// rangeApplies reports whether q's Range is to be evaluated: If-Range, when
// present, must name the current representation (section 13.1.5), by a
// strong ETag or by exactly its Last-Modified date.
func rangeApplies(q *request, rep *representation) bool {
	if q.ifRange == "" {
		return true
	}
	if tag, _ := scanETag(q.ifRange); tag != "" {
		return strongMatch(tag, rep.etag)
	}
	t, err := http.ParseTime(q.ifRange)
	return err == nil && t.Unix() == rep.modTime.Unix()
}

// ifMatch (section 13.1.1): true for "*" or a strong match in the list; a
// list that does not parse is false.
func ifMatch(h, etag string) cond {
	if h == "" {
		return condNone
	}
	if listMatches(h, etag, strongMatch) {
		return condTrue
	}
	return condFalse
}

// ifNoneMatch (section 13.1.2): false for "*" or a weak match in the list,
// true otherwise; a list that does not parse counts as no match.
func ifNoneMatch(h, etag string) cond {
	if h == "" {
		return condNone
	}
	if listMatches(h, etag, weakMatch) {
		return condFalse
	}
	return condTrue
}

// listMatches reports whether the field value h ("*" / #entity-tag) is "*"
// or lists a tag that match pairs with etag. It reads the list up to the
// first element that is not an entity-tag.
func listMatches(h, etag string, match func(a, b string) bool) bool {
	for {
		h = trimOWS(h)
		switch {
		case h == "":
			return false
		case h[0] == ',':
			h = h[1:]
			continue
		case h[0] == '*':
			return true
		}
		tag, rest := scanETag(h)
		if tag == "" {
			return false
		}
		if match(tag, etag) {
			return true
		}
		h = rest
	}
}

// ifUnmodifiedSince (section 13.1.4): an invalid date is ignored.
func ifUnmodifiedSince(h string, mod time.Time) cond {
	switch modifiedSince(h, mod) {
	case condTrue:
		return condFalse
	case condFalse:
		return condTrue
	}
	return condNone
}

// ifModifiedSince (section 13.1.3): false (not modified) when the
// representation is no later than the date; an invalid date is ignored.
func ifModifiedSince(h string, mod time.Time) cond { return modifiedSince(h, mod) }

// modifiedSince compares mod, to the second (the precision of
// Last-Modified), with the HTTP-date h: true if it is later, none if h is
// absent or not a valid date.
func modifiedSince(h string, mod time.Time) cond {
	if h == "" {
		return condNone
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return condNone
	}
	if mod.Truncate(time.Second).After(t) {
		return condTrue
	}
	return condFalse
}

// scanETag reads one entity-tag (section 8.8.3: [ "W/" ] DQUOTE *etagc
// DQUOTE) from the start of s and returns it and the rest, or "" if s does
// not start with one.
func scanETag(s string) (tag, rest string) {
	s = trimOWS(s)
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s[start:]) < 2 || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x21 || c >= 0x23 && c <= 0x7E || c >= 0x80:
		case c == '"':
			return s[:i+1], s[i+1:]
		default:
			return "", ""
		}
	}
	return "", ""
}

// strongMatch is the strong comparison of section 8.8.3.2: neither tag
// weak, and the same opaque tag.
func strongMatch(a, b string) bool {
	return a == b && a != "" && a[0] == '"'
}

// weakMatch is the weak comparison: the same opaque tag, weak or not.
func weakMatch(a, b string) bool {
	return strings.TrimPrefix(a, "W/") == strings.TrimPrefix(b, "W/")
}

// trimOWS trims the optional whitespace of section 5.6.3 (SP, HTAB).
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
