package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/internal/tree"
)

// The tests in this file guard issue 12: every write on the receiving side
// has one owner (its part), and no end exits 0 for data that did not
// arrive. Each names the case of the issue it reproduces; each failed on
// the main branch before the fix.

// ownerSize is the file these tests interrupt or race: large enough that a
// relay held after 8 MiB holds it in the middle of its body.
const ownerSize = 32 << 20

// interruptedPush pushes src in mode m to the --keep --resume server r
// through a relay that resets the connection after 8 MiB of data, and
// returns the length of the part the server kept.
func interruptedPush(t *testing.T, m secMode, r *proc, src, part string) int64 {
	t.Helper()
	px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
	px.Hold(8 << 20)
	s := start(t, m.args("send", "--to", px.Addr(), src)...)
	resetHeldAfter(t, px, part)
	if code, serr := s.Wait(t); code != 1 {
		t.Fatalf("the interrupted send exited %d: %s", code, serr)
	}
	if !eventually(30*time.Second, func() bool { n := fileSize(part); return n > 0 && n < ownerSize && strings.Contains(r.Log(), "reset") }) {
		t.Fatalf("no part of the interrupted push: %d bytes; log:\n%s", fileSize(part), r.Log())
	}
	return fileSize(part)
}

// sendResult is the part of send's --json output these tests read.
type sendResult struct {
	BytesSent int64 `json:"bytes_sent"`
	Files     int
}

// TestResumeAcrossSourceChange guards case 1: a part holding the start of
// one version of a file was continued with the rest of another version of
// the same size (both ends exit 0, the file mixed, and stamped so that
// every later run skips it). A resume must start over when the source
// changed, and say so; it must still continue an unchanged source. In
// both modes.
func TestResumeAcrossSourceChange(t *testing.T) {
	for _, m := range secModes {
		t.Run(m.name, func(t *testing.T) { resumeAcrossSourceChange(t, m) })
	}
}

