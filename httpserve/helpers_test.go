package httpserve_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/datagen"
	"github.com/zcopy/zcopy/internal/testbin"
)

// testServer is a Server running on 127.0.0.1:0.
type testServer struct {
	*httpserve.Server
	URL  string // http://127.0.0.1:port
	Addr string
	Dir  string
	Logs *testbin.Buffer

	mu    sync.Mutex
	resps []*httpserve.Response
	cond  *sync.Cond

	cancel context.CancelFunc
	done   chan error
}

// startServer serves cfg.Dir (a new temporary directory if empty) and stops
// the server at the end of the test, checking that Serve returned cleanly.
func startServer(tb testing.TB, cfg httpserve.Config) *testServer {
	tb.Helper()
	return startServerWith(tb, cfg, net.ListenConfig{})
}

// startServerWith is startServer on a listener made by lc (which may set
// socket options that accepted connections inherit).
func startServerWith(tb testing.TB, cfg httpserve.Config, lc net.ListenConfig) *testServer {
	tb.Helper()
	if cfg.Dir == "" {
		cfg.Dir = tb.TempDir()
	}
	ts := &testServer{Dir: cfg.Dir, Logs: &testbin.Buffer{}}
	ts.cond = sync.NewCond(&ts.mu)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(ts.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.AccessLog = ts.Logs
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = 5 * time.Second
	}
	// A caller's own hook replaces the recording (a load test would keep
	// hundreds of thousands of responses).
	if cfg.OnResponse == nil {
		cfg.OnResponse = ts.record
	}
	srv, err := httpserve.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.Server, ts.cancel, ts.done = srv, cancel, make(chan error, 1)
	ts.Addr = ln.Addr().String()
	ts.URL = "http://" + ts.Addr
	go func() { ts.done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		ts.stop(tb)
		srv.Close()
		if tb.Failed() {
			tb.Logf("server log:\n%s", tailLines(ts.Logs.String(), 40))
		}
	})
	return ts
}

// record is the OnResponse hook that keeps every response.
func (ts *testServer) record(r *httpserve.Response) {
	ts.mu.Lock()
	ts.resps = append(ts.resps, r)
	ts.cond.Broadcast()
	ts.mu.Unlock()
}

// stop cancels Serve and waits for it (at most the grace period and a bit).
func (ts *testServer) stop(tb testing.TB) {
	tb.Helper()
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			tb.Errorf("Serve: %v", err)
		}
		ts.done <- err // for a second stop
	case <-time.After(30 * time.Second):
		tb.Errorf("Serve did not return 30 s after its context was cancelled")
	}
}

// responses returns the responses recorded so far.
func (ts *testServer) responses() []*httpserve.Response {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return slices.Clone(ts.resps)
}

// waitResponses waits until at least n responses have been recorded (the
// hook runs after the body, so a client may finish before it does).
func (ts *testServer) waitResponses(tb testing.TB, n int) []*httpserve.Response {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	stop := time.AfterFunc(20*time.Second, func() { ts.mu.Lock(); ts.cond.Broadcast(); ts.mu.Unlock() })
	defer stop.Stop()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for len(ts.resps) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d responses recorded, want %d", len(ts.resps), n)
		}
		ts.cond.Wait()
	}
	return slices.Clone(ts.resps)
}

// lastResponse waits for the n-th response (1-based) and returns it.
func (ts *testServer) nthResponse(tb testing.TB, n int) *httpserve.Response {
	tb.Helper()
	return ts.waitResponses(tb, n)[n-1]
}

// metric returns the value of the sample whose name and labels are given
// as they appear in the text exposition format, e.g.
// `zcopy_http_body_bytes_total{send_method="sendfile"}`, or 0 if absent.
func (ts *testServer) metric(tb testing.TB, sample string) float64 {
	tb.Helper()
	rec := httptest.NewRecorder()
	ts.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				tb.Fatalf("metric %s: %v", sample, err)
			}
			return v
		}
	}
	return 0
}

// makeFile writes a file of size random bytes (seed logged) under dir and
// returns its path.
func makeFile(tb testing.TB, dir, name string, size int64) string {
	tb.Helper()
	seed := uint64(time.Now().UnixNano())
	tb.Logf("%s: %d random bytes, seed %d", name, size, seed)
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := datagen.Generate(p, datagen.Options{Size: size, Seed: seed}); err != nil {
		tb.Fatal(err)
	}
	return p
}

// readFile returns a file's contents.
func readFile(tb testing.TB, p string) []byte {
	tb.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// sameFiles reports whether two files hold the same bytes, streaming them.
func sameFiles(tb testing.TB, a, b string) bool {
	tb.Helper()
	fa, err := os.Open(a)
	if err != nil {
		tb.Fatal(err)
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		tb.Fatal(err)
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false
		}
		if ea != nil || eb != nil {
			return (ea == io.EOF || ea == io.ErrUnexpectedEOF) && (eb == io.EOF || eb == io.ErrUnexpectedEOF)
		}
	}
}

// run runs a command with a time limit and returns its stdout; stderr is
// returned in the error.
func run(tb testing.TB, timeout time.Duration, name string, args ...string) ([]byte, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tailLines(stderr.String(), 20))
	}
	return out, nil
}

// mustRun is run that fails the test on error.
func mustRun(tb testing.TB, timeout time.Duration, name string, args ...string) []byte {
	tb.Helper()
	out, err := run(tb, timeout, name, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readProcStatus returns a field of /proc/self/status in KiB (VmHWM,
// VmRSS), or -1 where there is no such file.
func readProcStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}
