package httpserve_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/zcopy/zcopy/httpserve"
)

// TestRefusedRequestsLogged: a request fasthttp's parser refuses (400,
// 431, 501) is answered, written to the access log (its request as "-":
// it was never known) and reported to OnResponse as any other; an attack
// review found them missing from both, and from the metrics.
func TestRefusedRequestsLogged(t *testing.T) {
	ts := startServer(t, httpserve.Config{})
	for i, tc := range []struct {
		raw    string
		status int
	}{
		{"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"GARBAGE\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		{"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431},
		{"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	} {
		c, err := net.Dial("tcp", ts.Addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, tc.raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		c.Close()
		if err != nil {
			t.Fatalf("%q: %v", tc.raw[:min(len(tc.raw), 40)], err)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%q: %d, want %d", tc.raw[:min(len(tc.raw), 40)], resp.StatusCode, tc.status)
		}
		r := ts.nthResponse(t, i+1)
		if r.Status != tc.status || r.Method != "" {
			t.Errorf("OnResponse got status %d, method %q; want %d, none", r.Status, r.Method, tc.status)
		}
	}
	if n := strings.Count(ts.Logs.String(), `] "-" 4`) + strings.Count(ts.Logs.String(), `] "-" 5`); n != 5 {
		t.Errorf("%d access log lines for refused requests, want 5:\n%s", n, ts.Logs.String())
	}
}
