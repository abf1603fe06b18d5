package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

// wholeOrNothing checks the one outcome that matters after a fault: the
// transfer either succeeded (exit 0) with the file at final byte-identical
// to src, or failed (exit 1) with nothing at final. A wrong file under the
// final name fails the test, with bug, the description of the bug that
// would deliver it.
func wholeOrNothing(t *testing.T, code int, final, src string, bug string) {
	t.Helper()
	if code != 0 {
		if code != 1 {
			t.Errorf("exit %d; want 0 or 1", code)
		}
		absent(t, final)
		return
	}
	if arrivedAs(t, final, src) {
		figs.transfer(1)
	} else {
		t.Errorf("exit 0 and a wrong file under the final name: %s", bug)
	}
}

// TestStreamsOneReset resets one of the two connections of a send
// --streams 2 in the middle (a 128 MiB file, cut into two ranges), while
// the other goes on. The sender must exit 1 naming the reset, the file
// must not be renamed into place (half of it never arrived), and the
// receiver (--keep) must serve the same transfer again, which completes
// the file byte-identical. In both modes.
func TestStreamsOneReset(t *testing.T) {
	const size = 128 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	genFile(t, src, size)
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { streamsOneReset(t, m, src, size) })
	}
}

func streamsOneReset(t *testing.T, m secMode, src string, size int64) {
	for range rounds() {
		dst := t.TempDir()
		r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")...)
		px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
		px.Hold(32 << 20)
		s := start(t, m.args("send", "--streams", "2", "--to", px.Addr(), src)...)
		if !eventually(30*time.Second, func() bool { return px.Conns() == 2 }) {
			t.Fatalf("the sender opened %d connections; want 2", px.Conns())
		}
		px.Held(30 * time.Second)
		px.ResetConn(0)
		figs.fault("one of two streams reset mid-transfer")
		px.Release()
		code, serr := s.Wait(t)
		t.Logf("sender: exit %d: %s", code, strings.TrimSpace(serr))
		if code != 1 || !connectionLost(serr) {
			t.Errorf("sender exited %d: %q; want 1 and the reset", code, serr)
		}
		final := filepath.Join(dst, "big.bin")
		absent(t, final)
		code, _, serr = run(t, m.args("send", "--streams", "2", "--verify", "--to", r.Addr(t), src)...)
		if code != 0 {
			t.Fatalf("the same transfer again: exit %d: %s", code, serr)
		}
		if arrivedAs(t, final, src) {
			figs.transfer(1)
		}
		t.Logf("receiver log:\n%s", r.stop(t))
	}
}

// TestStreamsInterruptedThenResumed interrupts a send --streams 2 of a
// 256 MiB file (two ranges, [0, 128 MiB) and [128 MiB, 256 MiB), written
// into one file) after 32 MiB of each stream (a relay holds every
// connection at that point, then resets them): each stream has written part
// of its range, so the file is longer than 128 MiB with a hole in the first
// range. Then the user does what the receiver's message suggests and sends
// again to a receiver with --resume, with one stream. The bug this guards
// against: a receiver that plans the resume from that file's length, as if
// every byte before it had arrived, sends for only the tail and renames the
// hole, zeros, into place as the complete file, exit 0 at both ends.
//
// Right: the file arrives whole (the receiver does not resume from a part
// a ranged transfer wrote, or resumes from what it knows arrived), or the
// send fails and nothing is under the final name.
//
// Reproducer by hand:
//
//	zcopy gen big.bin --size 256MiB
//	zcopy recv --listen 127.0.0.1:7301 --dir d --keep --resume &
//	zcopy send --streams 2 --to 127.0.0.1:7301 big.bin   # kill -9 it halfway
//	zcopy send --to 127.0.0.1:7301 big.bin               # exit 0
//	cmp big.bin d/big.bin                                # differ
//
// In both modes.
func TestStreamsInterruptedThenResumed(t *testing.T) {
	const size = 256 << 20
	src := filepath.Join(t.TempDir(), "big.bin")
	genFile(t, src, size)
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { streamsInterruptedThenResumed(t, m, src, size) })
	}
}

