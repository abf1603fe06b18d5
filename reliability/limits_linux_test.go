package reliability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/session"
	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// Issue 14's limits, from outside: a receiver's memory for manifests, the
// connections a server takes at once and how long it drains. Each test
// fails on the main of before issue 14 (no bound there), and none decides
// by the machine's speed: a flood stops at the receiver's abort or at the
// memory bound, whichever comes first, and a drain is waited for as an
// event, under a hang guard.

// processLimit is the documented bound on a receiver's memory (README,
// "Limits"), in KiB: 64 MiB, 512 KiB for each session it may serve at
// once (--max-sessions), and its --total-manifest-memory and a quarter.
func processLimit(sessions int, total int64) int64 {
	return 64<<10 + int64(sessions)*512 + total*5/4>>10
}

// connsBound is the documented resident memory of a receiver whose
// connections hold no manifest to speak of, in KiB: 64 MiB, and 128 KiB a
// connection.
func connsBound(conns int) int64 { return 64<<10 + int64(conns)*128 }

// vm returns the resident set (VmRSS) and its peak (VmHWM) of process pid,
// in KiB, without the pages mapped from files (RssFile: the program's code
// and read-only tables, about 15 MiB of zcopy, more as it links more
// packages): the documented bounds are on the memory the program
// allocates, which the Go runtime's soft limit governs.
func vm(t testing.TB, pid int) (rss, hwm int64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the memory of %d: %v", pid, err)
	}
	var file int64
	for _, f := range []struct {
		name string
		v    *int64
	}{{"VmRSS", &rss}, {"VmHWM", &hwm}, {"RssFile", &file}} {
		v, ok := statusKiB(b, f.name)
		if !ok {
			t.Fatalf("no %s in /proc/%d/status", f.name, pid)
		}
		*f.v = v
	}
	return rss - file, hwm - file
}

// statusKiB reads a field in kB from /proc/PID/status.
func statusKiB(status []byte, name string) (int64, bool) {
	m := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		return 0, false
	}
	v, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return v, true
}

// shakeAsSender dials a receiver at addr and shakes hands as a sender
// without a token, by hand (a Hello and an accepting Verdict each way), in
// mode m (inside TLS, or on TCP). It returns the connection and a reader
// past the receiver's Verdict. The receiver must run without a token (an
// empty --token).
func shakeAsSender(t testing.TB, m secMode, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := dialPeer(m, addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := proto.Hello{Version: proto.Version, Role: proto.RoleSender, Flags: m.peerFlags()}
	if _, err := c.Write((&proto.Verdict{OK: true}).Append(h.Append(nil))); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(testbin.HangGuard))
	br := bufio.NewReader(c)
	if _, err := proto.ReadHello(br); err != nil {
		t.Fatalf("the receiver's hello: %v", err)
	}
	if v, err := proto.ReadVerdict(br); err != nil || !v.OK {
		t.Fatalf("the receiver's verdict: %+v, %v", v, err)
	}
	c.SetReadDeadline(time.Time{})
	return c, br
}

// sendHonest sends a new file of 1 MiB from dir with zcopy send, in mode m
// and without a token, to the receiver at addr, which writes into dst: it
// must arrive. when says when, for the failure.
func sendHonest(t testing.TB, m secMode, addr, dir, dst, when string) {
	t.Helper()
	name := fmt.Sprintf("honest-%d.bin", time.Now().UnixNano())
	data := writeRandom(t, filepath.Join(dir, name), 1<<20)
	if code, _, serr := run(t, m.args("send", "--to", addr, "--token", "", filepath.Join(dir, name))...); code != 0 {
		t.Fatalf("an honest send %s: exit %d: %s", when, code, serr)
	}
	if arrived(t, filepath.Join(dst, name), data) {
		figs.transfer(1)
	}
}

// deepDir is a directory path of 15 components of 255 bytes: a file under
// it with a name of 255 bytes has a path of 4,095 bytes, next to the
// protocol's most (4,096), and the receiver plans it without a system
// call (the directory is one it made itself).
var deepDir = func() string {
	var parts []string
	for i := range 15 {
		parts = append(parts, string(rune('a'+i))+strings.Repeat("x", 254))
	}
	return strings.Join(parts, "/")
}()

