package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// resetSize is the file a connection is reset in the middle of.
const resetSize = 64 << 20

// TestPeerReset resets the connection in the middle of a transfer (a relay
// between the two ends, held after 8 MiB, aborts both of its connections
// with RST), raw and framed, push and pull. What each end must do:
//   - raw: both ends exit 1 naming the reset; the receiver keeps nothing,
//     neither the output nor its part;
//   - framed push into a --keep --resume server: the sender exits 1 naming
//     the reset; the server logs it for that peer, keeps the part and no
//     final file, and goes on serving: the same send again completes the
//     file with only the missing bytes on the wire;
//   - framed pull from a --keep server: the receiver exits 1 naming the
//     reset and keeps the part; recv --resume against the same server
//     completes it with only the missing bytes on the wire.
//
// The framed cases run in both modes.
func TestPeerReset(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, resetSize)
	for range rounds() {
		t.Run("raw-push", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.bin")
			r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", out)
			px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
			px.Hold(8 << 20)
			s := start(t, "send", "--raw", "--to", px.Addr(), src)
			resetHeld(t, px)
			bothReset(t, s, r)
			absent(t, out)
			if _, err := os.Stat(out + ".zcopy-part"); err == nil {
				t.Error("the raw receiver kept its part after a reset")
			}
		})
		t.Run("raw-pull", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.bin")
			s := start(t, "send", "--raw", "--listen", "127.0.0.1:0", src)
			px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
			px.Hold(8 << 20)
			r := start(t, "recv", "--raw", "--from", px.Addr(), "-o", out)
			resetHeld(t, px)
			bothReset(t, s, r)
			absent(t, out)
		})
		for _, m := range secModes {
			t.Run("framed-push/"+m.name, func(t *testing.T) {
				dst := t.TempDir()
				r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--resume")...)
				px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
				px.Hold(8 << 20)
				s := start(t, m.args("send", "--to", px.Addr(), src)...)
				final := filepath.Join(dst, "f.bin")
				part := final + ".zcopy-part"
				resetHeldAfter(t, px, part)
				code, serr := s.Wait(t)
				t.Logf("sender: exit %d: %s", code, strings.TrimSpace(serr))
				if code != 1 || !strings.Contains(serr, "reset") {
					t.Errorf("sender exited %d: %q; want 1 and the reset", code, serr)
				}
				// The server notices the reset on its own time.
				if !eventually(30*time.Second, func() bool { return strings.Contains(r.Log(), "reset") }) {
					t.Errorf("the server did not log the reset:\n%s", r.Log())
				}
				absent(t, final)
				kept := fileSize(part)
				if kept <= 0 || kept >= resetSize {
					t.Errorf("part holds %d bytes after the reset; want some, not all", kept)
				}
				code, out, serr := run(t, m.args("send", "--to", r.Addr(t), "--json", "--verify", src)...)
				if code != 0 {
					t.Fatalf("the same send again: exit %d: %s", code, serr)
				}
				if res := parseResult(t, out); res.BytesSent != resetSize-kept {
					t.Errorf("the resumed send moved %d bytes; want the %d after the part", res.BytesSent, resetSize-kept)
				}
				if arrivedAs(t, final, src) {
					figs.transfer(1)
				}
				r.stop(t)
			})
			t.Run("framed-pull/"+m.name, func(t *testing.T) {
				dst := t.TempDir()
				s := start(t, m.args("send", "--listen", "127.0.0.1:0", "--keep", "--json", src)...)
				px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
				px.Hold(8 << 20)
				r := start(t, m.args("recv", "--from", px.Addr(), "--dir", dst)...)
				final := filepath.Join(dst, "f.bin")
				resetHeldAfter(t, px, final+".zcopy-part")
				code, rerr := r.Wait(t)
				t.Logf("receiver: exit %d: %s", code, strings.TrimSpace(rerr))
				if code != 1 || !strings.Contains(rerr, "reset") {
					t.Errorf("receiver exited %d: %q; want 1 and the reset", code, rerr)
				}
				absent(t, final)
				kept := fileSize(final + ".zcopy-part")
				if kept <= 0 || kept >= resetSize {
					t.Errorf("part holds %d bytes after the reset; want some, not all", kept)
				}
				code, _, rerr = run(t, m.args("recv", "--from", s.Addr(t), "--dir", dst, "--resume", "--verify")...)
				if code != 0 {
					t.Fatalf("recv --resume: exit %d: %s", code, rerr)
				}
				if arrivedAs(t, final, src) {
					figs.transfer(1)
				}
				s.stop(t)
				// The server printed one JSON line per session: the reset
				// one and the resumed one, which sent only the rest.
				lines := strings.Split(strings.TrimSpace(s.Stdout.String()), "\n")
				if res := parseResult(t, lines[len(lines)-1]); res.BytesSent != resetSize-kept {
					t.Errorf("the resumed pull moved %d bytes; want the %d after the part (server said %q)", res.BytesSent, resetSize-kept, lines)
				}
			})
		}
	}
}

// resetHeld waits for the relay to hold the transfer, then resets it.
func resetHeld(t *testing.T, px *testbin.Relay) {
	t.Helper()
	resetHeldAfter(t, px, "")
}

// resetHeldAfter is resetHeld that also waits, before the reset, until
// the receiver has written some of what the relay let through to part
// (unless part is ""): the reset discards what the receiver has not read
// yet, and a test that wants a part must not depend on how far it got.
func resetHeldAfter(t *testing.T, px *testbin.Relay, part string) {
	t.Helper()
	px.Held(30 * time.Second)
	if part != "" {
		waitPart(t, part, 1)
	}
	px.Reset()
	figs.fault("connection reset mid-transfer")
}

