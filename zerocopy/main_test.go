package zerocopy

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakOpts are the goleak options of every check: none. The lease
// watcher, in particular, must be gone once the last lease is released.
var leakOpts []goleak.Option

// TestMain doubles as the helper processes some tests need: with
// ZCOPY_TEST_TRUNCATE=PATH:SIZE set, the test binary truncates PATH to SIZE
// with truncate(2), which waits while another process holds a lease, and
// exits; with ZCOPY_TEST_APPEND=MODE:PATH it appends a line to PATH (see
// appendHelper); with ZCOPY_BENCH_PEER set it is a benchmark's peer (see
// bench_test.go).
func TestMain(m *testing.M) {
	if spec := os.Getenv("ZCOPY_TEST_TRUNCATE"); spec != "" {
		os.Exit(truncateHelper(spec))
	}
	if spec := os.Getenv("ZCOPY_TEST_APPEND"); spec != "" {
		os.Exit(appendHelper(spec))
	}
	if role := os.Getenv("ZCOPY_BENCH_PEER"); role != "" {
		os.Exit(benchPeer(role))
	}
	goleak.VerifyTestMain(m, leakOpts...)
}

func truncateHelper(spec string) int {
	i := len(spec) - 1
	for i >= 0 && spec[i] != ':' {
		i--
	}
	size, err := strconv.ParseInt(spec[i+1:], 10, 64)
	if i < 0 || err != nil {
		fmt.Fprintln(os.Stderr, "bad ZCOPY_TEST_TRUNCATE", spec)
		return 2
	}
	start := time.Now()
	if err := os.Truncate(spec[:i], size); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// How long truncate(2) itself was held, for the test to judge; the
	// process's own start-up is not the lease's doing.
	fmt.Println(time.Since(start).Nanoseconds())
	return 0
}

// appendHelper appends a line to a file as a logging process would: MODE
// "append" opens it O_WRONLY|O_APPEND, "append-nonblock" adds O_NONBLOCK,
// as coreutils' truncate and some daemons open files (an open that a
// lease makes fail with EAGAIN instead of wait).
func appendHelper(spec string) int {
	mode, path, ok := strings.Cut(spec, ":")
	flags := os.O_WRONLY | os.O_APPEND
	switch {
	case !ok:
		fmt.Fprintln(os.Stderr, "bad ZCOPY_TEST_APPEND", spec)
		return 2
	case mode == "append-nonblock":
		flags |= syscall.O_NONBLOCK
	case mode != "append":
		fmt.Fprintln(os.Stderr, "bad ZCOPY_TEST_APPEND mode", mode)
		return 2
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := f.WriteString("one more line\n"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
