package httpserve

import (
	"net"
	"net/http"
)

// request is what the server's semantics read from an HTTP request,
// whichever HTTP stack parsed it: the method, the target, and the header
// fields that select or condition a response. The values are as received;
// "" is an absent field.
type request struct {
	method   string
	path     string // the URL path, percent-decoded
	rawQuery string
	remote   string   // the client's address, or "" if addr has it
	addr     net.Addr // the client's address, made a string only if needed
	hasBody  bool     // the request declares a body (Content-Length or Transfer-Encoding)

	// For the access log and OnResponse only (see Server.wantsDetail).
	uri, proto, referer, userAgent string

	rangeSpec         string // Range
	ifMatch           string
	ifNoneMatch       string
	ifModifiedSince   string
	ifUnmodifiedSince string
	ifRange           string
	acceptEncoding    string // read only with Config.Precompressed

	// scratch, if not nil, is where a file's answer is made instead of a
	// new one: the fast path's conn lends its own, free again once the
	// response has ended.
	scratch *answer
}

// remoteAddr returns the client's address.
func (q *request) remoteAddr() string {
	if q.remote == "" && q.addr != nil {
		q.remote = q.addr.String()
	}
	return q.remote
}

// safe reports whether the method is one the server answers: GET or HEAD.
func (q *request) safe() bool {
	return q.method == http.MethodGet || q.method == http.MethodHead
}

// requestFromNetHTTP reads r; detail adds the access log's fields.
func requestFromNetHTTP(r *http.Request, detail bool) request {
	h := r.Header
	q := request{
		method:            r.Method,
		path:              r.URL.Path,
		rawQuery:          r.URL.RawQuery,
		remote:            r.RemoteAddr,
		hasBody:           r.ContentLength != 0 || len(r.TransferEncoding) > 0,
		rangeSpec:         h.Get("Range"),
		ifMatch:           h.Get("If-Match"),
		ifNoneMatch:       h.Get("If-None-Match"),
		ifModifiedSince:   h.Get("If-Modified-Since"),
		ifUnmodifiedSince: h.Get("If-Unmodified-Since"),
		ifRange:           h.Get("If-Range"),
	}
	if detail {
		q.uri, q.proto, q.referer, q.userAgent = r.RequestURI, r.Proto, r.Referer(), r.UserAgent()
	}
	q.acceptEncoding = h.Get("Accept-Encoding")
	return q
}
