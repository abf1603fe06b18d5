package httpserve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// The plain-HTTP path: fasthttp parses requests and writes response
// headers (it allocates nothing per request once warm, where net/http
// allocates a request, a header map and a goroutine's worth of buffers),
// decide answers them exactly as it answers net/http's, and a file body is
// fasthttp's body stream: its WriteTo hands the response header that
// fasthttp flushed (and conn held back) and the file's ranges to the
// engine, corked together, or read and written in one write for a small
// file (zerocopy.GatherMax).

// fastPath reports whether Serve runs plain HTTP on fasthttp. fasthttp
// counts a body's length in an int, so on 32-bit systems, where files
// larger than 2 GiB would not fit, every request goes by net/http.
const fastPath = ^uint(0)>>32 != 0

// newFastServer makes the fasthttp server for s.
func (s *Server) newFastServer() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                       s.serveFast,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisablePreParseMultipartForm:  true,
		DisableHeaderNamesNormalizing: false,
		StreamRequestBody:             true,
		ReduceMemoryUsage:             true,
		CloseOnShutdown:               true,
		SecureErrorLogMessage:         true,
		// No Concurrency: the listener caps the connections, and a cap
		// here too would answer 503 to a connection accepted in the moment
		// between a worker's Close (which frees a slot) and its return to
		// fasthttp's pool.
		ReadBufferSize: maxRequestHeader,
		// No ReadTimeout nor IdleTimeout: the conns of Serve's listener
		// arm their read deadlines themselves (readdeadline.go).
		Logger:       fastLogger{s.log},
		ErrorHandler: s.fastError,
		// StateIdle comes after the response is flushed (ReduceMemoryUsage
		// flushes after every response): the listener may then close the
		// connection to make room at the cap, until StateActive, after a
		// request's first byte, from the socket or from fasthttp's buffer.
		ConnState: func(nc net.Conn, st fasthttp.ConnState) {
			if c, ok := nc.(*conn); ok {
				switch st {
				case fasthttp.StateIdle:
					c.markIdle()
				case fasthttp.StateActive:
					c.markActive()
				}
			}
		},
	}
}

// fastError answers a request fasthttp could not parse, and logs and
// counts it as any other; the connection is closed after it.
func (s *Server) fastError(ctx *fasthttp.RequestCtx, err error) {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	var a *answer
	switch {
	case errors.As(err, &small):
		a = errorAnswer(http.StatusRequestHeaderFieldsTooLarge, "request header fields too large")
	case errors.Is(err, fasthttp.ErrUnsupportedTransferEncoding):
		// RFC 9112, section 6.1: a transfer coding the server does not
		// understand.
		a = errorAnswer(http.StatusNotImplemented, "unsupported transfer coding")
	case errors.As(err, &ne) && ne.Timeout():
		a = errorAnswer(http.StatusRequestTimeout, "request timeout")
	default:
		a = errorAnswer(http.StatusBadRequest, "bad request")
	}
	ctx.Response.Reset()
	ctx.Response.SetStatusCode(a.status)
	writeFields(a, &ctx.Response.Header)
	ctx.Response.SetBodyRaw(a.body)
	// The request line is not known: fasthttp's header holds its
	// defaults (GET / HTTP/1.1) after a fault, so the log says "-".
	q := request{addr: ctx.RemoteAddr()}
	s.inflight.Add(1) // Done in finish
	s.finish(&q, written{status: a.status, contentLength: a.length, body: a.length}, nil, a, time.Now())
}

// maxRequestHeader bounds a request's line and header, in bytes; a larger
// one gets 431.
const maxRequestHeader = 64 << 10