func resumeAcrossSourceChange(t *testing.T, m secMode) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, src, part string) // nil: the source is unchanged
		// mismatch: nothing the receiver can see before the body tells
		// the part from the file's start; the resumed file must fail its
		// whole-file hash (not arrive mixed), and the next run send it
		// whole.
		mismatch bool
	}{
		{"unchanged", nil, false},
		// The case as reported: version 2, of the same size, put in place
		// by rename (a new inode, a new mtime).
		{"replaced-same-size", func(t *testing.T, src, _ string) {
			genFile(t, src+".v2", ownerSize)
			if err := os.Rename(src+".v2", src); err != nil {
				t.Fatal(err)
			}
		}, false},
		// Variant: the new version also carries the old one's mtime (cp -p,
		// rsync -t of another file): only the identity differs.
		{"replaced-same-size-and-mtime", func(t *testing.T, src, _ string) {
			fi, _ := os.Stat(src)
			genFile(t, src+".v2", ownerSize)
			os.Chtimes(src+".v2", fi.ModTime(), fi.ModTime())
			if err := os.Rename(src+".v2", src); err != nil {
				t.Fatal(err)
			}
		}, false},
		// Variant: rewritten in place (the same inode), same size.
		{"rewritten-in-place", func(t *testing.T, src, _ string) {
			f, err := os.OpenFile(src, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(randomBytes(99, 1<<20), 0)
			f.Close()
			later := time.Now().Add(time.Hour)
			os.Chtimes(src, later, later)
		}, false},
		// Variant (an attack review): rewritten in place with its size
		// and mtime kept (cp -p or rsync --inplace -t onto the same
		// inode, a build with a fixed SOURCE_DATE_EPOCH).
		{"rewritten-in-place-same-size-and-mtime", func(t *testing.T, src, _ string) {
			fi, _ := os.Stat(src)
			f, err := os.OpenFile(src, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt(randomBytes(99, 1<<20), 0)
			f.Close()
			os.Chtimes(src, fi.ModTime(), fi.ModTime())
		}, true},
		// Variant: the part's bytes are not the file's though its record
		// matches (a part planted by another peer that knew the file's
		// size, mtime and identity).
		{"part-not-its-own", func(t *testing.T, _, part string) {
			f, err := os.OpenFile(part, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("EVIL"), 0)
			f.Close()
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "f.bin")
			genFile(t, src, ownerSize)
			dst := t.TempDir()
			r := start(t, m.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep", "--resume")...)
			final := filepath.Join(dst, "f.bin")
			kept := interruptedPush(t, m, r, src, final+".zcopy-part")
			if tc.change != nil {
				tc.change(t, src, final+".zcopy-part")
				figs.fault("source replaced between an interrupted transfer and its resume")
			}
			code, out, serr := run(t, m.args("send", "--to", r.Addr(t), "--json", src)...)
			if tc.mismatch {
				if code == 0 {
					t.Fatalf("a resume onto a part that is not the file's start exited 0:\n%s", serr)
				}
				if _, err := os.Lstat(final); err == nil {
					t.Fatal("a mixed file arrived under the final name")
				}
				if _, err := os.Lstat(final + ".zcopy-part"); err == nil {
					t.Error("the part that was not the file's start was kept")
				}
				if !strings.Contains(serr, "not the start of this file") {
					t.Errorf("the sender was not told why: %s", serr)
				}
				// Run again: sent whole.
				code, out, serr = run(t, m.args("send", "--to", r.Addr(t), "--json", src)...)
				kept = 0
			}
			if code != 0 {
				t.Fatalf("the resumed send: exit %d: %s", code, serr)
			}
			var res sendResult
			json.Unmarshal([]byte(out), &res)
			log := r.stop(t)
			figs.transfer(1)
			arrivedAs(t, final, src)
			want := ownerSize - kept
			if tc.change != nil && !tc.mismatch {
				want = ownerSize
				if !strings.Contains(log, "starting over") {
					t.Errorf("the receiver did not say it started over:\n%s", log)
				}
			}
			if res.BytesSent != want {
				t.Errorf("the resume sent %d bytes; want %d (the part held %d)", res.BytesSent, want, kept)
			}
		})
	}
}

// TestResumePullAcrossSourceChange is case 1 for a pull: recv --from
// --resume against a sender whose file was replaced since the part was
// written must start over; one rewritten in place with its size and mtime
// kept must fail its whole-file hash, not arrive mixed, and arrive whole
// on the next run. In both modes.
func TestResumePullAcrossSourceChange(t *testing.T) {
	for _, m := range secModes {
		for _, inPlace := range []bool{false, true} {
			name := m.name + "/replaced"
			if inPlace {
				name = m.name + "/rewritten-in-place-same-size-and-mtime"
			}
			t.Run(name, func(t *testing.T) { resumePullAcrossSourceChange(t, m, inPlace) })
		}
	}
}

func resumePullAcrossSourceChange(t *testing.T, m secMode, inPlace bool) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, ownerSize)
	dst := t.TempDir()
	s := start(t, m.args("send", "--listen", "127.0.0.1:0", "--keep", src)...)
	px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
	px.Hold(8 << 20)
	r := start(t, m.args("recv", "--from", px.Addr(), "--dir", dst)...)
	resetHeldAfter(t, px, filepath.Join(dst, "f.bin.zcopy-part"))
	if code, rerr := r.Wait(t); code != 1 {
		t.Fatalf("the interrupted pull exited %d: %s", code, rerr)
	}
	final := filepath.Join(dst, "f.bin")
	if n := fileSize(final + ".zcopy-part"); n <= 0 || n >= ownerSize {
		t.Fatalf("the interrupted pull left a part of %d bytes", n)
	}
	if inPlace {
		fi, _ := os.Stat(src)
		f, err := os.OpenFile(src, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(randomBytes(99, 1<<20), 0)
		f.Close()
		os.Chtimes(src, fi.ModTime(), fi.ModTime())
	} else {
		genFile(t, src+".v2", ownerSize)
		os.Rename(src+".v2", src)
	}
	figs.fault("source replaced between an interrupted transfer and its resume")
	code, _, rerr := run(t, m.args("recv", "--from", s.Addr(t), "--dir", dst, "--resume")...)
	if inPlace {
		if code == 0 {
			t.Fatalf("a resume onto a part that is not the file's start exited 0: %s", rerr)
		}
		if _, err := os.Lstat(final); err == nil {
			t.Fatal("a mixed file arrived under the final name")
		}
		if !strings.Contains(rerr, "not the start of this file") {
			t.Errorf("the receiver did not say why: %s", rerr)
		}
		code, _, rerr = run(t, m.args("recv", "--from", s.Addr(t), "--dir", dst, "--resume")...)
	}
	s.stop(t)
	if code != 0 {
		t.Fatalf("the resumed pull: exit %d: %s", code, rerr)
	}
	if !inPlace && !strings.Contains(rerr, "starting over") {
		t.Errorf("the receiver did not say it started over: %s", rerr)
	}
	figs.transfer(1)
	arrivedAs(t, final, src)
}

