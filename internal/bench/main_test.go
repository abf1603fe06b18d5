package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// zcopyBin is the zcopy binary built once for the whole-binary tests; its
// bench-worker subcommand is what Config.Command runs.
var zcopyBin string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "zcopy-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	zcopyBin = filepath.Join(dir, "zcopy")
	build := exec.Command("go", "build", "-o", zcopyBin, "github.com/zcopy/zcopy/cmd/zcopy")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building zcopy: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// workerCommand is Config.Command for tests.
func workerCommand() []string { return []string{zcopyBin, "bench-worker"} }

// testConfig is a small, quick configuration.
func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Command = workerCommand()
	cfg.Dir = t.TempDir()
	cfg.Reps = 1
	cfg.Warmup = 0
	cfg.Timeout = 30 * time.Second
	return cfg
}

// result is what a run of the binary did.
type result struct {
	stdout, stderr string
	code           int
}

// runZcopy runs the binary with args and waits for it (at most timeout).
func runZcopy(t testing.TB, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, zcopyBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("zcopy %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("zcopy %q did not finish in %v; stderr:\n%s", args, timeout, r.stderr)
	}
	return r
}

// need makes a test that lacks something from its environment skip, or
// fail when CI=true: CI must run every test.
func need(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("this test needs %s (CI=true: failing rather than skipping)", what)
	}
	t.Skipf("this test needs %s", what)
}
