package httpserve_test

import (
	"log/slog"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcopy/zcopy/httpserve"
	"github.com/zcopy/zcopy/internal/testbin"
)

// wrkResult is what wrk reported.
type wrkResult struct {
	requests    int64
	reqPerSec   float64
	socketErrs  int64 // connect + read + write + timeout
	non2xx3xx   int64
	errorsLine  string
	transferSec string
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkTransfer = regexp.MustCompile(`Transfer/sec:\s+(\S+)`)
)

func parseWrk(tb testing.TB, out string) wrkResult {
	tb.Helper()
	var r wrkResult
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		tb.Fatalf("wrk printed no request count:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	if m := wrkRPS.FindStringSubmatch(out); m != nil {
		r.reqPerSec, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		r.errorsLine = m[0]
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.socketErrs += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx3xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := wrkTransfer.FindStringSubmatch(out); m != nil {
		r.transferSec = m[1]
	}
	return r
}

// TestWrk is acceptance point 4 of issue 5: wrk with 256 connections for
// 10 s on a 4 KiB and on a 1 MiB file gives no errors and no non-2xx
// responses, and the server's memory stays bounded. The server runs in
// this process; its peak RSS (VmHWM) is logged, and under -race it
// includes the race detector's shadow memory.
func TestWrk(t *testing.T) {
	wrk := testbin.NeedTool(t, "wrk")
	dir := t.TempDir()
	makeFile(t, dir, "4k.bin", 4<<10)
	makeFile(t, dir, "1m.bin", 1<<20)
	duration := "10s"
	if testing.Short() {
		duration = "3s"
	}
	for _, c := range []struct{ name, file string }{{"4KiB", "/4k.bin"}, {"1MiB", "/1m.bin"}} {
		t.Run(c.name, func(t *testing.T) {
			var mu sync.Mutex
			statuses := map[int]int64{}
			sends := map[string]int64{}
			var truncated, notEngine atomic.Int64
			logs := &testbin.Buffer{}
			ts := startServer(t, httpserve.Config{
				Dir:    dir,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
				OnResponse: func(r *httpserve.Response) {
					if r.Outcome == httpserve.Truncated {
						truncated.Add(1)
					}
					if r.Outcome == httpserve.OK && r.EngineBytes != r.BodyBytes {
						notEngine.Add(1)
					}
					mu.Lock()
					statuses[r.Status]++
					sends[r.SendMethod]++
					mu.Unlock()
				},
			})
			runtime.GC()
			rssBefore := readProcStatus("VmRSS")
			heapBefore := goMemory()
			var peak, peakHeap atomic.Int64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					if v := readProcStatus("VmRSS"); v > peak.Load() {
						peak.Store(v)
					}
					if v := goMemory(); v > peakHeap.Load() {
						peakHeap.Store(v)
					}
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			// wrk counts a response that takes longer than --timeout as a
			// socket error: how long 256 connections wait their turn is the
			// machine's speed, not an error, so the limit is a hang guard,
			// longer than the run.
			out := string(mustRun(t, 2*time.Minute, wrk, "-t", "2", "-c", "256", "-d", duration, "--timeout", "60s", ts.URL+c.file))
			close(stop)
			<-sampled
			ts.stop(t)
			r := parseWrk(t, out)
			t.Logf("wrk: %d requests, %.0f req/s, %s/s; %s", r.requests, r.reqPerSec, r.transferSec, r.errorsLine)
			t.Logf("server RSS: %d KiB before, peak %d KiB while wrk ran (process VmHWM %d KiB); Go heap objects and stacks: %d KiB before, peak %d KiB",
				rssBefore, peak.Load(), readProcStatus("VmHWM"), heapBefore>>10, peakHeap.Load()>>10)
			mu.Lock()
			t.Logf("responses by status %v, by send method %v", statuses, sends)
			mu.Unlock()
			if r.requests == 0 {
				t.Fatalf("wrk completed no request:\n%s", out)
			}
			if r.socketErrs != 0 || r.non2xx3xx != 0 {
				t.Errorf("wrk saw errors: %s; non-2xx or 3xx: %d\n%s", r.errorsLine, r.non2xx3xx, out)
			}
			mu.Lock()
			for code, n := range statuses {
				if code != 200 {
					t.Errorf("%d responses with status %d", n, code)
				}
			}
			mu.Unlock()
			if n := truncated.Load(); n != 0 {
				t.Errorf("%d responses reported truncated", n)
			}
			if n := notEngine.Load(); n != 0 {
				t.Errorf("%d complete responses not moved by the engine", n)
			}
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("errors in the log:\n%s", tailLines(logs.String(), 20))
			}
			// Bounded memory: 256 connections may hold a header buffer,
			// net/http's bufio pair and two goroutine stacks each, not a
			// body. The bound is on the Go heap and stacks, not the RSS,
			// which under -race holds the race detector's own memory
			// (hundreds of MiB for 512 goroutines). 128 MiB over the start
			// leaves room for garbage between collections and is half of
			// what buffering 256 bodies of 1 MiB would take.
			if grow := peakHeap.Load() - heapBefore; grow > 128<<20 {
				t.Errorf("the Go heap and stacks grew by %d KiB under load", grow>>10)
			}
		})
	}
}

// goMemory returns the bytes of the Go heap's objects (live and not yet
// swept) and of goroutine stacks.
func goMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	var n int64
	for _, x := range s {
		if x.Value.Kind() == metrics.KindUint64 {
			n += int64(x.Value.Uint64())
		}
	}
	return n
}