// TestTwoSessionsOneName guards case 2: two transfers that write the same
// name in one receiving directory at once mixed their bytes, and one
// reported success. The one that comes second must fail that file (exit
// 23 for a framed transfer, 1 for raw) without touching the first one's
// part, and the first must complete intact.
func TestTwoSessionsOneName(t *testing.T) {
	for _, tc := range []struct {
		name string
		// second runs the second transfer while the first holds its part
		// and returns its exit status and stderr.
		second func(t *testing.T, r *proc, dst, other string) (int, string)
		want   int
		recv   []string // the receiver's arguments after --dir DST
		first  []string // the first sender's arguments before --to
	}{
		{"framed-push", func(t *testing.T, r *proc, dst, other string) (int, string) {
			code, _, serr := run(t, "send", "--to", r.Addr(t), other)
			return code, serr
		}, 23, []string{"--keep"}, nil},
		// Variant: the receiver resumes parts; the second transfer must
		// not take the first one's part as its own to continue.
		{"framed-push-resume", func(t *testing.T, r *proc, dst, other string) (int, string) {
			code, _, serr := run(t, "send", "--to", r.Addr(t), other)
			return code, serr
		}, 23, []string{"--keep", "--resume"}, nil},
		// Variant: a second receiving process on the same directory.
		{"second-receiver-process", func(t *testing.T, r *proc, dst, other string) (int, string) {
			r2 := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst)
			code, _, serr := run(t, "send", "--to", r2.Addr(t), other)
			r2.Wait(t)
			return code, serr
		}, 23, []string{"--keep"}, nil},
		// Variant: the first transfer arrives in ranges over two streams
		// (NAME.zcopy-ranges); the second, on one stream, must not write
		// its own part and then place it over the ranges' file.
		{"ranges-then-whole", func(t *testing.T, r *proc, dst, other string) (int, string) {
			code, _, serr := run(t, "send", "--to", r.Addr(t), other)
			return code, serr
		}, 23, []string{"--keep"}, []string{"--streams", "2"}},
		// Variant: the reverse, the first whole and the second in ranges.
		{"whole-then-ranges", func(t *testing.T, r *proc, dst, other string) (int, string) {
			code, _, serr := run(t, "send", "--to", r.Addr(t), "--streams", "2", other)
			return code, serr
		}, 23, []string{"--keep"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := filepath.Join(t.TempDir(), "f.bin")
			b := filepath.Join(t.TempDir(), "f.bin")
			genFile(t, a, 96<<20)
			genFile(t, b, 96<<20)
			dst := t.TempDir()
			r := start(t, append([]string{"recv", "--listen", "127.0.0.1:0", "--dir", dst}, tc.recv...)...)
			px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
			px.Hold(8 << 20)
			s := start(t, append(append([]string{"send"}, tc.first...), "--to", px.Addr(), a)...)
			px.Held(30 * time.Second)
			// The first transfer holds its part once its first bytes are
			// in it (the relay's hold alone says only that they left).
			first := filepath.Join(dst, "f.bin.zcopy-part")
			if tc.first != nil {
				first = filepath.Join(dst, "f.bin.zcopy-ranges")
			}
			waitPart(t, first, 1)
			figs.fault("two transfers of one name into one directory at once")
			code, serr := tc.second(t, r, dst, b)
			if code != tc.want || !strings.Contains(serr, "another transfer is receiving") {
				t.Errorf("the second transfer exited %d: %s; want %d, naming the other transfer", code, serr, tc.want)
			}
			px.Release()
			if code, serr := s.Wait(t); code != 0 {
				t.Errorf("the first transfer exited %d: %s", code, serr)
			}
			r.stop(t)
			figs.transfer(1)
			arrivedAs(t, filepath.Join(dst, "f.bin"), a)
			leftovers(t, dst, "f.bin")
		})
	}
}