// bothReset checks that both ends of a raw transfer exit 1 naming a reset
// (or, for the sender, a broken pipe).
func bothReset(t *testing.T, s, r *proc) {
	t.Helper()
	scode, serr := s.Wait(t)
	rcode, rerr := r.Wait(t)
	t.Logf("sender: exit %d: %s; receiver: exit %d: %s", scode, strings.TrimSpace(serr), rcode, strings.TrimSpace(rerr))
	if scode != 1 || !connectionLost(serr) {
		t.Errorf("sender exited %d: %q; want 1 and the reset", scode, serr)
	}
	if rcode != 1 || !strings.Contains(rerr, "reset") {
		t.Errorf("receiver exited %d: %q; want 1 and the reset", rcode, rerr)
	}
}

// TestSlowPeersDoNotStall runs one very slow transfer (a relay passes
// 256 KiB/s) on a zcopy server while 16 ordinary transfers go through the
// same server, 4 at a time. The ordinary ones must all complete, byte for
// byte, while the slow one is still in progress (it is checked to be
// alive and moving at the end, then stopped): one slow peer holds one
// session, not the server.
//   - recv --keep: the slow peer is a sender (the server reads slowly from
//     it, since its data trickles in);
//   - send --listen --keep: the slow peer is a receiver that reads slowly;
//     the server's writes to it block while the others are served.
func TestSlowPeersDoNotStall(t *testing.T) {
	for range rounds() {
		t.Run("recv-keep", func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "dst")
			slowSrc := filepath.Join(base, "slow.bin")
			genFile(t, slowSrc, 64<<20)
			r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")
			px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
			px.Throttle(256 << 10)
			slow := start(t, "send", "--to", px.Addr(), slowSrc)
			figs.fault("slow peer (256 KiB/s) beside other transfers")
			waitPart(t, filepath.Join(dst, "slow.bin.zcopy-part"), 1)
			before := px.Bytes()
			addr := r.Addr(t)
			fastTransfers(t, 16, func(t *testing.T, i int, src string) {
				if code, _, serr, err := runGo("send", "--to", addr, src); code != 0 {
					t.Errorf("fast send %d: exit %d: %s %v", i, code, serr, err)
					return
				}
				if arrivedAs(t, filepath.Join(dst, filepath.Base(src)), src) {
					figs.transfer(1)
				}
			})
			stillSlow(t, slow, px, before)
			absent(t, filepath.Join(dst, "slow.bin"))
			r.stop(t)
		})
		t.Run("send-keep", func(t *testing.T) {
			base := t.TempDir()
			tree := filepath.Join(base, "tree")
			genFile(t, filepath.Join(tree, "big.bin"), 64<<20)
			s := start(t, "send", "--listen", "127.0.0.1:0", "--keep", tree)
			px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
			px.Throttle(256 << 10)
			slowDst := filepath.Join(base, "slow")
			slow := start(t, "recv", "--from", px.Addr(), "--dir", slowDst)
			figs.fault("slow peer (256 KiB/s) beside other transfers")
			waitPart(t, filepath.Join(slowDst, "tree", "big.bin.zcopy-part"), 1)
			before := px.Bytes()
			addr := s.Addr(t)
			fastTransfers(t, 16, func(t *testing.T, i int, _ string) {
				dst := filepath.Join(base, fmt.Sprintf("fast%d", i))
				if code, _, rerr, err := runGo("recv", "--from", addr, "--dir", dst); code != 0 {
					t.Errorf("fast pull %d: exit %d: %s %v", i, code, rerr, err)
					return
				}
				if arrivedAs(t, filepath.Join(dst, "tree", "big.bin"), filepath.Join(tree, "big.bin")) {
					figs.transfer(1)
				}
			})
			stillSlow(t, slow, px, before)
			absent(t, filepath.Join(slowDst, "tree", "big.bin"))
			s.stop(t)
		})
	}
}

// fastTransfers runs n transfers, 4 at a time, each of its own 4 MiB file,
// and fails the test unless all are done within 90 s (a hang guard: a
// stalled server would never finish them). transfer runs on its own
// goroutine: it may call t.Error, not t.Fatal.
func fastTransfers(t *testing.T, n int, transfer func(t *testing.T, i int, src string)) {
	t.Helper()
	dir := t.TempDir()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	done := make(chan struct{})
	for i := range n {
		src := filepath.Join(dir, fmt.Sprintf("fast%02d.bin", i))
		writeRandom(t, src, 4<<20)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			transfer(t, i, src)
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the ordinary transfers did not finish beside the slow one")
	}
}

// stillSlow checks that the slow transfer is still alive and moving, then
// stops it (the server must survive that too).
func stillSlow(t *testing.T, slow *proc, px *testbin.Relay, before int64) {
	t.Helper()
	if !slow.Running() {
		code, serr := slow.Wait(t)
		t.Fatalf("the slow transfer ended (exit %d: %s) before the others were done; it was not slow enough to prove anything", code, serr)
	}
	if !eventually(30*time.Second, func() bool { return px.Bytes() > before }) {
		t.Errorf("the slow transfer did not move (%d bytes through the relay)", px.Bytes())
	}
	t.Logf("the slow transfer had moved %d bytes when the others were done", px.Bytes())
	px.Reset()
	slow.Wait(t)
}