// A flood is a hostile manifest: file entries under one directory that
// the receiver makes for it, so that it plans each without a system call,
// written as fast as the connection takes them.
type flood struct {
	dir  string             // made by the flood's first entries
	name func(k int) string // the k-th file's name
	size int                // about what the receiver holds of an entry, for the flood's length
}

var (
	// longPaths has paths of 4,095 bytes, next to the protocol's most:
	// the entries that cost a receiver the most memory.
	longPaths = flood{deepDir, func(k int) string { return fmt.Sprintf("%0255d", k) }, 4 << 10}
	// shortPaths has paths of about 10 bytes: the most entries for the
	// memory, where what a receiver holds besides the path counts most.
	shortPaths = flood{"s", func(k int) string { return strconv.Itoa(k) }, 150}
)

// write writes on c the directories of f.dir, then files under it until
// it has written n or c fails; then, with end, the end of the manifest.
// It returns the files written.
func (f flood) write(c net.Conn, n int, end bool) int {
	bw := bufio.NewWriterSize(c, 1<<20)
	var b []byte
	parts := strings.Split(f.dir, "/")
	for i := range parts {
		b = (&proto.Entry{Kind: proto.KindDir, Path: strings.Join(parts[:i+1], "/"), Mode: 0o755}).Append(b[:0])
		bw.Write(b)
	}
	for k := range n {
		e := proto.Entry{Kind: proto.KindFile, Path: f.dir + "/" + f.name(k), Mode: 0o644, Size: 1}
		if _, err := bw.Write(e.Append(b[:0])); err != nil {
			return k
		}
	}
	if end {
		bw.Write([]byte{byte(proto.KindEnd)})
	}
	bw.Flush()
	return n
}

// readPlans reads plans on br until an error, which it returns with the
// plans read.
func readPlans(br *bufio.Reader) (int, error) {
	for n := 0; ; n++ {
		if _, err := proto.ReadPlan(br); err != nil {
			return n, err
		}
	}
}

// watchRSS polls the resident memory of pid (anonymous and shared, as vm
// counts it: no pages mapped from files) until stop is closed and returns
// the most it saw (KiB) on the channel; past bound it calls over once.
func watchRSS(t testing.TB, pid int, bound int64, stop <-chan struct{}, over func()) <-chan int64 {
	most := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		called := false
		for {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			anon, ok1 := statusKiB(b, "RssAnon")
			shmem, ok2 := statusKiB(b, "RssShmem")
			if err == nil && ok1 && ok2 {
				v := anon + shmem // as vm: without the pages mapped from files
				peak = max(peak, v)
				if v > bound && !called {
					called = true
					over()
				}
			}
			select {
			case <-stop:
				most <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return most
}

// TestHostileManifest floods a zcopy recv --keep with the largest
// manifests its memory bounds allow, from hand-written senders that stream
// entries as fast as the receiver reads them: one alone (up to
// --manifest-memory), with the longest paths and with short ones, then two
// at once (the first holding most of its share while the second goes past
// --total-manifest-memory). Each is ended with an abort that names the
// bound and how to raise it, at both ends; the receiver's resident memory
// stays under the documented bound all along (watched as the flood goes,
// which also ends the flood on a receiver without bounds before it
// exhausts the machine); afterwards it still serves an honest transfer and
// exits 0 on SIGTERM.
//
// In both modes, the receiver without a token (the senders prove none):
// in plaintext the senders write on TCP; inside TLS they are TLS clients
// that write the same records inside TLS.
func TestHostileManifest(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { hostileManifest(t, m) })
	}
}