// leftovers checks that dst holds only the names given: no part, no
// ranges file.
func leftovers(t *testing.T, dst string, names ...string) {
	t.Helper()
	ents, _ := os.ReadDir(dst)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q; want %q", dst, got, names)
	}
}

// TestRawReceiveNeverFollowsLinks guards case 3: in a directory others can
// write, a symlink planted under the part's name made recv --raw -o write
// the network's bytes into its target and leave the link under the final
// name. A planted link is removed, never followed, whatever it leads to,
// in raw and framed receives, and a link at the final name of a raw
// receive is replaced, not written through.
func TestRawReceiveNeverFollowsLinks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, 4<<20)
	for _, tc := range []struct {
		name   string
		framed bool
		link   string // the name of the planted link, relative to the directory
		target func(dir string) string
	}{
		{"raw-part-to-victim", false, "out.bin.zcopy-part", func(dir string) string { return filepath.Join(dir, "victim") }},
		{"raw-part-outside", false, "out.bin.zcopy-part", func(string) string { return filepath.Join(os.TempDir(), "zcopy-victim-outside") }},
		{"raw-final-name", false, "out.bin", func(dir string) string { return filepath.Join(dir, "victim") }},
		// Framed: os.Root follows a link that stays inside the root, so
		// the part was written through it there too.
		{"framed-part-to-victim", true, "f.bin.zcopy-part", func(dir string) string { return filepath.Join(dir, "victim") }},
		{"framed-part-relative", true, "f.bin.zcopy-part", func(string) string { return "victim" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			victim := tc.target(dir)
			if !filepath.IsAbs(victim) {
				victim = filepath.Join(dir, victim)
			}
			if err := os.WriteFile(victim, []byte("precious"), 0o644); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if !strings.HasPrefix(victim, dir) {
					os.Remove(victim)
				}
			}()
			if err := os.Symlink(tc.target(dir), filepath.Join(dir, tc.link)); err != nil {
				t.Fatal(err)
			}
			figs.hostile("symlink planted under a name the receiver writes", 1)
			final := filepath.Join(dir, "out.bin")
			if tc.framed {
				final = filepath.Join(dir, "f.bin")
				r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dir, "--resume")
				if code, _, serr := run(t, "send", "--to", r.Addr(t), src); code != 0 {
					t.Fatalf("send: exit %d: %s", code, serr)
				}
				if code, rerr := r.Wait(t); code != 0 {
					t.Fatalf("recv: exit %d: %s", code, rerr)
				}
			} else {
				r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", final)
				if code, _, serr := run(t, "send", "--raw", "--to", r.Addr(t), src); code != 0 {
					t.Fatalf("send: exit %d: %s", code, serr)
				}
				if code, rerr := r.Wait(t); code != 0 {
					t.Fatalf("recv: exit %d: %s", code, rerr)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Errorf("the link's target was written: it holds %d bytes", len(b))
			}
			if fi, err := os.Lstat(final); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("the final name is %v (%v); want a regular file", fi, err)
			}
			figs.transfer(1)
			arrivedAs(t, final, src)
		})
	}
}

