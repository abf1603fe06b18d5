// Package testbin runs the zcopy binary for the whole-program test suites
// (e2e, reliability): it builds the binary, starts servers and watches
// their logs for the address they listen on, runs clients to completion
// under a hang guard, compares what arrived, and says what a test needs of
// the machine (an outside tool, root).
//
// It is imported only by tests.
package testbin

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// HangGuard is how long Wait and Run wait for a process before they give
// up on it.
const HangGuard = 2 * time.Minute

// MustBuild is for TestMain: it builds zcopy into a new temporary directory
// named after prefix and returns the binary's path and a function that
// removes the directory. If the build fails it says why and exits 1.
func MustBuild(prefix string) (bin string, remove func()) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "zcopy")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/zcopy/zcopy/cmd/zcopy")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building zcopy:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	return bin, func() { os.RemoveAll(dir) }
}

// NeedTool returns the path of an outside program the test needs. Without
// it the test fails when CI=true (CI installs it from .ci/packages.txt) and
// is skipped otherwise.
func NeedTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is required under CI=true (make deps installs it): %v", name, err)
	}
	tb.Skipf("%s not installed: %v", name, err)
	return ""
}

// NeedRoot fails the test under CI=true, and skips it elsewhere, unless it
// runs as root (mounts, network namespaces, tc).
func NeedRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("this test needs root under CI=true")
	}
	tb.Skip("needs root")
}

// Proc is a running process, usually a zcopy server.
type Proc struct {
	Cmd    *exec.Cmd
	Stdout bytes.Buffer  // read it only after Done is closed
	Done   chan struct{} // closed when the process has exited
	Err    error         // what Cmd.Wait returned, once Done is closed
	stderr *stderrWatch
	listen string
}

// Start starts cmd, recording its output; the process is killed at the end
// of the test if it is still running.
func Start(tb testing.TB, cmd *exec.Cmd) *Proc {
	tb.Helper()
	p := &Proc{Cmd: cmd, Done: make(chan struct{}), stderr: &stderrWatch{addr: make(chan string, 1)}}
	cmd.Stdout, cmd.Stderr = &p.Stdout, p.stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	go func() {
		p.Err = cmd.Wait()
		close(p.Done)
	}()
	tb.Cleanup(func() {
		running := p.Running()
		cmd.Process.Kill()
		<-p.Done
		if tb.Failed() {
			// What a process said is often why the test failed (a hang
			// guard's message does not say where the process was).
			state := "killed at the end of the test"
			if !running {
				state = fmt.Sprintf("exited: %v", p.Err)
			}
			log := p.Log()
			if len(log) > 4<<10 {
				log = "..." + log[len(log)-4<<10:]
			}
			tb.Logf("%s (%s); its stderr:\n%s", strings.Join(cmd.Args, " "), state, log)
		}
	})
	return p
}

// Log returns what the process has written to stderr so far.
func (p *Proc) Log() string { return p.stderr.String() }

// Addr waits for the address the server says it listens on ("listening on
// ADDR", or "serving DIR on http://ADDR/") and returns it.
func (p *Proc) Addr(tb testing.TB) string {
	tb.Helper()
	if p.listen != "" {
		return p.listen
	}
	select {
	case a := <-p.stderr.addr:
		p.listen = a
		return a
	case <-p.Done:
		tb.Fatalf("%s exited before listening: %v\n%s", p.Cmd.Args[0], p.Err, p.Log())
	case <-time.After(20 * time.Second):
		tb.Fatalf("%s did not start listening; stderr so far: %q", p.Cmd.Args[0], p.Log())
	}
	return ""
}

// Running reports whether the process has not exited.
func (p *Proc) Running() bool {
	select {
	case <-p.Done:
		return false
	default:
		return true
	}
}

// Wait waits (at most HangGuard) for the process to exit and returns its
// exit code and stderr. A process ended by a signal fails the test.
func (p *Proc) Wait(tb testing.TB) (int, string) {
	tb.Helper()
	select {
	case <-p.Done:
	case <-time.After(HangGuard):
		tb.Fatalf("%s did not finish; stderr so far: %s", p.Cmd.Args[0], p.Log())
	}
	st := p.Cmd.ProcessState
	if !st.Exited() {
		tb.Fatalf("%s ended by %v, not by exiting\n%s", p.Cmd.Args[0], st, p.Log())
	}
	return st.ExitCode(), p.Log()
}

