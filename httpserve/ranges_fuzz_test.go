package httpserve_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// FuzzRangeAndPreconditions sends any Range and conditional headers for
// files of 0, 1, 10 and 4096 bytes and checks what RFC 9110 requires of
// the answer, whatever the headers: no panic; a status among 200, 206,
// 304, 412 and 416, and never 206 or 416 to HEAD; every Content-Range well formed, its first byte not
// after its last and its last inside the file; a 416 saying "bytes
// */SIZE"; each part's body the bytes its Content-Range names; and no more
// body bytes than the file holds (net/http answers ranges that add up to
// more with the whole file).
func FuzzRangeAndPreconditions(f *testing.F) {
	dir := f.TempDir()
	sizes := []int{0, 1, 10, 4096}
	data := map[int][]byte{}
	for _, n := range sizes {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + i%26)
		}
		data[n] = b
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(n)), b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range sizes {
		os.Chtimes(filepath.Join(dir, fmt.Sprint(n)), mtime, mtime)
	}
	srv, err := httpserve.New(httpserve.Config{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	for _, seed := range []struct{ rng, ifRange, inm, im, ims, ius string }{
		{"bytes=-0", "", "", "", "", ""},
		{"bytes=-00", "", "", "", "", ""},
		{"bytes=-+0", "", "", "", "", ""},
		{"bytes=0-4,2-8,-3", "", "", "", "", ""},
		{"bytes=5-,0-0,1-1", "", "*", "", "", ""},
		{"bytes=0-1", `"x"`, "", `"y"`, "", ""},
		{"bytes=3-2", "", "", "", "Thu, 02 Jan 2020 03:04:05 GMT", ""},
		{"items=0-1", "Thu, 02 Jan 2020 03:04:05 GMT", "", "", "", "Mon, 01 Jan 1990 00:00:00 GMT"},
		{"bytes= 1-2 , 4-", "", `W/"z"`, "*", "garbage", "garbage"},
	} {
		for i := range sizes {
			f.Add(uint8(i), false, seed.rng, seed.ifRange, seed.inm, seed.im, seed.ims, seed.ius)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, head bool, rng, ifRange, inm, im, ims, ius string) {
		size := sizes[int(which)%len(sizes)]
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		r := httptest.NewRequest(method, "/"+fmt.Sprint(size), nil)
		for k, v := range map[string]string{"Range": rng, "If-Range": ifRange, "If-None-Match": inm,
			"If-Match": im, "If-Modified-Since": ims, "If-Unmodified-Since": ius} {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, r)
		body := w.Body.Bytes() // for HEAD, net/http drops it on the wire
		switch w.Code {
		case 200:
			if !head && !bytes.Equal(body, data[size]) {
				t.Fatalf("200 with %d bytes, not the file's %d", len(body), size)
			}
		case 304, 412:
		case 206, 416:
			if head {
				// RFC 9110, section 14.2: GET is the only method
				// with range handling; any other ignores Range.
				t.Fatalf("HEAD answered %d for Range %q", w.Code, rng)
			}
			if w.Code == 206 {
				checkPartial(t, w.Header(), body, data[size])
				return
			}
			if cr := w.Header().Get("Content-Range"); cr != fmt.Sprintf("bytes */%d", size) {
				t.Fatalf("416 with Content-Range %q", cr)
			}
		default:
			t.Fatalf("status %d for Range %q", w.Code, rng)
		}
	})
}

// checkPartial checks a 206's ranges against the file's bytes.
func checkPartial(t *testing.T, h http.Header, body, file []byte) {
	t.Helper()
	mt, params, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if mt != "multipart/byteranges" {
		checkPart(t, h.Get("Content-Range"), body, file)
		return
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	total := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("multipart part: %v", err)
		}
		checkPart(t, p.Header.Get("Content-Range"), b, file)
		total += len(b)
	}
	if total > len(file) {
		t.Fatalf("parts of %d bytes in all from a %d-byte file", total, len(file))
	}
}

// checkPart checks one Content-Range and the bytes it came with.
func checkPart(t *testing.T, cr string, b, file []byte) {
	t.Helper()
	var first, last, size int
	if n, err := fmt.Sscanf(cr, "bytes %d-%d/%d", &first, &last, &size); n != 3 || err != nil ||
		strings.Count(cr, " ") != 1 {
		t.Fatalf("Content-Range %q", cr)
	}
	if size != len(file) || first > last || last >= size {
		t.Fatalf("Content-Range %q of a %d-byte file", cr, len(file))
	}
	if !bytes.Equal(b, file[first:last+1]) {
		t.Fatalf("Content-Range %q with %d bytes that are not the file's", cr, len(b))
	}
}
