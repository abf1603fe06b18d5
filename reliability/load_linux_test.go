package reliability

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// loadSize returns the size of load file i: 1 to 32 KiB, varied, so that
// the transfers take both the batched small-file path and none alike.
func loadSize(i int) int { return 1 + (i*7919)%(32<<10) }

// TestLoadConcurrentFramed runs 1,000 framed transfers at once into one
// zcopy recv --keep (under soak, round after round). Of them, 960 are zcopy's own sender (internal/session) run
// from this process on 960 connections dialled before any starts, and 40
// are separate zcopy send processes started at the same moment. Each
// sends its own file of 1 to 32 KiB. It checks that every sender
// succeeded, every file arrived byte-identical, the receiver logged no
// failure and exits 0 on SIGTERM; it reports the receiver's peak RSS
// (VmHWM) and the most connections it held at once (/proc/PID/fd).
func TestLoadConcurrentFramed(t *testing.T) {
	const inProcess, processes = 960, 40
	const n = inProcess + processes
	needNoFile(t, 2*n+100)
	for round := range rounds() {
		base := t.TempDir()
		srcDir := filepath.Join(base, "src")
		dst := filepath.Join(base, "dst")
		os.MkdirAll(srcDir, 0o755)
		want := make([][]byte, n)
		for i := range n {
			want[i] = randomBytes(uint64(round*n+i), loadSize(i))
			if err := os.WriteFile(filepath.Join(srcDir, fmt.Sprintf("f%04d.bin", i)), want[i], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "-q")
		addr := r.Addr(t)
		stopWatch := watchSockets(r.Cmd.Process.Pid)

		// Dial every in-process connection first, so that all of them are
		// open at once; then let them all go.
		conns := make([]net.Conn, inProcess)
		for i := range conns {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			conns[i] = c
		}
		began := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Int64
		var errs sync.Map
		gate := make(chan struct{})
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				items, err := tree.Walk([]string{filepath.Join(srcDir, fmt.Sprintf("f%04d.bin", i))}, func(string) {})
				<-gate
				if err == nil {
					var res session.Result
					res, err = session.Send(context.Background(), c, session.Items(items), session.Options{Method: zerocopy.Auto})
					if err == nil && res.Files != 1 {
						err = fmt.Errorf("result %+v", res)
					}
				}
				if err != nil {
					failed.Add(1)
					errs.Store(i, err)
				}
			}()
		}
		for i := inProcess; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				code, _, serr, err := runGo("send", "--to", addr, filepath.Join(srcDir, fmt.Sprintf("f%04d.bin", i)))
				if code != 0 || err != nil {
					failed.Add(1)
					errs.Store(i, fmt.Errorf("exit %d: %s %v", code, serr, err))
				}
			}()
		}
		close(gate)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			t.Fatalf("the load did not finish in 3 minutes (a hang guard); %d failed so far", failed.Load())
		}
		took := time.Since(began)
		peakConns := stopWatch()
		errs.Range(func(k, v any) bool {
			t.Errorf("transfer %d: %v", k, v)
			return true
		})
		if failed.Load() > 0 {
			t.Fatalf("%d of %d transfers failed", failed.Load(), n)
		}
		ok := 0
		for i := range n {
			if arrived(t, filepath.Join(dst, fmt.Sprintf("f%04d.bin", i)), want[i]) {
				ok++
			}
		}
		figs.transfer(ok)
		rss := r.peakRSS(t)
		log := r.stop(t)
		if strings.Count(log, "\n") > 2 {
			t.Errorf("the receiver (-q) logged more than its start and stop:\n%s", log)
		}
		figs.peak(figs.PeakConns, "recv --keep under 1,000 concurrent framed transfers", int64(peakConns))
		figs.peak(figs.PeakRSS, "recv --keep under 1,000 concurrent framed transfers", rss)
		t.Logf("%d transfers (%d in-process, %d processes) in %v; receiver peak RSS %s, at most %d sockets open at once",
			n, inProcess, processes, took.Round(time.Millisecond), mib(rss<<10), peakConns)
		// A bound, not a figure: one session's buffers, times 1,000, with
		// room to spare (about 50 MiB was measured).
		if rss > 256<<10 {
			t.Errorf("receiver peak RSS %s under 1,000 small transfers; want under 256 MiB", mib(rss<<10))
		}
		if peakConns < inProcess/2 {
			t.Errorf("the receiver never held more than %d connections at once: the load was not concurrent", peakConns)
		}
	}
}

