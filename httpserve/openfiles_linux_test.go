package httpserve_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
)

// TestOpenFilesBounded: requests for many more distinct files than
// Config.OpenFiles leave the server holding at most that many files open
// (counted in /proc/self/fd, the server runs in this process), and every
// file served is the right one.
func TestOpenFilesBounded(t *testing.T) {
	const files, bound = 3000, 100
	dir := t.TempDir()
	for i := range files {
		name := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(name, []byte("file "+strconv.Itoa(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	ts := startServer(t, httpserve.Config{Dir: dir, OpenFiles: bound, OnResponse: func(*httpserve.Response) {}})
	before := fds()
	c, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	br := bufio.NewReader(c)
	most := 0
	for i := range files {
		fmt.Fprintf(c, "GET /f%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != "file "+strconv.Itoa(i) {
			t.Fatalf("GET /f%d: %q, %v", i, body, err)
		}
		if i%100 == 99 {
			most = max(most, fds()-before)
		}
	}
	t.Logf("%d distinct files served; at most %d more descriptors open than before (the connection's among them)", files, most)
	if most > bound+2 {
		t.Errorf("%d more descriptors open while serving %d distinct files; want at most the cache's bound, %d, and the connection", most, files, bound)
	}
}