func hostileManifest(t *testing.T, m secMode) {
	const manifest, total = 64 << 20, 96 << 20
	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--max-sessions", "8",
		"--manifest-memory", "64MiB", "--total-manifest-memory", "96MiB", "--idle-timeout", "10m", "--token", "")...)
	addr := r.Addr(t)
	pid := r.Cmd.Process.Pid
	bound := processLimit(8, total)

	// flooded streams f on c until the receiver's abort, which it returns.
	// Four times the bound is enough to pass it on a receiver that keeps
	// every entry.
	flooded := func(t *testing.T, f flood, c net.Conn, br *bufio.Reader) *proto.AbortError {
		t.Helper()
		stop := make(chan struct{})
		peak := watchRSS(t, pid, bound, stop, func() { c.Close() })
		go f.write(c, 4*manifest/f.size, false)
		n, err := readPlans(br)
		close(stop)
		rss := <-peak
		t.Logf("%d entries planned before %v; receiver RSS at most %s while flooded", n, err, mib(rss<<10))
		if rss > bound {
			t.Fatalf("the receiver's resident memory reached %s under a flood of a manifest; the documented bound is %s", mib(rss<<10), mib(bound<<10))
		}
		var ab *proto.AbortError
		if !errors.As(err, &ab) {
			t.Fatalf("after %d entries, %v; want the receiver's abort", n, err)
		}
		return ab
	}

	for _, tc := range []struct {
		name string
		f    flood
	}{{"long-paths", longPaths}, {"short-paths", shortPaths}} {
		t.Run(tc.name, func(t *testing.T) {
			figs.hostile("framed protocol, manifest floods past the memory bounds", 1)
			c, br := shakeAsSender(t, m, addr)
			ab := flooded(t, tc.f, c, br)
			if !strings.Contains(ab.Reason, "64.0 MiB") || !strings.Contains(ab.Reason, "--manifest-memory") {
				t.Errorf("the abort says %q; want the bound (64.0 MiB) and its flag (--manifest-memory)", ab.Reason)
			}
			c.Close()
			local := c.LocalAddr().String()
			if !eventually(time.Minute, func() bool { return peerLine(r.Log(), local, "--manifest-memory") != "" }) {
				t.Errorf("the receiver did not log the abort for %s:\n%s", local, peerLines(r.Log(), local))
			}
		})
	}

	t.Run("two", func(t *testing.T) {
		figs.hostile("framed protocol, manifest floods past the memory bounds", 2)
		// The first takes about three quarters of its own bound and
		// holds it: it ends its manifest (so that the receiver writes
		// every plan), reads the plans and sends no body.
		first, fbr := shakeAsSender(t, m, addr)
		held := 3 * manifest / 4 / (longPaths.size + 800) // entries of ~4.9 KiB each, as charged
		go longPaths.write(first, held, true)
		for range len(strings.Split(longPaths.dir, "/")) + held {
			if _, err := proto.ReadPlan(fbr); err != nil {
				t.Fatalf("the first sender's plans: %v", err)
			}
		}
		second, sbr := shakeAsSender(t, m, addr)
		ab := flooded(t, longPaths, second, sbr)
		if !strings.Contains(ab.Reason, "--total-manifest-memory") || !strings.Contains(ab.Reason, "other transfers") {
			t.Errorf("the abort says %q; want the total bound's flag (--total-manifest-memory) and that other transfers hold it", ab.Reason)
		}
		first.Close()
		second.Close()
	})

	sendHonest(t, m, addr, base, dst, "after the floods")
	_, hwm := vm(t, pid)
	figs.peak(figs.PeakRSS, "recv --keep under manifest floods (64 MiB per transfer, 96 MiB in all), "+m.name, hwm)
	t.Logf("receiver peak RSS %s; the documented bound for these flags is %s", mib(hwm<<10), mib(bound<<10))
	if hwm > bound {
		t.Errorf("receiver peak RSS %s; the documented bound is %s", mib(hwm<<10), mib(bound<<10))
	}
	r.stop(t)
}

// TestManifestTooLargeSender: an honest zcopy send whose manifest passes
// the receiver's --manifest-memory exits 1 saying which bound and how to
// raise it, and the receiver logs the same; with the bound raised the same
// tree arrives.
func TestManifestTooLargeSender(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "tree")
	const files = 2000
	for i := range files {
		p := filepath.Join(src, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("%0200d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// ~2,000 entries of ~400 bytes each: more than 256 KiB, less than 4.
	dst := filepath.Join(base, "dst")
	r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--manifest-memory", "256KiB")
	code, _, serr := run(t, "send", "--to", r.Addr(t), src)
	rcode, rlog := r.Wait(t)
	t.Logf("sender: %s", strings.TrimSpace(serr))
	if code != 1 || !strings.Contains(serr, "--manifest-memory") || !strings.Contains(serr, "256.0 KiB") {
		t.Errorf("send exited %d saying %q; want 1 and the bound (256.0 KiB, --manifest-memory)", code, serr)
	}
	if rcode != 1 || !strings.Contains(rlog, "--manifest-memory") {
		t.Errorf("recv exited %d saying %q; want 1 and the bound", rcode, rlog)
	}
	r = start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--manifest-memory", "4MiB", "--overwrite")
	if code, _, serr := run(t, "send", "--to", r.Addr(t), src); code != 0 {
		t.Fatalf("with --manifest-memory 4MiB: send exit %d: %s", code, serr)
	}
	if code, log := r.Wait(t); code != 0 {
		t.Fatalf("with --manifest-memory 4MiB: recv exit %d: %s", code, log)
	}
	figs.transfer(1)
}

// TestIdleConnections opens 1,000 connections to a zcopy recv --keep and
// says nothing on them: the receiver takes 64 of them into its handshake
// and leaves the rest in the listen queue, and its resident memory stays
// under the documented bound. Then 1,000 connections that finish the
// handshake and go silent: the receiver holds them all (its --max-sessions
// is 1,024) under the bound, and serves an honest transfer meanwhile.
// Once they are closed, it exits 0 on SIGTERM.
//
// In both modes, the receiver without a token (the idle sessions prove
// none): inside TLS each idle session is a TLS client's, past its TLS
// handshake and the protocol's.
func TestIdleConnections(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { idleConnections(t, m) })
	}
}