// TestDescriptorExhaustion starts zcopy recv --keep with at most 64 open
// descriptors (ulimit -n 64, soft and hard) and floods it with 200
// connections that send nothing (a hostile input). The server must log
// the accept error ("too many open files") and stay up. Connections past
// the limit are not refused by the kernel (they complete into the listen
// backlog) and wait; the silent ones the server did accept are dropped by
// its header timeout (2 s here), so an honest sender that comes while the
// flood is still open is served once the connections ahead of it in the
// backlog have been accepted and dropped. Once the flood is gone, another
// honest sender is served at once, and the server exits 0 on SIGTERM.
func TestDescriptorExhaustion(t *testing.T) {
	for range rounds() {
		base := t.TempDir()
		dst := filepath.Join(base, "dst")
		r := startLimited(t, 64, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--header-timeout", "2s")
		addr := r.Addr(t)
		var flood []net.Conn
		for range 200 {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			flood = append(flood, c)
		}
		figs.hostile("silent connections (flood past ulimit -n 64)", len(flood))
		figs.fault("descriptor exhaustion (ulimit -n 64)")
		if !eventually(20*time.Second, func() bool { return strings.Contains(r.Log(), "too many open files") }) {
			t.Errorf("no accept error logged; log:\n%s", r.Log())
		}
		if !r.Running() {
			code, log := r.Wait(t)
			t.Fatalf("the server died under descriptor exhaustion: exit %d\n%s", code, log)
		}
		limits, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", r.Cmd.Process.Pid))
		if !regexp.MustCompile(`Max open files\s+64\s+64\s`).Match(limits) {
			t.Errorf("the server's descriptor limit is not 64:\n%s", limits)
		}
		// While the flood stays open, an honest sender queues in the
		// backlog; the header timeout drops the silent connections the
		// server holds, batch after batch, until it is served.
		first := filepath.Join(base, "during.bin")
		firstData := writeRandom(t, first, 1<<20)
		began := time.Now()
		code, _, serr := run(t, "send", "--to", addr, first)
		if code != 0 {
			t.Fatalf("during the flood, an honest send failed: exit %d: %s", code, serr)
		}
		t.Logf("during the flood, an honest send was served after %v", time.Since(began).Round(time.Millisecond))
		if arrived(t, filepath.Join(dst, "during.bin"), firstData) {
			figs.transfer(1)
		}
		for _, c := range flood {
			c.Close()
		}
		src := filepath.Join(base, "after.bin")
		data := writeRandom(t, src, 1<<20)
		code, _, serr = run(t, "send", "--to", addr, src)
		if code != 0 {
			t.Fatalf("after the flood, an honest send failed: exit %d: %s", code, serr)
		}
		if arrived(t, filepath.Join(dst, "after.bin"), data) {
			figs.transfer(1)
		}
		log := r.stop(t)
		if !strings.Contains(log, "accept: accept tcp") || !strings.Contains(log, "(retrying)") {
			t.Errorf("the log does not show the accept error and the retry:\n%s", firstLines(log, 20))
		}
		t.Logf("server log (first lines):\n%s", firstLines(log, 8))
	}
}

// firstLines returns the first n lines of s.
func firstLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d more lines)\n", len(lines)-n))
	}
	return strings.Join(lines, "")
}