// TestRawSizeRefusesShortOrLong guards case 4: a raw sender killed with
// SIGKILL mid-file closes in order (its kernel sends FIN), and recv --raw
// took the stream's end for the file's end and exited 0. With --size it
// must refuse a stream shorter than the size, or longer, and keep
// nothing; the exact size passes.
func TestRawSizeRefusesShortOrLong(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, ownerSize)
	size := fmt.Sprint(ownerSize)
	t.Run("sender-killed-push", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.bin")
		r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "--size", size, "-o", out)
		px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
		px.Hold(8 << 20)
		s := start(t, "send", "--raw", "--to", px.Addr(), src)
		px.Held(30 * time.Second)
		s.Cmd.Process.Signal(syscall.SIGKILL)
		<-s.Done
		figs.fault("raw sender killed mid-file")
		px.Release()
		code, rerr := r.Wait(t)
		if code != 1 || !strings.Contains(rerr, "ended after") {
			t.Errorf("receiver exited %d: %s; want 1 and the short stream", code, rerr)
		}
		absent(t, out)
		absent(t, out+".zcopy-part")
	})
	// Variant: a pull, the sender killed while serving.
	t.Run("sender-killed-pull", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.bin")
		s := start(t, "send", "--raw", "--listen", "127.0.0.1:0", src)
		px := testbin.NewRelay(t, s.Addr(t), testbin.Pull)
		px.Hold(8 << 20)
		r := start(t, "recv", "--raw", "--from", px.Addr(), "--size", size, "-o", out)
		px.Held(30 * time.Second)
		s.Cmd.Process.Signal(syscall.SIGKILL)
		<-s.Done
		figs.fault("raw sender killed mid-file")
		px.Release()
		if code, rerr := r.Wait(t); code != 1 {
			t.Errorf("receiver exited %d: %s; want 1", code, rerr)
		}
		absent(t, out)
	})
	// Variant: a stream longer than --size (one byte more).
	t.Run("one-byte-longer", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.bin")
		r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "--size", fmt.Sprint(ownerSize-1), "-o", out)
		if code, _, serr := run(t, "send", "--raw", "--to", r.Addr(t), src); code != 0 {
			t.Logf("sender: exit %d: %s", code, serr)
		}
		code, rerr := r.Wait(t)
		if code != 1 || !strings.Contains(rerr, "more than") {
			t.Errorf("receiver exited %d: %s; want 1 and the long stream", code, rerr)
		}
		absent(t, out)
		figs.hostile("raw stream longer than --size", 1)
	})
	t.Run("exact", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.bin")
		r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "--size", size, "-o", out)
		if code, _, serr := run(t, "send", "--raw", "--to", r.Addr(t), src); code != 0 {
			t.Fatalf("send: exit %d: %s", code, serr)
		}
		if code, rerr := r.Wait(t); code != 0 {
			t.Fatalf("recv: exit %d: %s", code, rerr)
		}
		figs.transfer(1)
		arrivedAs(t, out, src)
	})
}

// TestDeliveredLessNeverExitsZero guards case 5 on the receiving side:
// transfers that delivered less than was named exited 0.
func TestDeliveredLessNeverExitsZero(t *testing.T) {
	src := filepath.Join(t.TempDir(), "f.bin")
	genFile(t, src, 8<<20)
	// --streams 4 towards a receiver that serves one connection: it took
	// one stream, reported "received 0 files" and exited 0. Both ends must
	// refuse, saying what to do; the receiver then waits for another peer
	// until it is stopped, and exits 1, having received nothing.
	t.Run("streams-to-one-shot-receiver", func(t *testing.T) {
		dst := t.TempDir()
		r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst)
		scode, _, serr := run(t, "send", "--to", r.Addr(t), "--streams", "4", src)
		rcode, rerr := r.stopWaiting(t)
		if scode != 1 || rcode != 143 || !strings.Contains(rerr, "--keep") || !strings.Contains(serr, "--keep") {
			t.Errorf("sender exit %d (%s), receiver exit %d (%s); want 1 and 143 (stopped by SIGTERM, nothing moved), both saying to use --keep", scode, serr, rcode, rerr)
		}
		// The sender is told which end serves one connection (it said
		// "this end", which from the sender's side is the sender).
		if !strings.Contains(serr, "the listening end serves one connection") {
			t.Errorf("the sender's message %q does not say that the listening end serves one connection", serr)
		}
		absent(t, filepath.Join(dst, "f.bin"))
	})
	// Variant: a pull over several streams from a sender that serves one.
	t.Run("streams-from-one-shot-sender", func(t *testing.T) {
		dst := t.TempDir()
		s := start(t, "send", "--listen", "127.0.0.1:0", src)
		rcode, _, rerr := run(t, "recv", "--from", s.Addr(t), "--streams", "3", "--dir", dst)
		scode, serr := s.stopWaiting(t)
		if scode != 143 || rcode != 1 {
			t.Errorf("sender exit %d (%s), receiver exit %d (%s); want 143 (stopped by SIGTERM, nothing moved) and 1", scode, serr, rcode, rerr)
		}
		absent(t, filepath.Join(dst, "f.bin"))
	})
	// A framed sender into recv --raw: the 32-byte handshake was kept as
	// the file, exit 0. In both modes: inside TLS (the default) what the
	// framed sender writes first is its TLS ClientHello, not the Hello.
	for _, m := range secModes {
		t.Run("framed-sender-into-raw-receiver/"+m.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.bin")
			r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", out)
			scode, _, _ := run(t, m.args("send", "--to", r.Addr(t), "--header-timeout", "1s", src)...)
			rcode, rerr := r.Wait(t)
			if rcode != 1 || !strings.Contains(rerr, "framed protocol") {
				t.Errorf("receiver exited %d: %s; want 1, naming the framed protocol", rcode, rerr)
			}
			if scode == 0 {
				t.Error("the framed sender exited 0")
			}
			absent(t, out)
		})
	}
}