// serveFast answers one request on the fast path.
func (s *Server) serveFast(ctx *fasthttp.RequestCtx) {
	start := ctx.Time() // read by fasthttp just before the handler
	s.inflight.Add(1)   // Done in finish
	s.metrics.inFlight.Inc()
	q, err := requestFromFast(ctx, s.wantsDetail())
	if s.cfg.Precompressed {
		q.acceptEncoding = peek(&ctx.Request.Header, fieldAcceptEncoding)
	}
	c, _ := ctx.Conn().(*conn)
	if c != nil {
		q.scratch = &c.answer
	}
	if q.hasBody {
		ctx.SetConnectionClose()
	}
	var a *answer
	switch {
	case err != nil:
		a = errorAnswer(http.StatusBadRequest, "bad request: "+err.Error())
	case badVersion(ctx.Request.Header.Protocol()):
		// RFC 9110, section 15.6.6; net/http and nginx answer so too.
		a = errorAnswer(http.StatusHTTPVersionNotSupported, "HTTP version not supported")
		ctx.SetConnectionClose()
	case identityCoding(&ctx.Request.Header):
		// RFC 9112, section 6.1: a transfer coding the server does not
		// understand. fasthttp takes "identity" (dropped from HTTP/1.1)
		// for no coding, and its framing for no body; net/http and nginx
		// answer 501, and the connection must not read on.
		a = errorAnswer(http.StatusNotImplemented, "unsupported transfer coding")
		ctx.SetConnectionClose()
	default:
		a = s.decide(&q)
	}
	resp := &ctx.Response
	resp.SetStatusCode(a.status)
	// A whole file's 200 on a connection that holds its header for the
	// body: the representation's fields, rendered once, are added to the
	// held header (fastBody.WriteTo) instead of set one by one here.
	prerendered := c != nil && !s.cfg.NoCork && c.failed == nil && a.file != nil && a.body == nil &&
		a.status == http.StatusOK && q.method == http.MethodGet && a.segs == nil &&
		!a.vary && a.ctype == "" && a.cr == "" && len(a.fields) == 0 && a.rep.encoding == ""
	if !prerendered {
		writeFields(a, &resp.Header)
	}
	if a.file != nil && a.body == nil && a.status/100 == 2 && q.method == http.MethodGet {
		if c == nil { // not a conn of Serve's listener: no engine
			resp.SetBodyStream(&releaser{Reader: a.bodyReader(), a: a}, int(a.length))
			s.metrics.inFlight.Dec()
			s.finish(&q, written{status: a.status, contentLength: a.length, body: a.length}, nil, &answer{}, start)
			return
		}
		// No context to cancel a send by: at the end of a shutdown's
		// grace period Serve closes the connections, which wakes a send
		// parked on a full socket buffer as surely, and a send without
		// a context to watch costs the engine no allocations.
		c.begin(context.Background())
		c.hold()
		resp.ImmediateHeaderFlush = true
		c.body = fastBody{s: s, c: c, a: a, q: q, start: start}
		if prerendered {
			c.body.fields = a.rep.fields200
		}
		resp.SetBodyStream(&c.body, int(a.length))
		return
	}
	if a.status != http.StatusNotModified {
		resp.Header.SetContentLength(int(a.length))
	}
	w := written{status: a.status, contentLength: a.length}
	if q.method != http.MethodHead && len(a.body) > 0 {
		if a.page != nil {
			// A listing's page counts against the listing memory budget
			// until fasthttp has written it, after this handler returns.
			pb := &pageBody{page: a.page}
			pb.Reset(a.body)
			a.page = nil
			resp.SetBodyStream(pb, len(a.body))
		} else {
			resp.SetBodyRaw(a.body)
		}
		w.body = int64(len(a.body))
	}
	s.metrics.inFlight.Dec()
	s.finish(&q, w, nil, a, start)
}

// fastBody is a file answer's body on the fast path. fasthttp writes the
// response header to its buffer, flushes it (ImmediateHeaderFlush) into
// conn, which holds it, and calls WriteTo; Close reports the response.
type fastBody struct {
	s     *Server
	c     *conn
	a     *answer
	q     request
	start time.Time
	sent  int64 // body bytes written
	done  bool
	// fields, if not nil, are header fields to add to the header held on
	// the conn, before its blank line.
	fields []byte
}

var _ fasthttp.BodyWriterTo = (*fastBody)(nil)

// SupportsBodyWriteTo tells fasthttp to call WriteTo.
func (b *fastBody) SupportsBodyWriteTo() bool { return true }

var errFastBodyRead = errors.New("httpserve: a file body is sent by WriteTo, not read")

var errHeaderNotHeld = errors.New("httpserve: the response header was not held whole for its fields")

// Read is never called: fasthttp calls WriteTo.
func (b *fastBody) Read([]byte) (int, error) { return 0, errFastBodyRead }

// WriteTo sends the answer's body, after the header held on the conn, by
// the engine; w (fasthttp's buffer, flushed already) is not used.
func (b *fastBody) WriteTo(io.Writer) (int64, error) {
	a := b.a
	if b.fields != nil {
		// The header fasthttp flushed is held whole, ending in its blank
		// line; anything else (not possible while holding) is not a
		// header the fields can join, and the response is abandoned.
		h := b.c.held
		if !b.c.holding || !bytes.HasSuffix(h, []byte("\r\n\r\n")) {
			return b.fail(0, errHeaderNotHeld)
		}
		b.c.held = append(append(h[:len(h)-2], b.fields...), '\r', '\n')
	}
	if a.segs == nil {
		n, err := b.c.sendRange(a.file.f, 0, a.rep.size, nil, nil, a.info)
		b.sent = n
		return b.fail(n, err)
	}
	for i, sg := range a.segs {
		var tail []byte
		if i == len(a.segs)-1 {
			tail = a.tail
		}
		n, err := b.c.sendRange(a.file.f, sg.off, sg.length, sg.head, tail, a.info)
		b.sent += n
		if err != nil {
			return b.fail(b.sent, err)
		}
		b.sent += int64(len(sg.head) + len(tail))
	}
	return b.sent, nil
}

