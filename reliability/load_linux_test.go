package reliability

import (
	"context"
	"errors"
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
	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// loadSize returns the size of load file i: 1 to 32 KiB, varied, so that
// the transfers take both the batched small-file path and none alike.
func loadSize(i int) int { return 1 + (i*7919)%(32<<10) }

// loadWait bounds each wait of the load tests for connections to be
// established and held (a hang guard, not a speed limit: a machine is
// expected to need a second or two). The timeouts of the processes under
// load are set longer still, so that no timeout, only the test's gate,
// decides when a held transfer goes on.
const (
	loadWait    = 2 * time.Minute
	loadTimeout = 10 * time.Minute
)

// TestLoadConcurrentFramed runs 1,000 framed transfers at once into one
// zcopy recv --keep (under soak, round after round): 960 by zcopy's own
// sender (internal/session) from this process and 40 by separate zcopy
// send processes, each of its own file of 1 to 32 KiB.
//
// "At once" is made a fact, not left to the machine's speed: every
// transfer is held just after its handshake until all 1,000 are connected.
// An in-process sender's Source (which Send calls once the handshake is
// done) waits for a gate; a send process connects through a relay
// (testbin.Relay, HoldEach) that passes the receiver's bytes and the
// sender's Hello and Verdict (which the sender writes only once it has
// read the receiver's Hello), then holds the sender's bytes until the same
// gate. The test opens the gate only when all 1,000 handshakes are
// done and the receiver holds 1,000 connections (counted in its descriptor
// table, /proc/PID/fd, beyond the listener it held at start). A receiver that
// served connections one at a time would never complete the second
// handshake: the test fails after a bounded wait (loadWait), saying so.
//
// Then every sender must succeed, every file arrive byte-identical, the
// receiver log no failure and exit 0 on SIGTERM. It reports the receiver's
// peak RSS (VmHWM) and the connections it held at the gate, which is its
// peak: no connection is opened after the gate.
//
// In both modes, every sender with the suite's token: inside TLS (the
// default) every one of the 1,000 connections runs its TLS handshake
// before the gate too, and the relay holds each send process after TLS's
// handshake and the protocol's (handshakeLen measures them).
func TestLoadConcurrentFramed(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { loadConcurrentFramed(t, m) })
	}
}

func loadConcurrentFramed(t *testing.T, m secMode) {
	const inProcess, processes = 960, 40
	const n = inProcess + processes
	needNoFile(t, 2*n+100)
	held := handshakeLen(t, m)
	t.Logf("the dialing end's handshake (%s, with a token) is %d bytes", m.name, held)
	for round := range rounds() {
		base := t.TempDir()
		srcDir := filepath.Join(base, "src")
		dst := filepath.Join(base, "dst")
		os.MkdirAll(srcDir, 0o755)
		want := make([][]byte, n)
		srcs := make([]string, n)
		for i := range n {
			want[i] = randomBytes(uint64(round*n+i), loadSize(i))
			srcs[i] = filepath.Join(srcDir, fmt.Sprintf("f%04d.bin", i))
			if err := os.WriteFile(srcs[i], want[i], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "-q",
			"--header-timeout", loadTimeout.String(), "--idle-timeout", loadTimeout.String())...)
		addr := r.Addr(t)
		pid := r.Cmd.Process.Pid
		listeners, err := sockets(pid)
		if err != nil {
			t.Fatal(err)
		}

		gate := make(chan struct{})
		ready := make(chan struct{}, n) // one per transfer held at the gate
		failed := make(chan struct{}, n)
		var errs sync.Map
		fail := func(i int, err error) {
			errs.Store(i, err)
			failed <- struct{}{}
		}
		// The send processes' relay: each one's handshake, then nothing
		// until the gate.
		relay := testbin.NewRelay(t, addr, testbin.Push)
		relay.HoldEach(held)
		relay.Notify(ready)
		var wg sync.WaitGroup
		conns := make([]net.Conn, inProcess)
		var aborted sync.Once
		// abort fails the test with the errors seen so far (at most ten),
		// and lets go of everything held so that the goroutines end.
		abort := func(format string, args ...any) {
			shown := 0
			errs.Range(func(k, v any) bool {
				t.Errorf("transfer %d: %v", k, v)
				shown++
				return shown < 10
			})
			aborted.Do(func() {
				for _, c := range conns {
					if c != nil {
						c.Close()
					}
				}
				relay.Close()
				close(gate)
			})
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(loadWait):
			}
			t.Fatalf(format, args...)
		}
		// waitReady waits for want more transfers to reach the gate.
		waitReady := func(want int, what string) {
			t.Helper()
			deadline := time.After(loadWait)
			for got := 0; got < want; {
				select {
				case <-ready:
					got++
				case <-failed:
					abort("a transfer failed before the gate (%d of %d %s had finished the handshake)", got, want, what)
				case <-deadline:
					held, _ := sockets(pid)
					abort("after %v, %d of %d %s had finished the handshake and the receiver held %d connections: it does not serve connections concurrently",
						loadWait, got, want, what, held-listeners)
				}
			}
		}

		// The in-process senders: all dialled first, then all started;
		// each stops at the gate once its handshake is done.
		for i := range conns {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				abort("dial %d: %v", i, err)
			}
			conns[i] = c
		}
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				items, err := tree.Walk([]string{srcs[i]}, func(string) {})
				if err != nil {
					fail(i, err)
					return
				}
				atGate := func(session.Stream) ([]tree.Item, error) {
					ready <- struct{}{}
					<-gate
					return items, nil
				}
				o := m.dialed(session.Options{Method: zerocopy.Auto, HeaderTimeout: loadTimeout, IdleTimeout: loadTimeout})
				res, err := session.Send(context.Background(), c, atGate, o)
				if err == nil && res.Files != 1 {
					err = fmt.Errorf("result %+v", res)
				}
				if err != nil {
					fail(i, err)
				}
			}()
		}
		waitReady(inProcess, "in-process senders")

		// The send processes, once the receiver has nothing to do but
		// hold the others: each one's handshake (which zcopy send bounds
		// by 10 s) finds it idle.
		for i := inProcess; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, _, serr, err := runGo(m.args("send", "--to", relay.Addr(), "--idle-timeout", loadTimeout.String(), srcs[i])...)
				if code != 0 || err != nil {
					fail(i, fmt.Errorf("exit %d: %s %v", code, serr, err))
				}
			}()
		}
		waitReady(processes, "send processes")

		// Every transfer is past its handshake and waits at the gate: the
		// receiver holds every connection now, or it dropped some.
		holding, err := sockets(pid)
		if err != nil {
			abort("counting the receiver's connections: %v", err)
		}
		if holding -= listeners; holding < n {
			abort("the receiver holds %d connections while all %d transfers wait at the gate", holding, n)
		}
		began := time.Now()
		close(gate)
		relay.Release()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			abort("the load did not finish 3 minutes after the gate opened (a hang guard); %d failed so far", len(failed))
		}
		took := time.Since(began)
		relay.Close()
		errs.Range(func(k, v any) bool {
			t.Errorf("transfer %d: %v", k, v)
			return true
		})
		if k := len(failed); k > 0 {
			t.Fatalf("%d of %d transfers failed", k, n)
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
		figs.peak(figs.PeakConns, "recv --keep under 1,000 concurrent framed transfers, "+m.name, int64(holding))
		figs.peak(figs.PeakRSS, "recv --keep under 1,000 concurrent framed transfers, "+m.name, rss)
		t.Logf("%d transfers (%d in-process, %d processes), all %d connections held by the receiver at once, done in %v after the gate; receiver peak RSS %s",
			n, inProcess, processes, holding, took.Round(time.Millisecond), mib(rss<<10))
		// A bound, not a figure: one session's buffers, times 1,000, with
		// room to spare.
		if rss > 256<<10 {
			t.Errorf("receiver peak RSS %s under 1,000 small transfers; want under 256 MiB", mib(rss<<10))
		}
	}
}