func idleConnections(t *testing.T, m secMode) {
	const n = 1000
	needNoFile(t, 2*n+100)
	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep",
		"--header-timeout", "10m", "--idle-timeout", "10m", "--token", "")...)
	addr := r.Addr(t)
	pid := r.Cmd.Process.Pid
	listeners, err := sockets(pid)
	if err != nil {
		t.Fatal(err)
	}
	dialAll := func() []net.Conn {
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			conns[i] = c
		}
		t.Cleanup(func() {
			for _, c := range conns {
				c.Close()
			}
		})
		return conns
	}

	// Silent before the handshake: the receiver stops accepting at 64.
	figs.hostile("silent connections (1,000 to recv --keep)", n)
	silent := dialAll()
	var held int
	if !eventually(time.Minute, func() bool {
		held, _ = sockets(pid)
		held -= listeners
		return held > 64 || strings.Contains(r.Log(), "64 connections have not finished their handshake")
	}) || held > 64 {
		t.Fatalf("with %d silent connections open, the receiver holds %d of them; want at most 64, and a line that says it waits:\n%s", n, held, firstLines(r.Log(), 10))
	}
	rss, _ := vm(t, pid)
	t.Logf("%d silent connections: the receiver holds %d, resident %s", n, held, mib(rss<<10))
	if b := connsBound(64); rss > b {
		t.Errorf("the receiver's resident memory is %s with %d silent connections; the documented bound is %s", mib(rss<<10), n, mib(b<<10))
	}
	for _, c := range silent {
		c.Close()
	}

	// Silent after the handshake: sessions, all held.
	idle := make([]net.Conn, n)
	for i := range idle {
		idle[i], _ = shakeAsSender(t, m, addr)
	}
	figs.hostile("idle sessions (1,000 past the handshake, to recv --keep)", n)
	sendHonest(t, m, addr, base, dst, "beside 1,000 idle sessions")
	rss, hwm := vm(t, pid)
	held, _ = sockets(pid)
	held -= listeners
	figs.peak(figs.PeakConns, "recv --keep with 1,000 idle sessions, "+m.name, int64(held))
	figs.peak(figs.PeakRSS, "recv --keep with 1,000 idle sessions, "+m.name, hwm)
	t.Logf("%d idle sessions and an honest transfer: the receiver holds %d connections, resident %s, peak %s", n, held, mib(rss<<10), mib(hwm<<10))
	if b := connsBound(n + 1); hwm > b {
		t.Errorf("the receiver's peak resident memory is %s with %d idle sessions; the documented bound is %s", mib(hwm<<10), n, mib(b<<10))
	}
	for _, c := range idle {
		c.Close()
	}
	r.stop(t)
}

// gate holds in-process senders (session.Send) just after their
// handshake: each one's Source waits for the gate to open. They dial
// zcopy processes in mode m, with the suite's token.
type gate struct {
	m     secMode
	open  chan struct{}
	ready chan struct{} // one value per sender that reached the gate
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
}

func newGate(m secMode) *gate {
	return &gate{m: m, open: make(chan struct{}), ready: make(chan struct{}, 100)}
}