func streamsInterruptedThenResumed(t *testing.T, m secMode, src string, size int64) {
	for range rounds() {
		dst := t.TempDir()
		r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--resume")...)
		px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
		// Each stream is held on its own: a shared budget could all go to
		// one stream and leave no hole to test.
		px.HoldEach(32 << 20)
		s := start(t, m.args("send", "--streams", "2", "--to", px.Addr(), src)...)
		px.HeldEach(2, 30*time.Second)
		final := filepath.Join(dst, "big.bin")
		// Ranges are written to NAME.zcopy-ranges, which --resume never
		// continues (NAME.zcopy-part holds only a contiguous prefix).
		part := final + ".zcopy-ranges"
		// The reset discards what the receiver has not read yet: first let
		// it write some of the second range.
		if !eventually(30*time.Second, func() bool { return fileSize(part) > size/2 }) {
			t.Fatalf("the second range never reached the receiver's file (%d bytes)", fileSize(part))
		}
		px.Reset()
		figs.fault("multi-stream transfer reset, then resumed with one stream")
		s.Wait(t)
		// The receiver notices the reset on its own; wait until it has
		// let go of the part.
		if !eventually(30*time.Second, func() bool { return strings.Count(r.Log(), "reset") >= 2 }) {
			t.Fatalf("the receiver did not log both streams' reset:\n%s", r.Log())
		}
		// The second range did start (above), so the first has a hole: a
		// receiver may keep that file or discard it, but must not resume
		// from its length.
		if kept := fileSize(part); kept < 0 {
			t.Logf("the receiver discarded the interrupted ranges' file")
		} else {
			t.Logf("the interrupted ranges left a file of %d bytes; the first range had at most 32 MiB of its 128", kept)
		}
		code, out, serr := run(t, m.args("send", "--json", "--to", r.Addr(t), src)...)
		t.Logf("resume with one stream: exit %d %s %s", code, strings.TrimSpace(out), strings.TrimSpace(serr))
		r.stop(t)
		wholeOrNothing(t, code, final, src,
			"after an interrupted send --streams N, recv --resume resumes from the part's length although the ranges left a hole before it; the hole (zeros) is renamed into place as the complete file, exit 0")
	}
}

// TestStreamsOverLongerPart: an earlier, interrupted transfer of a bigger
// version of a file left a long NAME.zcopy-part (any interruption keeps
// the part, --resume or not). The file is then replaced by a smaller
// version (128 MiB, still cut into ranges) and sent with --streams 2
// --verify. The bug this guards against: ranges written into the old part
// without cutting it to the new size, a hash that covers only the first
// SIZE bytes, and the file renamed into place with the old version's tail
// after the new bytes: longer than the source, "verified", exit 0.
//
// Right: the file arrives as the new version, exactly its size.
//
// Reproducer by hand:
//
//	zcopy gen big.bin --size 128MiB
//	head -c 200000000 /dev/urandom > d/big.bin.zcopy-part   # or interrupt a send of a bigger big.bin
//	zcopy recv --listen 127.0.0.1:7302 --dir d --keep &
//	zcopy send --streams 2 --verify --to 127.0.0.1:7302 big.bin   # exit 0, "verified"
//	ls -l d/big.bin                                               # 200000000 bytes
//
// In both modes.
func TestStreamsOverLongerPart(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { streamsOverLongerPart(t, m) })
	}
}

func streamsOverLongerPart(t *testing.T, m secMode) {
	base := t.TempDir()
	src := filepath.Join(base, "big.bin")
	for range rounds() {
		genFile(t, src, 256<<20)
		dst := t.TempDir()
		r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")...)
		px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
		px.Hold(192 << 20)
		s := start(t, m.args("send", "--to", px.Addr(), src)...)
		px.Held(30 * time.Second)
		final := filepath.Join(dst, "big.bin")
		part := final + ".zcopy-part"
		// The reset discards what the receiver has not read yet: first let
		// the part grow past the new version's size.
		if !eventually(30*time.Second, func() bool { return fileSize(part) > 128<<20 }) {
			t.Fatalf("the part never grew past 128 MiB (%d bytes)", fileSize(part))
		}
		px.Reset()
		figs.fault("transfer reset, then a smaller version sent with --streams")
		s.Wait(t)
		if !eventually(30*time.Second, func() bool { return strings.Contains(r.Log(), "reset") }) {
			t.Fatalf("the receiver did not log the reset:\n%s", r.Log())
		}
		if kept := fileSize(part); kept <= 128<<20 {
			t.Fatalf("the part holds %d bytes; want more than the new version's 128 MiB", kept)
		}
		// The new, smaller version, renamed into place as editors do.
		genFile(t, src+".new", 128<<20)
		if err := os.Rename(src+".new", src); err != nil {
			t.Fatal(err)
		}
		code, out, serr := run(t, m.args("send", "--streams", "2", "--verify", "--json", "--to", r.Addr(t), src)...)
		t.Logf("send --streams 2 --verify: exit %d %s %s; final file %d bytes", code, strings.TrimSpace(out), strings.TrimSpace(serr), fileSize(final))
		r.stop(t)
		wholeOrNothing(t, code, final, src,
			"ranged writes go into an existing NAME.zcopy-part without cutting it to the file's size: a longer part left by an earlier transfer keeps its tail in the final file (longer than the source), and --verify passes because the hash covers only the first SIZE bytes")
	}
}
