package zerocopy

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// leakOpts ignores the lease watcher, which lives as long as the process.
var leakOpts = []goleak.Option{goleak.IgnoreAnyFunction("github.com/zcopy/zcopy/zerocopy.watchLeases")}

// TestMain doubles as the helper processes some tests need: with
// ZCOPY_TEST_TRUNCATE=PATH:SIZE set, the test binary truncates PATH to SIZE
// with truncate(2), which waits while another process holds a lease, and
// exits; with ZCOPY_BENCH_PEER set it is a benchmark's peer (see
// bench_test.go).
func TestMain(m *testing.M) {
	if spec := os.Getenv("ZCOPY_TEST_TRUNCATE"); spec != "" {
		os.Exit(truncateHelper(spec))
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
