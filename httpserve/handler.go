package httpserve

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/zcopy/zcopy/zerocopy"
)

// ServeHTTP serves GET and HEAD for the files under the server's directory.
// Ranges, If-Range, ETag, Last-Modified and the conditional requests (304,
// 412, 416) are http.ServeContent's; the body leaves by the engine through
// conn.ReadFrom.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()

	rw := &responseWriter{ResponseWriter: w, req: r, contentLength: -1}
	// A GET or HEAD that declares a body is answered and the connection
	// closed without reading the body: net/http would otherwise wait for
	// a body that may never come, holding a connection slot with no
	// timeout, and a request with both Content-Length and
	// Transfer-Encoding must not keep its connection (RFC 9112, 6.1), or a
	// request hidden behind it would be answered.
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
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
	file := s.serve(rw, r)
	if c != nil {
		c.release()
	}
	s.finish(rw, r, c, file, start)
}

// servedFile is the file a response was made from, kept open until the
// response has been judged.
type servedFile struct {
	f    *os.File
	size int64 // at open
}

// serve answers r and returns the file it served from, if any (open).
func (s *Server) serve(w *responseWriter, r *http.Request) *servedFile {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return nil
	}
	name, err := cleanPath(r.URL.Path)
	if err != nil {
		http.Error(w, "400 bad request: "+err.Error(), http.StatusBadRequest)
		return nil
	}
	f, fi, err := openFile(s.root, name)
	if err != nil {
		s.openFailed(w, r, err)
		return nil
	}
	switch {
	case fi.IsDir():
		defer f.Close()
		return s.serveDir(w, r, f, name)
	case !fi.Mode().IsRegular():
		f.Close()
		http.Error(w, "403 forbidden: not a regular file", http.StatusForbidden)
		return nil
	}
	s.serveFile(w, r, f, fi)
	return &servedFile{f: f, size: fi.Size()}
}

// serveFile sends a regular file through http.ServeContent.
func (s *Server) serveFile(w *responseWriter, r *http.Request, f *os.File, fi fs.FileInfo) {
	w.Header().Set("ETag", etag(fi))
	screenRange(r, fi.Size())
	w.fileBody = true
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), &fileReader{f: f, size: fi.Size()})
}

// etag makes a strong validator from the size and modification time, as
// nginx does, so If-Range works.
func etag(fi fs.FileInfo) string {
	return `"` + strconv.FormatInt(fi.ModTime().UnixNano(), 16) + "-" + strconv.FormatInt(fi.Size(), 16) + `"`
}

// serveDir redirects "/dir" to "/dir/", serves dir/index.html if present,
// and otherwise lists the directory (or refuses to, with NoList).
func (s *Server) serveDir(w *responseWriter, r *http.Request, dir *os.File, name string) *servedFile {
	if !strings.HasSuffix(r.URL.Path, "/") {
		target := (&url.URL{Path: path.Base(r.URL.Path) + "/"}).String()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
		return nil
	}
	idx, fi, err := openFile(s.root, path.Join(name, "index.html"))
	if err == nil {
		if fi.Mode().IsRegular() {
			s.serveFile(w, r, idx, fi)
			return &servedFile{f: idx, size: fi.Size()}
		}
		idx.Close()
	}
	if s.cfg.NoList {
		http.Error(w, "403 forbidden: directory listing is off", http.StatusForbidden)
		return nil
	}
	if err := writeListing(w, r, dir); err != nil {
		s.log.Warn("directory listing failed", "path", r.URL.Path, "error", err)
	}
	return nil
}

// openFailed answers a request whose file could not be opened.
func (s *Server) openFailed(w http.ResponseWriter, r *http.Request, err error) {
	code := httpStatusFor(err)
	if !errors.Is(err, fs.ErrNotExist) {
		// Escapes from the directory land here, as do permission errors.
		s.log.Debug("open refused", "path", r.URL.Path, "remote", r.RemoteAddr, "error", err)
	}
	http.Error(w, strconv.Itoa(code)+" "+strings.ToLower(http.StatusText(code)), code)
}

// finish judges the response, closes its file, and reports it to the
// metrics, the log and the OnResponse hook.
func (s *Server) finish(w *responseWriter, r *http.Request, c *conn, file *servedFile, start time.Time) {
	resp := &Response{
		Method:        r.Method,
		Path:          r.URL.Path,
		Remote:        r.RemoteAddr,
		Status:        w.status,
		ContentLength: w.contentLength,
		BodyBytes:     w.written,
		Outcome:       OK,
		Duration:      time.Since(start),
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
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

	short := r.Method != http.MethodHead && resp.ContentLength >= 0 && resp.BodyBytes < resp.ContentLength
	if short {
		resp.Outcome = Aborted
		// A broken lease (Config.Lease) cut the body because a writer
		// opened the file: reported with truncations, as the reason a
		// body is short that no client or network caused.
		truncated := errors.Is(resp.Err, zerocopy.ErrTruncated) || errors.Is(resp.Err, zerocopy.ErrLeaseBroken)
		if !truncated && file != nil {
			// Cut short before the engine ran (in net/http's own copy, or
			// a multipart part): the file's size tells.
			if fi, err := file.f.Stat(); err == nil && fi.Size() < file.size {
				truncated = true
				if resp.Err == nil {
					resp.Err = fmt.Errorf("%w: the file shrank from %d to %d bytes", zerocopy.ErrTruncated, file.size, fi.Size())
				}
			}
		}
		if truncated {
			resp.Outcome = Truncated
			s.log.Warn("response truncated: the file shrank (or, with a lease, was opened for writing) while it was being sent; the connection is closed after the bytes that exist",
				"path", r.URL.Path, "remote", r.RemoteAddr, "sent", resp.BodyBytes, "content_length", resp.ContentLength, "error", errString(resp.Err))
		}
	}
	if file != nil {
		file.f.Close()
	}
	s.metrics.observe(resp)
	if s.cfg.AccessLog {
		logAccess(s.log, resp)
	}
	if s.cfg.OnResponse != nil {
		s.cfg.OnResponse(resp)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// discardLogger is used when Config.Logger is nil.
var discardLogger = slog.New(slog.DiscardHandler)
