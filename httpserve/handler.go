package httpserve

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// ServeHTTP answers r on net/http (Serve uses it for HTTPS; plain HTTP goes
// by fastpath.go): the answer is decided by decide, as on the fast path, and
// a file body leaves through conn.ReadFrom and the engine.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.inflight.Add(1) // Done in finish
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()

	q := requestFromNetHTTP(r, s.wantsDetail())
	rw := &responseWriter{ResponseWriter: w, req: r, contentLength: -1}
	// A GET or HEAD that declares a body is answered and the connection
	// closed without reading the body: net/http would otherwise wait for
	// a body that may never come, holding a connection slot with no
	// timeout, and a request with both Content-Length and
	// Transfer-Encoding must not keep its connection (RFC 9112, 6.1), or a
	// request hidden behind it would be answered.
	if q.hasBody {
		w.Header().Set("Connection", "close")
		// net/http still tries to read the body after the handler, to
		// find its end; a deadline already past makes that read fail at
		// once, after the response has gone, so the connection closes.
		defer http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	c := connFrom(r.Context())
	if c != nil {
		c.begin(r.Context())
		if r.TLS == nil {
			rw.c = c
		}
	}
	a := s.decide(&q)
	s.writeNetHTTP(rw, r, a)
	if c != nil {
		c.release()
	}
	s.finish(&q, rw.result(), c, a, start)
}

// writeNetHTTP writes a to w.
func (s *Server) writeNetHTTP(w *responseWriter, r *http.Request, a *answer) {
	h := w.Header()
	writeFields(a, h)
	if a.status != http.StatusNotModified {
		h.Set("Content-Length", strconv.FormatInt(a.length, 10))
	}
	if a.file == nil || a.body != nil || a.status/100 != 2 {
		w.WriteHeader(a.status)
		if r.Method != http.MethodHead && len(a.body) > 0 {
			w.Write(a.body)
		}
		return
	}
	w.fileBody = len(a.segs) <= 1
	w.WriteHeader(a.status)
	if r.Method == http.MethodHead {
		return
	}
	segs := a.segs
	if segs == nil {
		segs = []segment{{off: 0, length: a.rep.size}}
	}
	for _, sg := range segs {
		if len(sg.head) > 0 {
			if _, err := w.Write(sg.head); err != nil {
				return
			}
		}
		fr := &fileReader{f: a.file.f, off: sg.off, size: a.rep.size}
		// A short copy is no error to net/http's ReadFrom (io.CopyBuffer
		// stops at end of file): stop there too, so that no later part
		// follows a part cut short.
		if n, err := w.ReadFrom(&io.LimitedReader{R: fr, N: sg.length}); err != nil || n < sg.length {
			return
		}
	}
	if len(a.tail) > 0 {
		w.Write(a.tail)
	}
}

// result is what w saw of the response.
func (w *responseWriter) result() written {
	return written{status: w.status, contentLength: w.contentLength, body: w.written}
}

// written is what a stack wrote of a response.
type written struct {
	status        int
	contentLength int64 // announced, or -1
	body          int64 // body bytes written
}

// finish judges the response, releases its file, and reports it to the
// metrics, the log and the OnResponse hook. Every request the handlers
// start (s.inflight.Add) ends here, once.
func (s *Server) finish(q *request, w written, c *conn, a *answer, start time.Time) {
	// resp stays on the stack: only the access log and the OnResponse hook
	// get a copy of it, made when they are configured.
	resp := Response{
		Method:        q.method,
		Path:          q.path,
		Status:        w.status,
		ContentLength: w.contentLength,
		BodyBytes:     w.body,
		Outcome:       OK,
		Duration:      time.Since(start),
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	if s.wantsDetail() {
		resp.Remote = q.remoteAddr()
		resp.RequestURI, resp.Proto, resp.Referer, resp.UserAgent = q.uri, q.proto, q.referer, q.userAgent
		resp.Start = start
	}
	if c != nil && c.used {
		resp.Send = c.stats
		resp.EngineBytes = c.stats.Bytes
		resp.Err = c.sendErr
	}
	switch {
	case resp.EngineBytes > 0:
		resp.SendMethod = resp.Send.Method.String()
	case resp.BodyBytes > 0:
		resp.SendMethod = SendBuffered
	}

	short := q.method != http.MethodHead && resp.ContentLength >= 0 && resp.BodyBytes < resp.ContentLength
	if short {
		resp.Outcome = Aborted
		// A broken lease (Config.Lease) cut the body because a writer
		// opened the file: reported with truncations, as the reason a
		// body is short that no client or network caused.
		truncated := errors.Is(resp.Err, zerocopy.ErrTruncated) || errors.Is(resp.Err, zerocopy.ErrLeaseBroken)
		if !truncated && a.file != nil {
			// Cut short before the engine ran (in net/http's own copy, or
			// a multipart part): the file's size tells.
			if fi, err := a.file.f.Stat(); err == nil && fi.Size() < a.rep.size {
				truncated = true
				if resp.Err == nil {
					resp.Err = fmt.Errorf("%w: the file shrank from %d to %d bytes", zerocopy.ErrTruncated, a.rep.size, fi.Size())
				}
			}
		}
		if truncated {
			resp.Outcome = Truncated
			s.log.Warn("response truncated: the file shrank (or, with a lease, was opened for writing) while it was being sent; the connection is closed after the bytes that exist",
				"path", q.path, "remote", q.remoteAddr(), "sent", resp.BodyBytes, "content_length", resp.ContentLength, "error", errString(resp.Err))
		}
	}
	a.release()
	s.metrics.observe(&resp)
	if s.wantsDetail() {
		r := new(Response)
		*r = resp
		if s.cfg.AccessLog != nil {
			s.writeAccess(r)
		}
		if s.cfg.OnResponse != nil {
			s.cfg.OnResponse(r)
		}
	}
	s.inflight.Done()
}

// wantsDetail reports whether requests' details (address, request line,
// referer, user agent) are wanted: for the access log or the OnResponse
// hook. Without them a request costs fewer allocations.
func (s *Server) wantsDetail() bool { return s.cfg.AccessLog != nil || s.cfg.OnResponse != nil }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// discardLogger is used when Config.Logger is nil.
var discardLogger = slog.New(slog.DiscardHandler)
