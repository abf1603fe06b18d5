package httpserve_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/zerocopy"
)

// TestTruncation truncates the file while its response is on the way, by
// every method, with and without a lease: the client must get a body
// shorter than the Content-Length, made of the file's bytes, and then the
// end of the connection; the event must be reported as a truncation, in the
// hook, the log and the metrics. With a lease the truncating process must
// be released by the server, not by the kernel's lease-break-time running
// out (which no machine's slowness explains: giving a lease back takes
// milliseconds, the kernel waits 45 s by default).
func TestTruncation(t *testing.T) {
	const size = 64 << 20
	const cut = 32 << 20
	type tcase struct {
		name   string
		method zerocopy.Method
		lease  bool
		ranges string // a multi-range request instead of the whole file
	}
	var cases []tcase
	for _, m := range zerocopy.SendMethods() {
		cases = append(cases, tcase{m.String() + "/lease", m, true, ""}, tcase{m.String() + "/no-lease", m, false, ""})
	}
	cases = append(cases, tcase{"multipart", zerocopy.Auto, true, "0-99,1000-60000000"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := makeFile(t, dir, "big.bin", size)
			data := readFile(t, path)
			ts := startServer(t, httpserve.Config{Dir: dir, Method: c.method, Lease: c.lease, ChunkSize: 1 << 20})

			conn := slowClient(t, ts.Addr)
			req := "GET /big.bin HTTP/1.1\r\nHost: x\r\n"
			if c.ranges != "" {
				req += "Range: bytes=" + c.ranges + "\r\n"
			}
			fmt.Fprintf(conn, "%s\r\n", req)
			br := bufio.NewReaderSize(conn, 64<<10)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			if _, err := io.CopyN(&body, resp.Body, 1<<20); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // let the server park on the full socket

			start := time.Now()
			if err := os.Truncate(path, cut); err != nil {
				t.Fatal(err)
			}
			held := time.Since(start)
			t.Logf("truncate(2) returned after %v", held)
			if limit, ok := testbin.LeaseBreakTime(); c.lease && ok && held >= limit-time.Second {
				t.Errorf("the truncating process was held %v, the kernel's whole lease-break-time (%v): the server did not give its lease back, the kernel broke it", held, limit)
			}

			_, err = io.Copy(&body, resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("reading the body: %v, want unexpected EOF (a body shorter than its Content-Length)", err)
			}
			if int64(body.Len()) >= resp.ContentLength {
				t.Fatalf("got %d body bytes of %d: the short body passed for complete", body.Len(), resp.ContentLength)
			}
			if c.ranges == "" && !bytes.Equal(body.Bytes(), data[:body.Len()]) {
				t.Errorf("the %d bytes received are not the file's first bytes", body.Len())
			}
			// The connection must be closed, not kept for another request.
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("after the short body: read %d bytes, %v; want the connection closed", n, err)
			}

			r := ts.nthResponse(t, 1)
			t.Logf("received %d of %d; engine: %+v; err: %v", body.Len(), resp.ContentLength, r.Send, r.Err)
			if r.Outcome != httpserve.Truncated {
				t.Errorf("outcome %q (err %v), want truncated", r.Outcome, r.Err)
			}
			want := zerocopy.ErrTruncated
			if c.lease {
				want = zerocopy.ErrLeaseBroken
			}
			if c.ranges == "" && !errors.Is(r.Err, want) {
				t.Errorf("error %v, want one matching %v", r.Err, want)
			}
			if c.ranges == "" && r.Send.Method != c.method && c.method != zerocopy.Auto {
				t.Errorf("sent by %v, want %v", r.Send.Method, c.method)
			}
			if got := ts.metric(t, "zcopy_http_truncations_total"); got != 1 {
				t.Errorf("truncations metric = %v, want 1", got)
			}
			if !strings.Contains(ts.Logs.String(), "response truncated") {
				t.Errorf("no truncation in the log")
			}
		})
	}
}

// TestTruncationCurl truncates a file under a rate-limited curl download:
// curl must report a partial transfer (exit 18), never success.
func TestTruncationCurl(t *testing.T) {
	curlBin := testbin.NeedTool(t, "curl")
	dir := t.TempDir()
	path := makeFile(t, dir, "big.bin", 64<<20)
	data := readFile(t, path)
	ts := startServer(t, httpserve.Config{Dir: dir})
	out := filepath.Join(t.TempDir(), "out.bin")
	cmd, stderr := curlUnderway(t, curlBin, "4M", out, ts.URL+"/big.bin")
	start := time.Now()
	if err := os.Truncate(path, 8<<20); err != nil {
		t.Fatal(err)
	}
	t.Logf("truncate(2) returned after %v", time.Since(start))
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 18 {
		t.Fatalf("curl: %v (%s), want exit status 18 (partial file)", err, strings.TrimSpace(stderr.String()))
	}
	t.Logf("curl: %s", strings.TrimSpace(stderr.String()))
	got := readFile(t, out)
	if len(got) >= len(data) || !bytes.Equal(got, data[:len(got)]) {
		t.Errorf("curl kept %d bytes (a prefix: %v) of %d", len(got), bytes.Equal(got, data[:min(len(got), len(data))]), len(data))
	}
	if r := ts.nthResponse(t, 1); r.Outcome != httpserve.Truncated {
		t.Errorf("outcome %q, want truncated", r.Outcome)
	}
}

// TestAppendDuringDownloadCurl appends a line to a 48 MiB log while curl
// downloads it at a limited rate, from a shell (echo line >> app.log, a
// blocking open with O_APPEND), and again with an O_NONBLOCK open
// (coreutils truncate -s +0, which a lease makes fail with EAGAIN): both
// writers must succeed, and curl must get all 50,331,648 bytes announced
// and exit 0, as with nginx. Issue 13: the lease zcopy http held cut the
// download at ~12-15 MB (curl exit 18) and logged "the file shrank".
func TestAppendDuringDownloadCurl(t *testing.T) {
	curlBin := testbin.NeedTool(t, "curl")
	dir := t.TempDir()
	path := makeFile(t, dir, "app.log", 48<<20)
	data := readFile(t, path)
	ts := startServer(t, httpserve.Config{Dir: dir})
	out := filepath.Join(t.TempDir(), "out.log")
	cmd, stderr := curlUnderway(t, curlBin, "16M", out, ts.URL+"/app.log")
	for _, w := range [][]string{{"sh", "-c", "echo line >> " + path}, {"truncate", "-s", "+0", path}} {
		if b, err := exec.Command(w[0], w[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%q failed while the file was being downloaded: %v %s", w, err, b)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("curl: %v (%s), want exit status 0", err, strings.TrimSpace(stderr.String()))
	}
	if got := readFile(t, out); !bytes.Equal(got, data) {
		t.Errorf("curl got %d bytes (the file's first bytes: %v), want all %d", len(got), bytes.Equal(got, data[:min(len(got), len(data))]), len(data))
	}
	if r := ts.nthResponse(t, 1); r.Outcome == httpserve.Truncated || r.Err != nil {
		t.Errorf("outcome %q, error %v; want a complete response", r.Outcome, r.Err)
	}
}

// curlUnderway starts curl downloading url into out at a limited rate and
// returns once it has written 1 MiB, so the rest is still to come. A hang
// guard kills it after a minute.
func curlUnderway(t *testing.T, curlBin, rate, out, url string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, curlBin, "-sS", "--limit-rate", rate, "-o", out, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if fi, err := os.Stat(out); err == nil && fi.Size() >= 1<<20 {
			return cmd, &stderr
		}
		if ctx.Err() != nil {
			t.Fatal("curl never got 1 MiB")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
