package httpserve_test

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/zerocopy"
)

// curlResult is what one curl run saw.
type curlResult struct {
	status int
	header http.Header
	body   []byte
}

// curl runs curl with args (the URL among them) and returns the status,
// the headers of the last response and the body.
func curl(tb testing.TB, args ...string) curlResult {
	tb.Helper()
	bin := testbin.NeedTool(tb, "curl")
	dir := tb.TempDir()
	hdrFile, bodyFile := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	all := append([]string{"-sS", "-D", hdrFile, "-o", bodyFile, "-w", "%{http_code}"}, args...)
	out := mustRun(tb, 60*time.Second, bin, all...)
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		tb.Fatalf("curl printed %q for the status", out)
	}
	var r curlResult
	r.status = code
	r.body, _ = os.ReadFile(bodyFile)
	r.header = lastHeaderBlock(tb, readFile(tb, hdrFile))
	return r
}

// lastHeaderBlock parses the last response header block of a curl -D file.
func lastHeaderBlock(tb testing.TB, b []byte) http.Header {
	tb.Helper()
	blocks := bytes.Split(bytes.TrimRight(b, "\r\n"), []byte("\r\n\r\n"))
	last := blocks[len(blocks)-1]
	tp := textproto.NewReader(bufio.NewReader(io.MultiReader(bytes.NewReader(last), strings.NewReader("\r\n\r\n"))))
	if _, err := tp.ReadLine(); err != nil { // the status line
		tb.Fatal(err)
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		tb.Fatalf("headers %q: %v", last, err)
	}
	return http.Header(h)
}

// wantMethod is the method Auto picks for a socket on this system.
func wantMethod() zerocopy.Method {
	if zerocopy.Supported(zerocopy.Sendfile, true) {
		return zerocopy.Sendfile
	}
	return zerocopy.ReadWrite
}

// wantMethodFor is the method Auto picks for a response body of n bytes:
// one of at most zerocopy.GatherMax bytes is read and written with its
// header.
func wantMethodFor(n int64) zerocopy.Method {
	if n <= zerocopy.GatherMax {
		return zerocopy.ReadWrite
	}
	return wantMethod()
}

// checkEngine asserts that the engine, by method m, moved the response's
// whole body (so ReadFrom was reached through every wrapper).
func checkEngine(tb testing.TB, r *httpserve.Response, m zerocopy.Method) {
	tb.Helper()
	if r.SendMethod != m.String() || r.EngineBytes != r.BodyBytes || r.Send.Method != m {
		tb.Errorf("%s %s: body of %d bytes: %d moved by the engine, send method %q (engine: %v), want all of it by %v",
			r.Method, r.Path, r.BodyBytes, r.EngineBytes, r.SendMethod, r.Send.Method, m)
	}
	if r.Outcome != httpserve.OK {
		tb.Errorf("%s %s: outcome %s (%v)", r.Method, r.Path, r.Outcome, r.Err)
	}
}