// TestFileThatAppearedIsKept guards case 7: a file that appears under its
// name after the receiver planned to receive it was replaced without
// --overwrite. It must be kept and the transfer exit 23, for a small file
// (placed whole from an unnamed file) and a large one (renamed from its
// part) alike; with --overwrite it is replaced.
//
// Both ends run --plaintext: the relay holds the transfer at a byte of the
// protocol counted in the clear (handshakeAndManifest), which TLS's records
// would hide. What the receiver does with a file that appeared does not
// depend on the mode.
func TestFileThatAppearedIsKept(t *testing.T) {
	plain := secModes[1]
	for _, tc := range []struct {
		name      string
		size      int64
		overwrite bool
	}{
		{"small", 4 << 10, false},
		{"large", 8 << 20, false},
		{"small-overwrite", 4 << 10, true},
		{"large-overwrite", 8 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "f.bin")
			genFile(t, src, tc.size)
			dst := t.TempDir()
			args := plain.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)
			if tc.overwrite {
				args = append(args, "--overwrite")
			}
			r := start(t, args...)
			// Hold the data direction one byte into the first data header:
			// the sender writes that byte only once it has the receiver's
			// plan, so when the relay is held there the receiver has
			// planned to receive the file, and its body has not come. Then
			// make the file appear. (Held at the manifest's end, the relay
			// waits for budget before the plan is made.)
			px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
			px.Hold(handshakeAndManifest(t, "f.bin") + 1)
			s := start(t, plain.args("send", "--to", px.Addr(), src)...)
			px.Held(30 * time.Second)
			theirs := filepath.Join(dst, "f.bin")
			if err := os.WriteFile(theirs, []byte("appeared meanwhile"), 0o644); err != nil {
				t.Fatal(err)
			}
			figs.fault("a file appeared under a name after it was planned")
			px.Release()
			scode, serr := s.Wait(t)
			rcode, rerr := r.Wait(t)
			if tc.overwrite {
				if scode != 0 || rcode != 0 {
					t.Fatalf("with --overwrite: sender exit %d (%s), receiver exit %d (%s)", scode, serr, rcode, rerr)
				}
				figs.transfer(1)
				arrivedAs(t, theirs, src)
				return
			}
			if scode != 23 || rcode != 23 || !strings.Contains(rerr, "appeared") {
				t.Errorf("sender exit %d (%s), receiver exit %d (%s); want both 23, naming the file that appeared", scode, serr, rcode, rerr)
			}
			arrived(t, theirs, []byte("appeared meanwhile"))
			leftovers(t, dst, "f.bin")
		})
	}
}

