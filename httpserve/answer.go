package httpserve

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// answer is a response decided and not yet written: the one place where
// the server's semantics (methods, paths, directories, preconditions,
// ranges, errors) turn a request into a status, header fields and a body.
// The two HTTP stacks (fastpath.go, nethttp.go) only write answers out.
type answer struct {
	status int
	fields []field // header fields besides those of rep, in order
	body   []byte  // a body held in memory (errors, redirects, listings)
	// page is a listing's body, counted against Config.ListingMemory until
	// release (or, on fasthttp, until its body stream is closed).
	page *listingPage

	// A file body: rep's bytes, whole (no segs) or as segments.
	file *cachedFile
	vary bool // Vary: Accept-Encoding (Config.Precompressed)
	rep  *representation
	info fs.FileInfo // the stat rep was made from: the file's as of this request
	// segs are a 206's pieces: for each range, the bytes that precede it
	// (a multipart part's header) and the range; tail follows the last.
	segs   []segment
	tail   []byte
	ctype  string // Content-Type for a multipart body ("" for rep's)
	cr     string // Content-Range of a single-range 206
	length int64  // the body's length: Content-Length
}

type field struct{ name, value string }

// segment is one piece of a file body: head, then length bytes of the file
// from off.
type segment struct {
	head        []byte
	off, length int64
}

// headerSink receives an answer's header fields: net/http's http.Header
// and fasthttp's *fasthttp.ResponseHeader both have this method.
type headerSink interface{ Set(key, value string) }

// writeFields sets a's header fields on h, except Content-Length, which
// each stack sets its own way from a.length.
func writeFields[H headerSink](a *answer, h H) {
	if r := a.rep; r != nil {
		switch a.status {
		case http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable:
			h.Set("Accept-Ranges", "bytes")
			if r.lastModified != "" {
				h.Set("Last-Modified", r.lastModified)
			}
			h.Set("ETag", r.etag)
		case http.StatusNotModified, http.StatusPreconditionFailed:
			h.Set("ETag", r.etag)
		}
		if a.vary {
			h.Set("Vary", "Accept-Encoding")
		}
		if r.encoding != "" && a.status/100 == 2 {
			h.Set("Content-Encoding", r.encoding)
		}
		switch {
		case a.ctype != "":
			h.Set("Content-Type", a.ctype)
		case a.status == http.StatusOK || a.status == http.StatusPartialContent:
			h.Set("Content-Type", r.contentType)
		}
		if a.cr != "" {
			h.Set("Content-Range", a.cr)
		}
	}
	for _, f := range a.fields {
		h.Set(f.name, f.value)
	}
}

// decide answers q. A file answer holds a reference on its cachedFile,
// which the caller releases once the response is written.
func (s *Server) decide(q *request) *answer {
	if !q.safe() {
		a := errorAnswer(http.StatusMethodNotAllowed, "method not allowed")
		a.fields = append(a.fields, field{"Allow", "GET, HEAD"})
		return a
	}
	name, err := cleanPath(q.path)
	if err != nil {
		return errorAnswer(http.StatusBadRequest, "bad request: "+err.Error())
	}
	if !s.cfg.Dotfiles && hasDotSegment(name) {
		// Not served, and not confirmed to exist (Config.Dotfiles).
		return errorAnswer(http.StatusNotFound, "not found")
	}
	e, err := s.files.open(name)
	if err != nil {
		return s.openFailed(q, err)
	}
	switch {
	case e.isDir():
		defer e.release()
		return s.dirAnswer(q, e, name)
	case !e.isRegular():
		e.release()
		return errorAnswer(http.StatusForbidden, "forbidden: not a regular file")
	}
	return s.fileAnswer(q, e, name)
}

// fileAnswer answers q from the regular file e, named name, or from its
// precompressed variant (RFC 9110, section 13.2.2: the preconditions, then
// the Range).
func (s *Server) fileAnswer(q *request, e *cachedFile, name string) *answer {
	st := e.state.Load()
	rep, info := st.rep, st.id.fi
	if s.cfg.Precompressed {
		if v, vrep, vinfo := s.variant(q, name, rep); v != nil {
			e.release()
			e, rep, info = v, vrep, vinfo
		}
	}
	a := q.scratch
	if a == nil {
		a = new(answer)
	}
	*a = answer{status: http.StatusOK, file: e, rep: rep, info: info, length: rep.size, vary: s.cfg.Precompressed}
	switch evalPreconditions(q, rep) {
	case notModified:
		a.status, a.length = http.StatusNotModified, 0
		return a
	case preconditionBad:
		a.status, a.length = http.StatusPreconditionFailed, 0
		return a
	}
	// RFC 9110, section 14.2: a server MUST ignore a Range received with a
	// method for which range handling is not defined, and GET is the only
	// one that has it: HEAD with a Range gets the 200's header fields.
	if q.rangeSpec == "" || q.method != http.MethodGet || !rangeApplies(q, rep) {
		return a
	}
	ranges, res := parseRange(q.rangeSpec, rep.size)
	switch res {
	case rangeUnsatisfiable:
		a.status = http.StatusRequestedRangeNotSatisfiable
		a.cr = "bytes */" + rep.sizeText
		a.body = []byte("416 range not satisfiable\n")
		a.ctype = "text/plain; charset=utf-8"
		a.length = int64(len(a.body))
	case rangeSatisfiable:
		a.status = http.StatusPartialContent
		if len(ranges) == 1 {
			r := ranges[0]
			a.cr = r.contentRange(rep.size)
			a.segs = []segment{{off: r.start, length: r.length}}
			a.length = r.length
			break
		}
		a.multipart(ranges)
	}
	return a
}