// send starts an in-process sender of path to addr, held at the gate.
func (g *gate) send(t testing.TB, addr, path string) {
	t.Helper()
	items, err := tree.Walk([]string{path}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer c.Close()
		src := func(session.Stream) ([]tree.Item, error) {
			g.ready <- struct{}{}
			<-g.open
			return items, nil
		}
		o := g.m.dialed(session.Options{Method: zerocopy.Auto, HeaderTimeout: testbin.HangGuard, IdleTimeout: testbin.HangGuard})
		if _, err := session.Send(context.Background(), c, src, o); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	}()
}

// await waits for n senders to reach the gate (a hang guard).
func (g *gate) await(t testing.TB, n int) {
	t.Helper()
	for i := range n {
		select {
		case <-g.ready:
		case <-time.After(testbin.HangGuard):
			t.Fatalf("%d of %d senders reached the gate", i, n)
		}
	}
}

// release opens the gate and returns the senders' errors once all ended.
func (g *gate) release() []error {
	close(g.open)
	g.wg.Wait()
	return g.errs
}

// TestMaxSessions: a zcopy recv --keep --max-sessions 3 that holds three
// transfers refuses a fourth sender, which exits 1 saying why and how to
// raise the bound, and logs the refusal; the three then finish. A zcopy
// send --listen --keep --max-sessions 1 that serves a fetch refuses a
// second receiver the same way. In both modes.
func TestMaxSessions(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { maxSessions(t, m) })
	}
}

func maxSessions(t *testing.T, m secMode) {
	t.Run("recv", func(t *testing.T) {
		base := t.TempDir()
		dst := filepath.Join(base, "dst")
		r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--max-sessions", "3", "--idle-timeout", "10m")...)
		addr := r.Addr(t)
		g := newGate(m)
		want := map[string][]byte{}
		for i := range 3 {
			p := filepath.Join(base, fmt.Sprintf("held%d.bin", i))
			want[p] = writeRandom(t, p, 64<<10)
			g.send(t, addr, p)
		}
		g.await(t, 3)
		extra := filepath.Join(base, "extra.bin")
		writeRandom(t, extra, 1<<10)
		figs.hostile("connections beyond --max-sessions", 1)
		code, _, serr := run(t, m.args("send", "--to", addr, extra)...)
		t.Logf("the fourth sender: %s", strings.TrimSpace(serr))
		if code != 1 || !strings.Contains(serr, "--max-sessions 3") || !strings.Contains(serr, "the receiver ended the session") {
			t.Errorf("a fourth sender exited %d saying %q; want 1, the receiver's refusal and its bound (--max-sessions 3)", code, serr)
		}
		if !strings.Contains(r.Log(), "refused: already serving") {
			t.Errorf("the receiver did not log the refusal:\n%s", r.Log())
		}
		if errs := g.release(); len(errs) > 0 {
			t.Fatalf("the held transfers: %v", errs)
		}
		for p, data := range want {
			if arrived(t, filepath.Join(dst, filepath.Base(p)), data) {
				figs.transfer(1)
			}
		}
		absent(t, filepath.Join(dst, "extra.bin"))
		r.stop(t)
	})

	t.Run("send", func(t *testing.T) {
		base := t.TempDir()
		src := filepath.Join(base, "f.bin")
		data := writeRandom(t, src, 64<<10)
		s := start(t, m.args("send", "--listen", "127.0.0.1:0", "--keep", "--max-sessions", "1", src)...)
		// The first receiver fetches through a relay that holds the
		// sender's bytes 16 KiB in, past its handshake (TLS's too) and
		// in the middle of the file's body: its session stays open.
		relay := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
		relay.HoldEach(16 << 10)
		first := start(t, m.args("recv", "--from", relay.Addr(), "--dir", filepath.Join(base, "first"), "--idle-timeout", "10m")...)
		relay.HeldEach(1, testbin.HangGuard)
		figs.hostile("connections beyond --max-sessions", 1)
		code, _, serr := run(t, m.args("recv", "--from", s.Addr(t), "--dir", filepath.Join(base, "second"))...)
		t.Logf("the second receiver: %s", strings.TrimSpace(serr))
		if code != 1 || !strings.Contains(serr, "--max-sessions 1") || !strings.Contains(serr, "the sender ended the session") {
			t.Errorf("a second receiver exited %d saying %q; want 1, the sender's refusal and its bound (--max-sessions 1)", code, serr)
		}
		absent(t, filepath.Join(base, "second", "f.bin"))
		relay.Release()
		if code, log := first.Wait(t); code != 0 {
			t.Fatalf("the held fetch: exit %d: %s", code, log)
		}
		if arrived(t, filepath.Join(base, "first", "f.bin"), data) {
			figs.transfer(1)
		}
		if log := s.stop(t); !strings.Contains(log, "refused: already serving") {
			t.Errorf("the sender did not log the refusal:\n%s", log)
		}
	})
}