// handshakeAndManifest is the number of bytes a --plaintext sender of one
// file named name, with the suite's token, writes before its first data
// header: its handshake (handshakeLen: its Hello, its Verdict and proof, its
// Verdict on the receiver's proof), one file entry and the end of the
// manifest (docs/PROTOCOL.md).
func handshakeAndManifest(t testing.TB, name string) int64 {
	entry := 1 + 2 + len(name) + 4 + 8 + 8 + 8
	return handshakeLen(t, secModes[1]) + int64(entry+1)
}

// TestResumeInTreeOfManyDirectories guards a fault the review of the fix
// for case 1 found: with more than 128 directories the receiver closed
// its open directories midway, which also let go of the parts it had
// taken while planning; the bodies then went into new, empty parts at the
// planned offset, and every resumed file arrived with its start zeroed,
// exit 0 at both ends. Every file must arrive whole, with only the bytes
// after each part on the wire.
func TestResumeInTreeOfManyDirectories(t *testing.T) {
	const dirs, size, kept = 140, 256 << 10, 128 << 10
	src := filepath.Join(t.TempDir(), "src")
	dst := t.TempDir()
	for i := range dirs {
		name := filepath.Join(src, fmt.Sprintf("d%03d", i), "f.bin")
		data := writeRandom(t, name, size)
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		v := part.Version{Size: size, MTime: fi.ModTime().UnixNano(), Source: tree.FileID{Dev: st.Dev, Ino: st.Ino}.Tag()}
		// The part an interrupted transfer of this version leaves.
		pdir := filepath.Join(dst, "src", fmt.Sprintf("d%03d", i))
		if err := os.MkdirAll(pdir, 0o755); err != nil {
			t.Fatal(err)
		}
		root, err := os.OpenRoot(pdir)
		if err != nil {
			t.Fatal(err)
		}
		d, err := part.OpenDir(root, ".")
		if err != nil {
			t.Fatal(err)
		}
		f, _, _, err := part.Open(d, "f.bin"+part.Suffix, v, false)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data[:kept])
		f.Keep()
		d.Close()
		root.Close()
	}
	r := start(t, "recv", "--listen", "127.0.0.1:0", "--dir", dst, "--resume")
	code, out, serr := run(t, "send", "--to", r.Addr(t), "--json", src)
	if code != 0 {
		t.Fatalf("send: exit %d: %s", code, serr)
	}
	if code, rerr := r.Wait(t); code != 0 {
		t.Fatalf("recv: exit %d: %s", code, rerr)
	}
	var res sendResult
	json.Unmarshal([]byte(out), &res)
	if want := int64(dirs * (size - kept)); res.BytesSent != want {
		t.Errorf("sent %d bytes; want %d (the rest of each part)", res.BytesSent, want)
	}
	for i := range dirs {
		name := fmt.Sprintf("d%03d/f.bin", i)
		figs.transfer(1)
		if !arrivedAs(t, filepath.Join(dst, "src", name), filepath.Join(src, name)) {
			break
		}
	}
}

// TestSmallFileOverStalePart guards another fault the review found: a
// small file (taken whole) whose stale NAME.zcopy-part the plan had taken
// failed against its own session's lock with --overwrite ("another
// transfer is receiving"), and without it left the empty part behind.
func TestSmallFileOverStalePart(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("overwrite-%v", overwrite), func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "small.txt")
			writeRandom(t, src, 3000)
			dst := t.TempDir()
			if overwrite {
				os.WriteFile(filepath.Join(dst, "small.txt"), []byte("an older version"), 0o644)
			}
			os.WriteFile(filepath.Join(dst, "small.txt.zcopy-part"), nil, 0o600)
			args := []string{"recv", "--listen", "127.0.0.1:0", "--dir", dst}
			if overwrite {
				args = append(args, "--overwrite")
			}
			r := start(t, args...)
			if code, _, serr := run(t, "send", "--to", r.Addr(t), src); code != 0 {
				t.Errorf("send: exit %d: %s", code, serr)
			}
			if code, rerr := r.Wait(t); code != 0 {
				t.Errorf("recv: exit %d: %s", code, rerr)
			}
			figs.transfer(1)
			arrivedAs(t, filepath.Join(dst, "small.txt"), src)
			leftovers(t, dst, "small.txt")
		})
	}
}
