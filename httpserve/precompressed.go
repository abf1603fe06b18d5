package httpserve

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/golang/gddo/httputil/header"
)

// Precompressed files (Config.Precompressed), as nginx's gzip_static and
// caddy's precompressed serve them: for a request whose Accept-Encoding
// takes br, zstd or gzip, NAME.br, NAME.zst or NAME.gz beside NAME is sent
// instead of NAME, by the engine like any file, with Content-Encoding, the
// original's Content-Type, ranges over the encoded bytes, and an ETag of its
// own (the variant's, tagged with the coding). Every response for a file
// carries Vary: Accept-Encoding, so that caches keep the variants apart.

// codings are the content codings served, in the server's order of
// preference when the client weighs them alike, with their files' suffixes.
var codings = []struct{ name, suffix string }{{"br", ".br"}, {"zstd", ".zst"}, {"gzip", ".gz"}}

// weights returns the weight (0 to 1) Accept-Encoding value ae gives each
// coding of codings (RFC 9110, section 12.5.3): its own, else that of "*",
// else 0.
func weights(ae string) [3]float64 {
	var w [3]float64
	star := -1.0
	seen := [3]bool{}
	for _, spec := range header.ParseAccept(http.Header{"Accept-Encoding": {ae}}, "Accept-Encoding") {
		if spec.Value == "*" {
			star = spec.Q
			continue
		}
		for i, c := range codings {
			if strings.EqualFold(spec.Value, c.name) {
				w[i], seen[i] = spec.Q, true
			}
		}
	}
	for i := range w {
		if !seen[i] && star > 0 {
			w[i] = star
		}
	}
	return w
}

// variant returns the precompressed variant of name that q's
// Accept-Encoding prefers, with its representation (orig's media type, the
// coding, its own validators) and stat, or nil if none is acceptable and
// present.
//
// A GET whose Range names several ranges gets no variant: its answer would
// be a multipart/byteranges of encoded bytes, and a Content-Encoding on
// that message would say the multipart body itself is encoded (RFC 9110,
// sections 8.4 and 14.6), which no client could decode; the original's
// parts are what it can use.
func (s *Server) variant(q *request, name string, orig *representation) (*cachedFile, *representation, fs.FileInfo) {
	if q.acceptEncoding == "" || q.method == http.MethodGet && strings.Contains(q.rangeSpec, ",") {
		return nil, nil, nil
	}
	w := weights(q.acceptEncoding)
	for {
		best := -1
		for i := range codings {
			if w[i] > 0 && (best < 0 || w[i] > w[best]) {
				best = i
			}
		}
		if best < 0 {
			return nil, nil, nil
		}
		w[best] = 0 // tried
		c := codings[best]
		v, err := s.files.open(name + c.suffix)
		if err != nil {
			continue
		}
		if !v.isRegular() {
			v.release()
			continue
		}
		st := v.state.Load()
		r := *st.rep
		r.contentType = orig.contentType
		r.encoding = c.name
		r.etag = strings.TrimSuffix(r.etag, `"`) + "-" + c.name + `"`
		return v, &r, st.id.fi
	}
}