// fail records a failed send: nothing more may be written on the conn.
func (b *fastBody) fail(n int64, err error) (int64, error) {
	if err != nil {
		b.c.failed = fmt.Errorf("connection abandoned after a failed body send: %w", err)
		if b.c.sendErr == nil {
			b.c.sendErr = err
		}
	}
	return n, err
}

// Close ends the response: fasthttp calls it once the body is written, or
// when writing failed before it.
func (b *fastBody) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	b.c.release()
	b.s.metrics.inFlight.Dec()
	b.s.finish(&b.q, written{status: b.a.status, contentLength: b.a.length, body: b.sent}, b.c, b.a, b.start)
	return nil
}

// releaser releases an answer's file when fasthttp closes its body stream.
type releaser struct {
	io.Reader
	a *answer
}

func (r *releaser) Close() error { r.a.release(); return nil }

// requestFromFast reads ctx's request; detail adds the access log's
// fields. The strings are copies: they
// outlive the handler in the body stream and the OnResponse hook.
func requestFromFast(ctx *fasthttp.RequestCtx, detail bool) (request, error) {
	h := &ctx.Request.Header
	q := request{
		method:            method(h),
		rangeSpec:         peek(h, fieldRange),
		ifMatch:           peek(h, fieldIfMatch),
		ifNoneMatch:       peek(h, fieldIfNoneMatch),
		ifModifiedSince:   peek(h, fieldIfModifiedSince),
		ifUnmodifiedSince: peek(h, fieldIfUnmodifiedSince),
		ifRange:           peek(h, fieldIfRange),
		// fasthttp's ContentLength is -1 for a chunked body and -2 for
		// none declared.
		hasBody: h.ContentLength() > 0 || h.ContentLength() == -1 || len(h.PeekCanonical(fieldTransferEncoding)) > 0,
		addr:    ctx.RemoteAddr(),
	}
	if detail {
		q.uri, q.proto = string(ctx.RequestURI()), string(h.Protocol())
		q.referer, q.userAgent = peek(h, fieldReferer), peek(h, fieldUserAgent)
	}
	u := ctx.URI()
	q.rawQuery = string(u.QueryString())
	raw := u.PathOriginal()
	p, err := url.PathUnescape(string(raw))
	if err != nil {
		return q, errBadPath
	}
	q.path = p
	return q, nil
}

// badVersion reports whether a request line's protocol is not HTTP/1.x,
// which fasthttp serves as HTTP/1.0 (an HTTP/1.1 server answers a
// higher minor version as 1.1: RFC 9112, section 2.3).
func badVersion(proto []byte) bool {
	return len(proto) != len("HTTP/1.1") || string(proto[:len("HTTP/1.")]) != "HTTP/1." || proto[7] < '0' || proto[7] > '9'
}

// identityCoding reports whether the request's header has a
// Transfer-Encoding that fasthttp parsed as no coding at all: "identity"
// (it refuses any other but chunked itself).
func identityCoding(h *fasthttp.RequestHeader) bool {
	if h.ContentLength() == -1 { // chunked
		return false
	}
	const name = "transfer-encoding:"
	for raw := h.RawHeaders(); len(raw) > 0; {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) >= len(name) && bytes.EqualFold(line[:len(name)], []byte(name)) {
			return true
		}
	}
	return false
}

// method returns the request's method, without allocating for GET and
// HEAD.
func method(h *fasthttp.RequestHeader) string {
	switch {
	case h.IsGet():
		return http.MethodGet
	case h.IsHead():
		return http.MethodHead
	}
	return string(h.Method())
}

// The request header fields the server reads, named in fasthttp's
// canonical form for PeekCanonical: Peek would copy and normalise the
// name at every call.
var (
	fieldAcceptEncoding    = []byte("Accept-Encoding")
	fieldRange             = []byte("Range")
	fieldIfMatch           = []byte("If-Match")
	fieldIfNoneMatch       = []byte("If-None-Match")
	fieldIfModifiedSince   = []byte("If-Modified-Since")
	fieldIfUnmodifiedSince = []byte("If-Unmodified-Since")
	fieldIfRange           = []byte("If-Range")
	fieldReferer           = []byte("Referer")
	fieldUserAgent         = []byte("User-Agent")
	fieldTransferEncoding  = []byte("Transfer-Encoding")
)

// peek returns the value of the header field named canonical (one of the
// field names above), or "" (without allocating) when it is absent.
func peek(h *fasthttp.RequestHeader, canonical []byte) string {
	v := h.PeekCanonical(canonical)
	if len(v) == 0 {
		return ""
	}
	return string(v)
}

// fastLogger passes fasthttp's messages to the server's log at Warn.
type fastLogger struct{ l *slog.Logger }

// A request it could not parse is a client's fault, answered and written
// to the access log (fastError), so its message goes at Debug, as nginx
// logs "client sent invalid request" at info: a client cannot flood the
// log at Warn.
func (f fastLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.Contains(msg, "error when reading request headers") {
		f.l.Debug(msg, "from", "fasthttp")
		return
	}
	f.l.Warn(msg, "from", "fasthttp")
}
