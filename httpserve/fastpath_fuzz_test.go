package httpserve_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// FuzzServeRequestBytes sends any bytes to a running Server over a real
// TCP connection, as a hostile client could, then half-closes it, and
// checks the whole path a request takes on 64-bit systems (fasthttp's
// parser, the decisions, the open-file cache, the engine's send):
//   - every answer parses as HTTP/1.1 (net/http's reader) with a status
//     among those zcopy http gives for a client's fault or a file, never a
//     5xx other than 501, and ends in order or at a closed connection;
//   - a 200 or 206 file body is bytes of a served file where its
//     Content-Range says, and no answer carries a byte of the file kept
//     beside the root;
//   - the server closes the connection once the client's side is closed,
//     and answers a well-formed request on a new connection afterwards.
//
// FuzzRangeAndPreconditions checks the semantics through net/http's
// stack; this one checks that the plain-HTTP stack reaches them intact.
func FuzzServeRequestBytes(f *testing.F) {
	parent := f.TempDir()
	root := filepath.Join(parent, "root")
	files := map[string][]byte{
		"a":        bytes.Repeat([]byte("abcdefghij"), 100),
		"dir/b":    bytes.Repeat([]byte("0123456789"), 700),
		"index.md": []byte("# index\n"),
	}
	for name, b := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	secret := []byte("SECRET-OUTSIDE-THE-ROOT")
	if err := os.WriteFile(filepath.Join(parent, "secret"), secret, 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("../secret", filepath.Join(root, "escape")); err != nil {
		f.Fatal(err)
	}
	ts := startServer(f, httpserve.Config{Dir: root, AccessLog: io.Discard, OnResponse: func(*httpserve.Response) {}})

	for _, seed := range []string{
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /dir/b HTTP/1.1\r\nHost: x\r\nRange: bytes=0-4,100-,-7\r\n\r\n",
		"HEAD /a HTTP/1.1\r\nHost: x\r\nRange: bytes=5-9\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n",
		"GET /../secret HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /%2e%2e/secret HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /escape HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /dir HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET /a HTTP/1.1\nHost: x\n\n",
		"GET /a HTTP/1.1\r\nHost: x\r\n folded: y\r\n\r\n",
		"GET /a\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.0\r\n\r\n",
		"GET /a HTTP/9.9\r\nHost: x\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=99999999999999999999-\r\n\r\n",
		"GET /" + strings.Repeat("a/", 3000) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A guard against a hang, not a measure: the server is expected
		// to close at once after the half-close.
		c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := c.Write(in); err != nil && !isReset(err) {
			t.Fatalf("write: %v", err)
		}
		c.(*net.TCPConn).CloseWrite()
		// A HEAD's answer has no body, which a reader cannot tell from
		// the answer: with a HEAD anywhere in the input, only the first
		// answer is checked (as HEAD's if the input starts with one) and
		// the rest is read to the end unparsed.
		first := http.MethodGet
		if bytes.HasPrefix(bytes.TrimLeft(in, "\r\n"), []byte("HEAD ")) {
			first = http.MethodHead
		}
		checkAnswers(t, c, first, bytes.Contains(in, []byte("HEAD")), files, secret)
		// Still serving.
		resp, err := http.Get(ts.URL + "/a")
		if err != nil {
			t.Fatalf("a new connection after the input: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || !bytes.Equal(body, files["a"]) {
			t.Fatalf("a new connection after the input: %d, %d bytes, %v", resp.StatusCode, len(body), err)
		}
	})
}

// checkAnswers reads answers from c until it is closed and checks each.
// The first is the answer to a request of method first; with onlyFirst,
// what follows it is read to the end and not checked.
func checkAnswers(t *testing.T, c net.Conn, first string, onlyFirst bool, files map[string][]byte, secret []byte) {
	t.Helper()
	br := bufio.NewReader(c)
	for n := 0; ; n++ {
		if n > 0 && onlyFirst {
			rest, err := io.ReadAll(br)
			if err != nil && !isReset(err) {
				t.Fatalf("reading to the end: %v", err)
			}
			if bytes.Contains(rest, secret) {
				t.Fatal("an answer carries the file outside the root")
			}
			return
		}
		if _, err := br.Peek(1); err != nil {
			if err == io.EOF || isReset(err) {
				return // closed in order, or reset after a bad request
			}
			t.Fatalf("waiting for an answer: %v", err)
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: first})
		if err != nil {
			t.Fatalf("an answer that does not parse: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("reading a %d's body: %v", resp.StatusCode, err)
		}
		if bytes.Contains(body, secret) {
			t.Fatalf("a %d answer carries the file outside the root", resp.StatusCode)
		}
		switch s := resp.StatusCode; {
		case s == 200, s == 206:
			checkFileBody(t, resp, body, files)
		case s == 100, s == 301, s == 304, s == 400, s == 403, s == 404, s == 405, s == 408,
			s == 412, s == 413, s == 414, s == 416, s == 417, s == 431, s == 501, s == 505:
		default:
			t.Fatalf("status %d", s)
		}
		if resp.Close {
			return
		}
	}
}

// checkFileBody checks that a 200's or single-range 206's body is a served
// file's bytes, where Content-Range puts them; a listing (text/html) or a
// multipart answer only has to parse, which ReadResponse saw to.
func checkFileBody(t *testing.T, resp *http.Response, body []byte, files map[string][]byte) {
	t.Helper()
	ct := resp.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "multipart/") || len(body) == 0 {
		return
	}
	for _, f := range files {
		if resp.StatusCode == 200 && bytes.Equal(body, f) {
			return
		}
		var first, last, size int
		if resp.StatusCode == 206 && len(f) > 0 {
			if n, _ := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &first, &last, &size); n == 3 &&
				size == len(f) && last < size && bytes.Equal(body, f[first:last+1]) {
				return
			}
		}
	}
	t.Fatalf("a %d answer (%s, Content-Range %q) of %d bytes that are no served file's", resp.StatusCode, ct, resp.Header.Get("Content-Range"), len(body))
}

// isReset reports whether err is a connection reset, which the server
// may send after an answer that closes a connection with unread input.
func isReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }
