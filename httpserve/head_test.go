package httpserve_test

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// TestHeadAnswersAsGet: a HEAD gets the header fields a GET of the same
// target gets (RFC 9110, section 9.3.2), Content-Length included, for every
// kind of answer and on both stacks. The directory redirect's HEAD said
// Content-Length: 0 where its GET said 39 (an attack review found it). A
// file's GET takes its fields rendered once per file (fields200), its HEAD
// sets them one by one: the two must agree, and none may come twice.
func TestHeadAnswersAsGet(t *testing.T) {
	cert, _, _ := testbin.SelfSigned(t)
	dir := t.TempDir()
	makeFile(t, dir, "f.bin", 1000)
	if err := os.MkdirAll(filepath.Join(dir, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	makeFile(t, dir, "d/g.txt", 10)
	makeFile(t, dir, ".env", 10)
	// Without an extension its type is sniffed from its bytes.
	if err := os.WriteFile(filepath.Join(dir, "noext"), []byte("<!DOCTYPE html><title>x</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, stack := range []struct {
		name string
		cfg  httpserve.Config
		url  func(ts *testServer) string
	}{
		{"plain", httpserve.Config{Dir: dir}, func(ts *testServer) string { return ts.URL }},
		{"tls", httpserve.Config{Dir: dir, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}},
			func(ts *testServer) string { return "https://" + ts.Addr }},
	} {
		t.Run(stack.name, func(t *testing.T) {
			ts := startServer(t, stack.cfg)
			for _, target := range []string{"/f.bin", "/d/g.txt", "/noext", "/d", "/d?x=<1>", "/d/", "/d/e", "/missing", "/.env", "/%2e%2e/x"} {
				get := do(t, client, http.MethodGet, stack.url(ts)+target)
				head := do(t, client, http.MethodHead, stack.url(ts)+target)
				for _, k := range []string{"Content-Length", "Content-Type", "Location", "ETag", "Last-Modified", "Accept-Ranges"} {
					if get.Header.Get(k) != head.Header.Get(k) {
						t.Errorf("%s: GET %d %s %q, HEAD %d %s %q", target, get.StatusCode, k, get.Header.Get(k), head.StatusCode, k, head.Header.Get(k))
					}
					// A GET's fields rendered once per file (fields200)
					// are not also set one by one.
					if n := len(get.Header.Values(k)); n > 1 {
						t.Errorf("%s: GET has %d %s fields", target, n, k)
					}
				}
				if get.StatusCode != head.StatusCode {
					t.Errorf("%s: GET %d, HEAD %d", target, get.StatusCode, head.StatusCode)
				}
			}
		})
	}
}

// do makes one request and reads its body.
func do(t *testing.T, c *http.Client, method, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}