// TestCurl is acceptance point 1 of issue 5, and the rest of the HTTP
// surface, with curl as the client.
func TestCurl(t *testing.T) {
	testbin.NeedTool(t, "curl")
	dir := t.TempDir()
	const size = 1<<20 + 123
	data := readFile(t, makeFile(t, dir, "data.bin", size))
	os.WriteFile(filepath.Join(dir, "page.html"), []byte("<p>hi</p>\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("plain text\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "a <b>&.txt"), []byte("a\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "site"), 0o755)
	os.WriteFile(filepath.Join(dir, "site", "index.html"), []byte("<h1>index</h1>\n"), 0o644)
	ts := startServer(t, httpserve.Config{Dir: dir})
	u := ts.URL
	n := 0 // responses so far
	next := func() *httpserve.Response { n++; return ts.nthResponse(t, n) }

	t.Run("full", func(t *testing.T) {
		r := curl(t, u+"/data.bin")
		resp := next()
		if r.status != 200 || !bytes.Equal(r.body, data) {
			t.Fatalf("status %d, %d bytes (equal=%v), want 200 and %d bytes", r.status, len(r.body), bytes.Equal(r.body, data), size)
		}
		checkEngine(t, resp, wantMethod())
		if !resp.Send.Corked && zerocopy.Supported(zerocopy.Sendfile, true) {
			t.Errorf("header not corked with the body: %+v", resp.Send)
		}
		if resp.ContentLength != size {
			t.Errorf("Content-Length %d, want %d", resp.ContentLength, size)
		}
	})
	t.Run("range", func(t *testing.T) {
		r := curl(t, "-r", "100-199", u+"/data.bin")
		resp := next()
		if r.status != 206 || !bytes.Equal(r.body, data[100:200]) {
			t.Fatalf("status %d, body %d bytes (right=%v), want 206 and bytes 100-199", r.status, len(r.body), bytes.Equal(r.body, data[100:200]))
		}
		if got, want := r.header.Get("Content-Range"), "bytes 100-199/"+strconv.Itoa(size); got != want {
			t.Errorf("Content-Range %q, want %q", got, want)
		}
		checkEngine(t, resp, wantMethodFor(100))
	})
	t.Run("multirange", func(t *testing.T) {
		r := curl(t, "-r", "0-99,1000-1099,1048576-", u+"/data.bin")
		resp := next()
		if r.status != 206 {
			t.Fatalf("status %d, want 206", r.status)
		}
		mt, params, err := mime.ParseMediaType(r.header.Get("Content-Type"))
		if err != nil || mt != "multipart/byteranges" {
			t.Fatalf("Content-Type %q (%v), want multipart/byteranges", r.header.Get("Content-Type"), err)
		}
		if cl, _ := strconv.Atoi(r.header.Get("Content-Length")); cl != len(r.body) {
			t.Errorf("Content-Length %d, body %d bytes", cl, len(r.body))
		}
		mr := multipart.NewReader(bytes.NewReader(r.body), params["boundary"])
		want := []struct{ from, to int }{{0, 99}, {1000, 1099}, {1048576, size - 1}}
		for i, w := range want {
			p, err := mr.NextPart()
			if err != nil {
				t.Fatalf("part %d: %v", i, err)
			}
			b, _ := io.ReadAll(p)
			cr := "bytes " + strconv.Itoa(w.from) + "-" + strconv.Itoa(w.to) + "/" + strconv.Itoa(size)
			if p.Header.Get("Content-Range") != cr || !bytes.Equal(b, data[w.from:w.to+1]) {
				t.Errorf("part %d: Content-Range %q, %d bytes (right=%v), want %q", i, p.Header.Get("Content-Range"), len(b), bytes.Equal(b, data[w.from:w.to+1]), cr)
			}
		}
		if _, err := mr.NextPart(); err != io.EOF {
			t.Errorf("after the parts: %v, want EOF", err)
		}
		// Each part goes by the engine, its header gathered with its bytes.
		parts := int64(100 + 100 + (size - 1048576))
		if resp.Outcome != httpserve.OK || resp.SendMethod != zerocopy.ReadWrite.String() || resp.EngineBytes != parts {
			t.Errorf("outcome %s, send method %q, %d bytes by the engine: want ok, readwrite, %d (the parts' bytes)",
				resp.Outcome, resp.SendMethod, resp.EngineBytes, parts)
		}
	})
	t.Run("head", func(t *testing.T) {
		r := curl(t, "-I", u+"/data.bin")
		resp := next()
		if r.status != 200 || r.header.Get("Content-Length") != strconv.Itoa(size) {
			t.Fatalf("status %d, Content-Length %q; want 200, %d", r.status, r.header.Get("Content-Length"), size)
		}
		if resp.BodyBytes != 0 || resp.Outcome != httpserve.OK {
			t.Errorf("HEAD wrote %d body bytes, outcome %s", resp.BodyBytes, resp.Outcome)
		}
	})
	var etag, lastMod string
	t.Run("etag-304", func(t *testing.T) {
		r := curl(t, "-I", u+"/data.bin")
		next()
		etag, lastMod = r.header.Get("ETag"), r.header.Get("Last-Modified")
		if !strings.HasPrefix(etag, `"`) || lastMod == "" {
			t.Fatalf("ETag %q, Last-Modified %q: want a strong ETag and a date", etag, lastMod)
		}
		r = curl(t, "-H", "If-None-Match: "+etag, u+"/data.bin")
		next()
		if r.status != 304 || len(r.body) != 0 {
			t.Fatalf("If-None-Match %s: status %d, %d bytes, want 304 and none", etag, r.status, len(r.body))
		}
	})
	t.Run("range-past-end", func(t *testing.T) {
		r := curl(t, "-r", strconv.Itoa(size+10)+"-", u+"/data.bin")
		next()
		if r.status != 416 || r.header.Get("Content-Range") != "bytes */"+strconv.Itoa(size) {
			t.Fatalf("status %d, Content-Range %q, want 416 and bytes */%d", r.status, r.header.Get("Content-Range"), size)
		}
	})

	// Conditional requests that need a validator from above.
	for _, c := range []struct {
		name   string
		args   []string
		status int
		body   []byte
	}{
		{"if-range-match", []string{"-r", "10-19", "-H", "If-Range: " + etag}, 206, data[10:20]},
		{"if-range-stale", []string{"-r", "10-19", "-H", `If-Range: "stale"`}, 200, data},
		{"if-match-412", []string{"-H", `If-Match: "other"`}, 412, nil},
		{"if-match-ok", []string{"-r", "0-9", "-H", "If-Match: " + etag}, 206, data[:10]},
		{"if-modified-since-304", []string{"-H", "If-Modified-Since: " + lastMod}, 304, nil},
		{"if-unmodified-since-412", []string{"-H", "If-Unmodified-Since: Mon, 02 Jan 2006 15:04:05 GMT"}, 412, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if etag == "" {
				t.Skip("no ETag from etag-304")
			}
			r := curl(t, append(c.args, u+"/data.bin")...)
			next()
			if r.status != c.status || (c.body != nil && !bytes.Equal(r.body, c.body)) {
				t.Fatalf("status %d, %d bytes, want %d and %d bytes", r.status, len(r.body), c.status, len(c.body))
			}
		})
	}

	for _, c := range []struct {
		name, path string
		status     int
		ctype      string
		body       string // a substring of the body
		location   string
	}{
		{"type-html", "/page.html", 200, "text/html; charset=utf-8", "<p>hi</p>", ""},
		{"type-text", "/notes.txt", 200, "text/plain; charset=utf-8", "plain text", ""},
		{"dir-redirect", "/sub?x=1", 301, "", "", "/sub/?x=1"},
		{"dir-listing", "/sub/", 200, "text/html; charset=utf-8", `<a href="a%20%3Cb%3E&amp;.txt">a &lt;b&gt;&amp;.txt</a>`, ""},
		{"root-listing", "/", 200, "text/html; charset=utf-8", `<a href="sub/">sub/</a>`, ""},
		{"index-html", "/site/", 200, "text/html; charset=utf-8", "<h1>index</h1>", ""},
		{"missing", "/nope.bin", 404, "", "404", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := curl(t, u+c.path)
			next()
			if r.status != c.status {
				t.Fatalf("status %d, want %d (body %q)", r.status, c.status, r.body)
			}
			if c.ctype != "" && r.header.Get("Content-Type") != c.ctype {
				t.Errorf("Content-Type %q, want %q", r.header.Get("Content-Type"), c.ctype)
			}
			if !bytes.Contains(r.body, []byte(c.body)) {
				t.Errorf("body %q does not contain %q", r.body, c.body)
			}
			if r.header.Get("Location") != c.location {
				t.Errorf("Location %q, want %q", r.header.Get("Location"), c.location)
			}
		})
	}
	t.Run("method-405", func(t *testing.T) {
		r := curl(t, "-X", "POST", "-d", "x", u+"/data.bin")
		next()
		if r.status != 405 || r.header.Get("Allow") != "GET, HEAD" {
			t.Fatalf("status %d, Allow %q, want 405 and GET, HEAD", r.status, r.header.Get("Allow"))
		}
	})
	t.Run("keep-alive", func(t *testing.T) {
		before := ts.metric(t, "zcopy_http_connections_total")
		bin := testbin.NeedTool(t, "curl")
		out := mustRun(t, time.Minute, bin, "-sS", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
			"-w", "%{http_code} %{num_connects}\n", u+"/data.bin", u+"/notes.txt", u+"/data.bin")
		if got := strings.Fields(string(out)); len(got) != 6 || got[0] != "200" || got[1] != "1" || got[2] != "200" || got[3] != "0" || got[4] != "200" || got[5] != "0" {
			t.Fatalf("curl printed %q: want 3 responses of 200 over 1 connection", out)
		}
		for _, n := range []int64{size, 11, size} { // data.bin, notes.txt, data.bin
			checkEngine(t, next(), wantMethodFor(n))
		}
		if conns := ts.metric(t, "zcopy_http_connections_total") - before; conns != 1 {
			t.Errorf("%v connections for 3 requests, want 1", conns)
		}
	})
	t.Run("metrics", func(t *testing.T) {
		if v := ts.metric(t, `zcopy_http_body_bytes_total{send_method="`+wantMethod().String()+`"}`); v < 3*size {
			t.Errorf("body bytes by %v = %v, want at least %d", wantMethod(), v, 3*size)
		}
		if v := ts.metric(t, `zcopy_http_requests_total{code="206",method="GET"}`); v < 3 {
			t.Errorf("206 responses = %v, want at least 3", v)
		}
		if v := ts.metric(t, "zcopy_http_truncations_total"); v != 0 {
			t.Errorf("truncations = %v, want 0", v)
		}
	})
}

// TestMethods downloads with curl by every method the engine has here, and
// checks through the hook that the method asked for moved the body.
func TestMethods(t *testing.T) {
	testbin.NeedTool(t, "curl")
	dir := t.TempDir()
	const size = 3<<20 + 5
	data := readFile(t, makeFile(t, dir, "data.bin", size))
	for _, m := range zerocopy.SendMethods() {
		t.Run(m.String(), func(t *testing.T) {
			ts := startServer(t, httpserve.Config{Dir: dir, Method: m, ChunkSize: 1 << 20})
			for i, c := range []struct {
				args []string
				want []byte
			}{
				{nil, data},
				{[]string{"-r", "1000-2000999"}, data[1000:2001000]},
				{[]string{"-r", "-700"}, data[size-700:]},
			} {
				r := curl(t, append(c.args, ts.URL+"/data.bin")...)
				if !bytes.Equal(r.body, c.want) {
					t.Fatalf("request %d: %d bytes (equal=%v), want %d", i, len(r.body), bytes.Equal(r.body, c.want), len(c.want))
				}
				checkEngine(t, ts.nthResponse(t, i+1), m)
			}
		})
	}
}
