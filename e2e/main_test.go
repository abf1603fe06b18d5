package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// zcopyBin is the binary under test, built once by TestMain.
var zcopyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zcopy-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zcopyBin = filepath.Join(dir, "zcopy")
	build := exec.Command("go", "build", "-o", zcopyBin, "../cmd/zcopy")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building zcopy:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTool returns the path of an outside tool. A missing tool fails the
// test under CI=true and skips it elsewhere.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true (make deps installs it): %v", name, err)
	}
	t.Skipf("%s not installed: %v", name, err)
	return ""
}

// proc is a running zcopy.
type proc struct {
	listen string // the address it listens on, once known
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr *stderrWatch
	done   chan struct{}
	err    error
}

type stderrWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	sent bool
	addr chan string // buffered; receives the address once
}

// String returns what was written so far.
func (b *stderrWatch) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var listenRE = regexp.MustCompile(`listening on (\S+)`)

// Write records stderr and reports the first "listening on ADDR" line.
func (b *stderrWatch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if !b.sent {
		if m := listenRE.FindSubmatch(b.buf.Bytes()); m != nil {
			b.sent = true
			b.addr <- string(m[1])
		}
	}
	return len(p), nil
}

// start runs zcopy with args; it is killed at the end of the test if still
// running.
func start(t testing.TB, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(zcopyBin, args...), done: make(chan struct{})}
	p.stderr = &stderrWatch{addr: make(chan string, 1)}
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// addr waits for the "listening on" line and returns the address.
func (p *proc) addr(t testing.TB) string {
	t.Helper()
	if p.listen != "" {
		return p.listen
	}
	select {
	case a := <-p.stderr.addr:
		p.listen = a
		return a
	case <-p.done:
		t.Fatalf("zcopy exited before listening: %v\n%s", p.err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("zcopy did not start listening; stderr so far: %q", p.stderr.String())
	}
	return ""
}

// wait waits for the process and returns its exit code and stderr.
func (p *proc) wait(t testing.TB) (int, string) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(120 * time.Second):
		t.Fatal("zcopy did not finish")
	}
	st := p.cmd.ProcessState
	if !st.Exited() {
		t.Fatalf("zcopy ended by %v, not by exiting\n%s", st, p.stderr.String())
	}
	return st.ExitCode(), p.stderr.String()
}

// run runs zcopy to completion.
func run(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zcopyBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String()
}

// randomFile writes size random bytes to dir/name and returns the path and
// the bytes; the seed is logged.
func randomFile(t testing.TB, dir, name string, size int) (string, []byte) {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	t.Logf("random data seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	data := make([]byte, size)
	for i := 0; i < len(data); i += 8 {
		v := rng.Uint64()
		for j := 0; j < 8 && i+j < len(data); j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

// sameFile fails the test unless the file at path holds want.
func sameFile(t testing.TB, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes, want %d identical bytes", path, len(got), len(want))
	}
}

// sameContent fails the test unless the files at got and want hold the same
// bytes. It compares them 1 MiB at a time: the test process must stay small
// (under the race detector a whole GiB read at once costs many GiB).
func sameContent(t testing.TB, got, want string) {
	t.Helper()
	if err := compareFiles(got, want); err != nil {
		t.Fatal(err)
	}
}

func compareFiles(got, want string) error {
	g, err := os.Open(got)
	if err != nil {
		return err
	}
	defer g.Close()
	w, err := os.Open(want)
	if err != nil {
		return err
	}
	defer w.Close()
	gb, wb := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		gn, gerr := io.ReadFull(g, gb)
		wn, werr := io.ReadFull(w, wb)
		if gn != wn || !bytes.Equal(gb[:gn], wb[:wn]) {
			return fmt.Errorf("%s differs from %s in the MiB at offset %d", got, want, off)
		}
		off += int64(gn)
		if gerr != nil || werr != nil {
			if (gerr == nil) != (werr == nil) {
				return fmt.Errorf("%s and %s differ in length (%v, %v)", got, want, gerr, werr)
			}
			return nil
		}
	}
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Scan()
	return sc.Text()
}

// readAll reads r until an error, returning what it read.
func readAll(r *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.Bytes(), err
}

// needRoot fails the test under CI=true, and skips it elsewhere, unless it
// runs as root (mounts, network namespaces).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("this test needs root under CI=true")
	}
	t.Skip("needs root")
}
