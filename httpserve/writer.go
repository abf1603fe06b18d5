package httpserve

import (
	"io"
	"net/http"
	"strconv"
	"strings"
)

// responseWriter records the status and body size of a response. It keeps
// net/http's io.ReaderFrom visible (a wrapper that hides it silently turns
// zero copy into a user-space copy: Caddy had that bug), and for a file body
// it flushes the header as soon as it is set, so that net/http hands the
// whole body, not all but its first 512 bytes, to conn.ReadFrom, and the
// held header is corked with it.
type responseWriter struct {
	http.ResponseWriter
	req *http.Request
	c   *conn // nil when the connection is not ours, or is TLS

	fileBody      bool // the handler is serving a file's bytes
	status        int
	contentLength int64
	written       int64
}

var (
	_ io.ReaderFrom = (*responseWriter)(nil)
	_ http.Flusher  = (*responseWriter)(nil)
)

// WriteHeader records the status and the announced length. For a file body
// on a plain connection it flushes the header to conn, which holds it for
// the engine.
func (w *responseWriter) WriteHeader(code int) {
	if w.status != 0 || code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.status = code
	w.contentLength = -1
	h := w.Header()
	if cl := h.Get("Content-Length"); cl != "" {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.contentLength = v
		}
	}
	w.ResponseWriter.WriteHeader(code)
	if w.c != nil && w.fileBody && w.req.Method == http.MethodGet &&
		(code == http.StatusOK || code == http.StatusPartialContent) && w.contentLength > 0 &&
		!strings.HasPrefix(h.Get("Content-Type"), "multipart/") {
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			w.c.hold()
			f.Flush()
		}
	}
}

// Write writes body bytes.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom passes src to net/http's ReadFrom, which passes it on to conn.
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.written += n
	return n, err
}

// Flush sends buffered data to the client.
func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach net/http's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