// multipart makes a's body a multipart/byteranges of ranges (RFC 9110,
// section 14.6), written by mime/multipart: each part's header, then its
// bytes from the file.
func (a *answer) multipart(ranges []byteRange) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	a.ctype = "multipart/byteranges; boundary=" + mw.Boundary()
	a.segs = make([]segment, 0, len(ranges))
	a.length = 0
	for _, r := range ranges {
		h := textproto.MIMEHeader{}
		h.Set("Content-Range", r.contentRange(a.rep.size))
		if a.rep.contentType != "" {
			h.Set("Content-Type", a.rep.contentType)
		}
		mw.CreatePart(h) // into a bytes.Buffer: cannot fail
		head := bytes.Clone(buf.Bytes())
		buf.Reset()
		a.segs = append(a.segs, segment{head: head, off: r.start, length: r.length})
		a.length += int64(len(head)) + r.length
	}
	mw.Close()
	a.tail = bytes.Clone(buf.Bytes())
	a.length += int64(len(a.tail))
}

// hasDotSegment reports whether a name relative to the root has a segment
// that starts with a dot: a dotfile, or a file in a dot-directory.
func hasDotSegment(name string) bool {
	for seg := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(seg, ".") && seg != "." {
			return true
		}
	}
	return false
}

// dirAnswer redirects "/dir" to "/dir/", serves the first index file
// present (Config.Index), and otherwise lists the directory (or refuses
// to, with NoList).
func (s *Server) dirAnswer(q *request, dir *cachedFile, name string) *answer {
	if !strings.HasSuffix(q.path, "/") {
		target := "/"
		if name != "." {
			target += (&url.URL{Path: name}).EscapedPath() + "/"
		}
		if q.rawQuery != "" {
			target += "?" + q.rawQuery
		}
		a := &answer{status: http.StatusMovedPermanently, fields: []field{
			{"Location", target}, {"Content-Type", "text/html; charset=utf-8"}}}
		// Made for HEAD too: its Content-Length is the GET's (RFC 9110,
		// section 9.3.2), and the writers leave a HEAD's body out.
		a.body = []byte("<a href=\"" + htmlEscaper.Replace(target) + "\">Moved Permanently</a>.\n")
		a.length = int64(len(a.body))
		return a
	}
	for _, index := range s.index {
		idx, err := s.files.open(path.Join(name, index))
		if err != nil {
			continue
		}
		if idx.isRegular() {
			return s.fileAnswer(q, idx, path.Join(name, index))
		}
		idx.release()
	}
	if s.cfg.NoList {
		return errorAnswer(http.StatusForbidden, "forbidden: directory listing is off")
	}
	page := &listingPage{s: s}
	if err := s.writeListing(page, q.path, name, dir.f); err != nil {
		page.free()
		if errors.Is(err, errListingBudget) {
			return s.listingRefused(q)
		}
		s.log.Warn("directory listing failed", "path", q.path, "error", err)
		return errorAnswer(http.StatusInternalServerError, "cannot read the directory")
	}
	return &answer{status: http.StatusOK, body: page.b, page: page, length: int64(len(page.b)), fields: []field{
		{"Content-Type", "text/html; charset=utf-8"}, {"Cache-Control", "no-cache"}}}
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")

// openFailed answers a request whose file could not be opened: 404 for a
// missing file and for anything that would lead out of the directory (so as
// not to confirm what lies there), 403 for a permission error.
func (s *Server) openFailed(q *request, err error) *answer {
	code := http.StatusNotFound
	switch {
	case errors.Is(err, fs.ErrPermission):
		code = http.StatusForbidden
	case shortage(err):
		// Out of descriptors or memory: a 404 here could be cached.
		code = http.StatusServiceUnavailable
	}
	if !errors.Is(err, fs.ErrNotExist) {
		// Escapes from the directory land here, as do permission errors.
		s.log.Debug("open refused", "path", q.path, "remote", q.remoteAddr(), "error", err)
	}
	return errorAnswer(code, strings.ToLower(http.StatusText(code)))
}

// errorAnswer is a plain-text error page, as http.Error writes it.
func errorAnswer(code int, msg string) *answer {
	body := []byte(strconv.Itoa(code) + " " + msg + "\n")
	return &answer{status: code, body: body, length: int64(len(body)), fields: []field{
		{"Content-Type", "text/plain; charset=utf-8"}, {"X-Content-Type-Options", "nosniff"}}}
}

// bodyReader reads a file answer's body (segments, or the whole file) from
// its file, for a connection the engine cannot write to.
func (a *answer) bodyReader() io.Reader {
	if a.segs == nil {
		return io.NewSectionReader(a.file.f, 0, a.rep.size)
	}
	var rs []io.Reader
	for _, sg := range a.segs {
		rs = append(rs, bytes.NewReader(sg.head), io.NewSectionReader(a.file.f, sg.off, sg.length))
	}
	return io.MultiReader(append(rs, bytes.NewReader(a.tail))...)
}

// release gives back the answer's file, if it has one, and its listing
// page's memory.
func (a *answer) release() {
	if a.page != nil {
		a.page.free()
		a.page = nil
	}
	if a.file != nil {
		a.file.release()
		a.file = nil
	}
}