// stderrWatch records stderr and hands on the first address a server says
// it listens on.
type stderrWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	addr    chan string // buffered; gets the first address
	sent    bool
	changed chan struct{} // closed (and replaced) by each Write
}

// WaitLog waits (at most HangGuard) until the process's stderr holds s at
// least n times, and returns it; the test fails if the process exits
// first.
func (p *Proc) WaitLog(tb testing.TB, s string, n int) string {
	tb.Helper()
	guard := time.After(HangGuard)
	for {
		p.stderr.mu.Lock()
		log := p.stderr.buf.String()
		if p.stderr.changed == nil {
			p.stderr.changed = make(chan struct{})
		}
		changed := p.stderr.changed
		p.stderr.mu.Unlock()
		if strings.Count(log, s) >= n {
			return log
		}
		select {
		case <-changed:
		case <-p.Done:
			if strings.Count(p.Log(), s) >= n {
				return p.Log()
			}
			tb.Fatalf("%s exited (%v) before saying %q %d times:\n%s", p.Cmd.Args[0], p.Err, s, n, p.Log())
		case <-guard:
			tb.Fatalf("%s did not say %q %d times; stderr so far: %q", p.Cmd.Args[0], s, n, log)
		}
	}
}

// listenRE finds the address a zcopy server says it listens on: "listening
// on ADDR" (send, recv) or "serving DIR on http://ADDR/" (http).
var listenRE = regexp.MustCompile(`(?:listening on |serving .* on https?://)([^\s/]+)`)

func (b *stderrWatch) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *stderrWatch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	if !b.sent {
		if m := listenRE.FindSubmatch(b.buf.Bytes()); m != nil {
			b.addr <- string(m[1])
			b.sent = true
		}
	}
	return len(p), nil
}

// Run runs cmd to completion (at most HangGuard) and returns its exit code
// and output. err reports a process that could not start, was killed by a
// signal or hung; an exit with a non-zero code is not an error. It never
// ends the test, so goroutines other than the test's may call it.
func Run(cmd *exec.Cmd) (code int, stdout, stderr string, err error) {
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		return -1, "", "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			return -1, o.String(), e.String(), err
		}
	case <-time.After(HangGuard):
		cmd.Process.Kill()
		<-done
		return -1, o.String(), e.String(), fmt.Errorf("%v did not finish; stderr so far: %s", cmd.Args, e.String())
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String(), nil
}

// ErrMissing is wrapped by CompareFiles when the file to check is not there.
var ErrMissing = errors.New("missing")

// CompareFiles compares the file at path with the one at src, a MiB at a
// time (a test process under the race detector must not read GiBs whole),
// and returns the bytes compared, or an error wrapping ErrMissing if path
// does not exist, or saying where they differ.
func CompareFiles(path, src string) (int64, error) {
	g, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	defer g.Close()
	w, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("the source: %v", err)
	}
	defer w.Close()
	gb, wb := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		gn, gerr := io.ReadFull(g, gb)
		wn, werr := io.ReadFull(w, wb)
		if gn != wn || !bytes.Equal(gb[:gn], wb[:wn]) {
			gi, _ := g.Stat()
			wi, _ := w.Stat()
			return off, fmt.Errorf("%s (%d bytes) differs from %s (%d bytes) in the MiB at %d", path, gi.Size(), src, wi.Size(), off)
		}
		off += int64(gn)
		if gerr != nil || werr != nil {
			return off, nil
		}
	}
}

// LeaseBreakTime returns the kernel's lease-break-time: how long a writer
// waits for a lease holder to give the lease back before the kernel breaks
// the lease itself (Linux: /proc/sys/fs/lease-break-time, in seconds). A
// test that a lease was given back promptly fails only when a wait reached
// it, which is the kernel's doing, not a question of speed. ok is false
// where there is none, or where it is too short (under 5 s) to tell a lease
// given back from one the kernel broke.
func LeaseBreakTime() (d time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/sys/fs/lease-break-time")
	if err != nil {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 5 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
