package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// combinedRE is the combined log format as log parsers read it (nginx's
// log_format combined, Apache's "combined").
var combinedRE = regexp.MustCompile(`^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)"$`)

// TestHTTPAccessLogRotation: zcopy http --access-log FILE writes nginx's
// combined format, which goaccess and the combined-log regex read; after
// the file is renamed away (as logrotate does) SIGHUP makes the server,
// which keeps running, write the lines that follow to a new FILE.
func TestHTTPAccessLogRotation(t *testing.T) {
	goaccess := testbin.NeedTool(t, "goaccess")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello\n"), 0o644)
	logPath := filepath.Join(t.TempDir(), "access.log")
	p := testbin.Start(t, exec.Command(zcopyBin, "http", dir, "--listen", "127.0.0.1:0", "--access-log", logPath))
	base := "http://" + p.Addr(t)
	get := func(path, referer, agent string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Referer", referer)
		req.Header.Set("User-Agent", agent)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	get("/a.txt?x=1", "http://example.test/page", `agent "quoted"`)
	get("/missing", "", "curl/8")
	// The access log line is written after the response: wait for it.
	lines := func(path string, n int) []string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(b) > 0 && len(ls) >= n {
				return ls
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %q; want %d lines", path, b, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	before := lines(logPath, 2)
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	p.Cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Log(), "reopened the access log") {
		if !p.Running() || time.Now().After(deadline) {
			t.Fatalf("after SIGHUP: running %v, log %q", p.Running(), p.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	get("/a.txt", "", "after-rotation")
	after := lines(logPath, 1)

	want := []struct{ request, status, bytes, referer, agent string }{
		{"GET /a.txt?x=1 HTTP/1.1", "200", "6", "http://example.test/page", `agent \x22quoted\x22`},
		{"GET /missing HTTP/1.1", "404", "14", "-", "curl/8"},
		{"GET /a.txt HTTP/1.1", "200", "6", "-", "after-rotation"},
	}
	for i, l := range append(before, after...) {
		m := combinedRE.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("line %q is not in the combined format", l)
			continue
		}
		w := want[i]
		if m[1] != "127.0.0.1" || m[4] != w.request || m[5] != w.status || m[6] != w.bytes || m[7] != w.referer || m[8] != w.agent {
			t.Errorf("line %q: want request %q, status %s, %s bytes, referer %q, agent %q", l, w.request, w.status, w.bytes, w.referer, w.agent)
		}
		if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", m[3]); err != nil {
			t.Errorf("line %q: time: %v", l, err)
		}
	}

	// goaccess, a log analyser, reads both files as COMBINED.
	for _, c := range []struct {
		path string
		n    float64
	}{{logPath + ".1", 2}, {logPath, 1}} {
		out, err := exec.Command(goaccess, c.path, "--log-format=COMBINED", "--no-global-config", "-o", "json").Output()
		if err != nil {
			t.Fatalf("goaccess %s: %v", c.path, err)
		}
		var rep struct {
			General struct {
				Total  float64 `json:"total_requests"`
				Valid  float64 `json:"valid_requests"`
				Failed float64 `json:"failed_requests"`
			} `json:"general"`
		}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("goaccess output: %v\n%s", err, out)
		}
		if g := rep.General; g.Valid != c.n || g.Failed != 0 {
			t.Errorf("goaccess on %s: %v valid, %v failed of %v; want %v valid, 0 failed", filepath.Base(c.path), g.Valid, g.Failed, g.Total, c.n)
		}
	}
	if !p.Running() {
		t.Fatalf("the server exited on SIGHUP: %s", p.Log())
	}
}

// TestHTTPSecondSignal: SIGTERM starts a graceful shutdown that would wait
// --grace (10 minutes) for a download its client does not read; a second
// SIGTERM closes the connection and ends the server at once.
func TestHTTPSecondSignal(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 64<<20)
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644)
	p := testbin.Start(t, exec.Command(zcopyBin, "http", dir, "--listen", "127.0.0.1:0", "--grace", "10m", "--access-log", "off"))
	addr := p.Addr(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
	// Read the start of the response, so that the download is in flight,
	// then stop reading.
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadAtLeast(c, buf, 1); err != nil {
		t.Fatal(err)
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Log(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatalf("no shutdown after SIGTERM: %q", p.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !p.Running() {
		t.Fatalf("the server ended on the first SIGTERM with a download in flight and 10 minutes of grace: %s", p.Log())
	}
	p.Cmd.Process.Signal(syscall.SIGTERM)
	code, log := p.Wait(t)
	if !strings.Contains(log, "second signal") {
		t.Errorf("exit %d after the second SIGTERM; the log does not say why:\n%s", code, log)
	}
	// The download was cut: the client reads the end of the connection.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Errorf("the client's connection after the second signal: %v; want it closed", err)
	}
}