// handshakeLen returns how many bytes the end that dials writes of a
// handshake in mode m with the suite's token, TLS's own included: its
// Hello, its Verdict and proof, and its Verdict on the peer's proof. It is
// measured, not added up (TLS's records have their own sizes): an
// in-process sender (session.Send) shakes hands with an in-process
// receiver, and the bytes it has written when Send asks its Source for the
// items, which Send does once the handshake is done, are the handshake.
func handshakeLen(t testing.TB, m secMode) int64 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	received := make(chan struct{})
	go func() {
		defer close(received)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		o := session.Options{Token: suiteToken, Plaintext: m.plaintext, HeaderTimeout: loadWait, IdleTimeout: loadWait}
		session.Receive(context.Background(), c, root, o)
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cc := &countingConn{Conn: c}
	n := int64(-1)
	stop := errors.New("measured")
	o := m.dialed(session.Options{Method: zerocopy.Auto, HeaderTimeout: loadWait, IdleTimeout: loadWait})
	_, err = session.Send(context.Background(), cc, func(session.Stream) ([]tree.Item, error) {
		n = cc.n.Load()
		return nil, stop
	}, o)
	c.Close()
	<-received
	if n < 0 {
		t.Fatalf("measuring the handshake (%s): %v", m.name, err)
	}
	return n
}

// countingConn counts the bytes written on its connection.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// TestDescriptorExhaustion starts zcopy recv --keep with at most 64 open
// descriptors (ulimit -n 64, soft and hard) and floods it with 200
// connections that send nothing (a hostile input). The server must log
// the accept error ("too many open files") and stay up. Connections past
// the limit are not refused by the kernel (they complete into the listen
// backlog) and wait; the silent ones the server did accept are dropped by
// its header timeout (2 s here), so an honest sender that comes while the
// flood is still open is served once the connections ahead of it in the
// backlog have been accepted and dropped. That takes a few rounds of the
// header timeout, longer than zcopy send's own handshake timeout (10 s) on
// a slow machine, so the sender during the flood is zcopy's sender run
// from this process (internal/session) with a handshake timeout as long as
// the test's hang guard: it is served, or the test fails, whatever the
// machine's speed. Once the flood is gone, another honest sender, a zcopy
// send process, is served at once, and the server exits 0 on SIGTERM.
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
		items, err := tree.Walk([]string{first}, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("during the flood, dialling: %v", err)
		}
		// The end that dialed, inside TLS with the suite's token, as the
		// zcopy recv it talks to.
		o := tlsMode.dialed(session.Options{Method: zerocopy.Auto, HeaderTimeout: testbin.HangGuard, IdleTimeout: testbin.HangGuard})
		res, err := session.Send(context.Background(), c, session.Items(items), o)
		c.Close()
		if err != nil || res.Files != 1 {
			t.Fatalf("during the flood, an honest send failed: %+v, %v", res, err)
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
		code, _, serr := run(t, "send", "--to", addr, src)
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
