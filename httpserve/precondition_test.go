package httpserve_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/zcopy/zcopy/httpserve"
)

// TestRangeAfterPreconditions: the preconditions are evaluated before the
// Range (RFC 9110, section 13.2.2), and a zero-length suffix is
// unsatisfiable however it is spelt (section 14.1.1), on a 10-byte file.
// Before, a Range screened ahead of http.ServeContent answered 416 to the
// first three, and "-00" got a 206 with "Content-Range: bytes 10-9/10".
func TestRangeAfterPreconditions(t *testing.T) {
	ts := startServer(t, httpserve.Config{})
	if err := os.WriteFile(filepath.Join(ts.Dir, "ten"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	get := func(h map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/ten", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Header.Set("X-Body", string(body))
		return resp
	}
	etag := get(nil).Header.Get("ETag")
	for _, tc := range []struct {
		name         string
		h            map[string]string
		status       int
		contentRange string
		body         string
	}{
		{"if-none-match-first", map[string]string{"Range": "bytes=-0", "If-None-Match": etag}, 304, "", ""},
		{"if-match-first", map[string]string{"Range": "bytes=-0", "If-Match": `"other"`}, 412, "", ""},
		{"false-if-range-ignores-range", map[string]string{"Range": "bytes=-0", "If-Range": `"other"`}, 200, "", "0123456789"},
		{"true-if-range-applies-range", map[string]string{"Range": "bytes=-0", "If-Range": etag}, 416, "bytes */10", ""},
		{"suffix-0", map[string]string{"Range": "bytes=-0"}, 416, "bytes */10", ""},
		{"suffix-00", map[string]string{"Range": "bytes=-00"}, 416, "bytes */10", ""},
		{"suffix-plus-0", map[string]string{"Range": "bytes=-+0"}, 416, "bytes */10", ""},
		{"suffix-3", map[string]string{"Range": "bytes=-3"}, 206, "bytes 7-9/10", "789"},
		{"leading-zeros", map[string]string{"Range": "bytes=02-004"}, 206, "bytes 2-4/10", "234"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(tc.h)
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange ||
				tc.status != 416 && resp.Header.Get("X-Body") != tc.body {
				t.Errorf("%v: %d, Content-Range %q, body %q; want %d, %q, %q", tc.h, resp.StatusCode,
					resp.Header.Get("Content-Range"), resp.Header.Get("X-Body"), tc.status, tc.contentRange, tc.body)
			}
		})
	}
}

// TestRangeIgnoredOnHead: a server MUST ignore a Range received with a
// method for which range handling is not defined, and GET is the only one
// (RFC 9110, section 14.2). HEAD with a Range gets the 200's header fields;
// it got a 206's (or a 416's) before, as from nginx.
func TestRangeIgnoredOnHead(t *testing.T) {
	ts := startServer(t, httpserve.Config{})
	if err := os.WriteFile(filepath.Join(ts.Dir, "ten"), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, rng  string
		status       int
		contentRange string
		length       int64
	}{
		{http.MethodHead, "bytes=2-4", 200, "", 10},
		{http.MethodHead, "bytes=0-1,5-6", 200, "", 10},
		{http.MethodHead, "bytes=20-", 200, "", 10},
		{http.MethodGet, "bytes=2-4", 206, "bytes 2-4/10", 3},
		{http.MethodGet, "bytes=20-", 416, "bytes */10", -1},
	} {
		t.Run(tc.method+" "+tc.rng, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL+"/ten", nil)
			req.Header.Set("Range", tc.rng)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange ||
				tc.length >= 0 && resp.ContentLength != tc.length {
				t.Errorf("%d, Content-Range %q, Content-Length %d; want %d, %q, %d",
					resp.StatusCode, resp.Header.Get("Content-Range"), resp.ContentLength, tc.status, tc.contentRange, tc.length)
			}
		})
	}
}