// stopCut sends SIGTERM to a --keep server that holds a peer which will
// not finish, and checks that it exits within its grace period (a hang
// guard far longer waits for the exit, which a server that drains without
// a bound never makes): exit status 1, a log that says the transfer was
// cut, and no sooner than the grace period.
func stopCut(t *testing.T, p *proc, grace time.Duration) string {
	t.Helper()
	began := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	code, log := p.Wait(t)
	took := time.Since(began)
	t.Logf("exit %d %v after SIGTERM (grace %v)", code, took.Round(time.Millisecond), grace)
	if code != 1 || !strings.Contains(log, "cut short") || !strings.Contains(log, fmt.Sprintf("the grace period (%v) is over", grace)) {
		t.Errorf("after SIGTERM with a peer that never finishes: exit %d; want 1 and a log that says the transfer was cut after the grace period:\n%s", code, log)
	}
	if took < grace {
		t.Errorf("exited %v after SIGTERM, before its grace period of %v", took, grace)
	}
	return log
}

// TestGrace stops --keep servers with SIGTERM while a peer keeps a
// session open: a silent sender past its handshake (recv --keep), a
// silent peer that never says hello (send --listen --keep), and a sender
// throttled to a trickle mid-file (recv --keep). Each server's timeouts are
// longer than the test; only --grace can end them, and must.
func TestGrace(t *testing.T) {
	const grace = 2 * time.Second
	long := []string{"--header-timeout", "10m", "--idle-timeout", "10m", "--grace", grace.String()}

	t.Run("silent-sender", func(t *testing.T) {
		base := t.TempDir()
		r := start(t, append([]string{"recv", "--listen", "127.0.0.1:0", "--dir", filepath.Join(base, "dst"), "--keep"}, long...)...)
		src := filepath.Join(base, "f.bin")
		writeRandom(t, src, 1<<10)
		g := newGate(tlsMode)
		g.send(t, r.Addr(t), src)
		g.await(t, 1)
		figs.fault("silent peer at a --keep server's shutdown")
		stopCut(t, r, grace)
		if errs := g.release(); len(errs) != 1 {
			t.Errorf("the held sender after the cut: %v; want its failure", errs)
		}
		absent(t, filepath.Join(base, "dst", "f.bin"))
	})

	t.Run("silent-before-hello", func(t *testing.T) {
		base := t.TempDir()
		src := filepath.Join(base, "f.bin")
		writeRandom(t, src, 1<<10)
		s := start(t, append([]string{"send", "--listen", "127.0.0.1:0", "--keep", src}, long...)...)
		// The base count is taken once the listener exists (Addr waits for
		// the line that says so); taken before, the listener itself would
		// pass for the accepted connection.
		addr := s.Addr(t)
		pid := s.Cmd.Process.Pid
		listeners, err := sockets(pid)
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, ok := waitConns(pid, listeners, 1, testbin.HangGuard); !ok {
			t.Fatal("the sender never accepted the connection")
		}
		figs.fault("silent peer at a --keep server's shutdown")
		stopCut(t, s, grace)
	})

	t.Run("trickle", func(t *testing.T) {
		base := t.TempDir()
		dst := filepath.Join(base, "dst")
		r := start(t, append([]string{"recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep"}, long...)...)
		src := filepath.Join(base, "big.bin")
		writeRandom(t, src, 64<<20)
		relay := testbin.NewRelay(t, r.Addr(t), testbin.Push)
		relay.Hold(1 << 20)
		s := start(t, "send", "--to", relay.Addr(), "--idle-timeout", "10m", src)
		relay.Held(testbin.HangGuard)
		relay.Throttle(16 << 10) // 64 MiB at 16 KiB/s: more than an hour
		figs.fault("slow peer at a --keep server's shutdown")
		stopCut(t, r, grace)
		if code, log := s.Wait(t); code == 0 {
			t.Errorf("the trickling sender exited 0 after the receiver cut it:\n%s", log)
		}
		absent(t, filepath.Join(dst, "big.bin"))
	})
}
