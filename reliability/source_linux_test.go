package reliability

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/testbin"
)

var sendMethods = []string{"readwrite", "mmap", "sendfile", "splice", "auto"}

// methodModes returns the modes a framed transfer can send by method in:
// both for readwrite and auto; the zero-copy methods move bodies in the
// clear, so only --plaintext (inside TLS they are a usage error).
func methodModes(method string) []secMode {
	if method == "readwrite" || method == "auto" {
		return secModes
	}
	return secModes[1:]
}

// modeMethods returns the send methods a framed transfer in mode m can use
// (see methodModes).
func modeMethods(m secMode) []string {
	var ms []string
	for _, meth := range sendMethods {
		for _, mm := range methodModes(meth) {
			if mm == m {
				ms = append(ms, meth)
			}
		}
	}
	return ms
}

const (
	changeSize = 32 << 20 // the source file
	changeHold = 4 << 20  // where the relay holds the transfer
)

// A sourceChange is something another process does to a file while zcopy
// sends it.
type sourceChange struct {
	name string
	// fails says, for a transfer mode ("raw", "raw-lease" for zcopy send
	// --raw --lease, "framed"), whether the transfer must fail, and the
	// words the sender's error must then hold; "" means it must succeed,
	// with the old version of the file exactly as it was when the send
	// began. No mode makes the changing process wait for long or fail.
	fails func(mode string) string
	do    func(t *testing.T, path string)
}

var sourceChanges = []sourceChange{
	{
		// truncate(2) to half the size: the bytes the size promised are
		// gone, so the send must fail. With a lease, truncate(2) blocks
		// until zcopy releases it (milliseconds); without, the send finds
		// the short file by a short count or EFAULT.
		name:  "truncated",
		fails: func(string) string { return "truncated" },
		do: func(t *testing.T, path string) {
			if err := os.Truncate(path, changeSize/2); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		// 1 MiB appended (open O_APPEND, write, close). The size taken at
		// the start still holds and the send goes on. Framed, the receiver
		// checks what arrived against the hash of the file's first 32 MiB
		// after the send, and keeps the old version whole. Raw mode cannot
		// check: a file whose size, mtime or ctime moved during the send
		// may be a mix, so it fails; with a lease, the writer's open stops
		// the send at once.
		name: "grown",
		fails: func(mode string) string {
			return map[string]string{"raw": "changed while it was sent", "raw-lease": "lease broken", "framed": ""}[mode]
		},
		do: func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(randomBytes(1, 1<<20)); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		// 1 MiB rewritten in place at 1 MiB, a part already sent (the
		// relay holds the transfer at 4 MiB), as a database writes its
		// pages: what arrives mixes the old bytes there with the rest, so
		// every mode must fail, and never leave the mix under the name.
		name: "rewritten",
		fails: func(mode string) string {
			return map[string]string{"raw": "changed while it was sent", "raw-lease": "lease broken", "framed": "written while it was sent"}[mode]
		},
		do: func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(randomBytes(2, 1<<20), 1<<20); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		},
	},
	{
		// A new version written aside and renamed over the path, as
		// editors and package managers do. zcopy holds the old inode open,
		// a rename does not break a lease, so the old version must arrive
		// whole and the transfer succeed.
		name:  "replaced",
		fails: func(string) string { return "" },
		do: func(t *testing.T, path string) {
			tmp := path + ".new"
			writeRandom(t, tmp, changeSize+1<<20)
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		},
	},
}

// change runs ch on path and fails the test if the changing process was
// held until the kernel broke zcopy's lease itself: a lease holder must give
// the lease back when a writer comes, and the kernel waits for it for
// lease-break-time (45 s by default) before it takes the lease away. Giving
// it back takes zcopy milliseconds; any wait short of the kernel's limit was
// ended by zcopy, so the verdict does not depend on the machine's speed.
func change(t *testing.T, ch sourceChange, path string) {
	limit, ok := testbin.LeaseBreakTime()
	began := time.Now()
	ch.do(t, path)
	figs.fault("source " + ch.name + " mid-transfer")
	if took := time.Since(began); ok && took >= limit-time.Second {
		t.Errorf("the %s change waited %v, the kernel's whole lease-break-time (%v): zcopy did not give its lease back, the kernel broke it", ch.name, took, limit)
	}
}

// TestRawSourceChanged changes the source file while zcopy send --raw is
// in the middle of it (held by a relay after 4 of 32 MiB), for every send
// method, with and without a lease, and checks what the user sees:
//   - a transfer that must fail: the sender exits 1 saying the file was
//     truncated, the receiver (zcopy recv --raw) sees the reset, exits 1 and
//     leaves nothing under the output name;
//   - a transfer that must succeed: both exit 0 and the output holds the
//     file exactly as it was when the send began.
func TestRawSourceChanged(t *testing.T) {
	for range rounds() {
		for _, ch := range sourceChanges {
			for _, m := range sendMethods {
				for _, lease := range []bool{true, false} {
					name := ch.name + "/" + m + "/lease"
					if !lease {
						name = ch.name + "/" + m + "/no-lease"
					}
					t.Run(name, func(t *testing.T) { rawSourceChanged(t, ch, m, lease) })
				}
			}
		}
	}
}

func rawSourceChanged(t *testing.T, ch sourceChange, method string, lease bool) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src.bin")
	old := writeRandom(t, src, changeSize)
	out := filepath.Join(dir, "out.bin")
	r := start(t, "recv", "--raw", "--listen", "127.0.0.1:0", "-o", out)
	px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
	px.Hold(changeHold)
	args := []string{"send", "--raw", "--json", "--method", method, "--to", px.Addr(), src}
	mode := "raw"
	if lease {
		args, mode = append(args, "--lease"), "raw-lease"
	}
	s := start(t, args...)
	px.Held(30 * time.Second)
	change(t, ch, src)
	px.Release()
	scode, serr := s.Wait(t)
	rcode, rerr := r.Wait(t)
	t.Logf("sender: exit %d %s %s; receiver: exit %d %s", scode, strings.TrimSpace(serr), strings.TrimSpace(s.Stdout.String()), rcode, strings.TrimSpace(rerr))
	if lease && !strings.Contains(s.Stdout.String(), `"lease":true`) {
		t.Errorf("no lease was held: %s", s.Stdout.String())
	}
	why := ch.fails(mode)
	if why == "" {
		if scode != 0 || rcode != 0 {
			t.Fatalf("sender exited %d, receiver %d; want both 0", scode, rcode)
		}
		arrived(t, out, old)
		figs.transfer(1)
		return
	}
	if scode != 1 || !strings.Contains(serr, why) {
		t.Errorf("sender exited %d: %q; want 1 and a message saying %q", scode, serr, why)
	}
	if rcode != 1 || !strings.Contains(rerr, "reset") {
		t.Errorf("receiver exited %d: %q; want 1 and a reset", rcode, rerr)
	}
	absent(t, out)
	if _, err := os.Stat(out + ".zcopy-part"); err == nil {
		t.Errorf("the raw receiver left its part after a failure")
	}
}

// TestFramedSourceChanged does the same to framed transfers into one
// zcopy recv --keep: each send method sends its own 32 MiB file (big
// enough for the sender's lease) and the file changes while the relay
// holds the transfer. A transfer that must fail: the sender exits 23 (a
// partial transfer: the session ran to its end, the file did not arrive)
// naming the file and the truncation, the receiver logs it and keeps
// neither a final file nor a part. One that must succeed: exit 0, the old version
// whole. After all of them the receiver still serves an honest transfer
// and exits 0 on SIGTERM. In both modes, a receiver for each: inside TLS
// by readwrite and auto, in plaintext by every method (methodModes).
func TestFramedSourceChanged(t *testing.T) {
	for range rounds() {
		for _, ch := range sourceChanges {
			for _, mode := range secModes {
				t.Run(ch.name+"/"+mode.name, func(t *testing.T) { framedSourceChanged(t, ch, mode) })
			}
		}
	}
}

func framedSourceChanged(t *testing.T, ch sourceChange, mode secMode) {
	base := t.TempDir()
	dst := filepath.Join(base, "dst")
	r := start(t, mode.args("recv", "--listen", "127.0.0.1:0", "--dir", dst, "--keep")...)
	methods := modeMethods(mode)
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			src := filepath.Join(base, "src", m+".bin")
			old := writeRandom(t, src, changeSize)
			px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
			px.Hold(changeHold)
			s := start(t, mode.args("send", "--method", m, "--to", px.Addr(), src)...)
			px.Held(30 * time.Second)
			change(t, ch, src)
			px.Release()
			code, serr := s.Wait(t)
			t.Logf("sender: exit %d %s", code, strings.TrimSpace(serr))
			final := filepath.Join(dst, m+".bin")
			why := ch.fails("framed")
			if why == "" {
				if code != 0 {
					t.Fatalf("sender exited %d; want 0", code)
				}
				arrived(t, final, old)
				figs.transfer(1)
				return
			}
			if code != 23 || !strings.Contains(serr, m+".bin") || !strings.Contains(serr, why) {
				t.Errorf("sender exited %d: %q; want 23 (partial transfer), the file's name and %q", code, serr, why)
			}
			absent(t, final)
			if _, err := os.Stat(final + ".zcopy-part"); err == nil {
				t.Errorf("the receiver kept the part of a file whose source was %s", ch.name)
			}
		})
	}
	honest := filepath.Join(base, "honest.txt")
	os.WriteFile(honest, []byte("still serving\n"), 0o644)
	if code, _, serr := run(t, mode.args("send", "--to", r.Addr(t), honest)...); code != 0 {
		t.Fatalf("an honest send after the faults failed: %s", serr)
	}
	arrived(t, filepath.Join(dst, "honest.txt"), []byte("still serving\n"))
	figs.transfer(1)
	log := r.stop(t)
	if why := ch.fails("framed"); why != "" && strings.Count(log, why) != len(methods) {
		t.Errorf("the receiver's log does not say %q for every source:\n%s", why, log)
	}
}

// TestFramedSourceReplacedBeforeSend replaces a file after zcopy send has
// listed it (its size and mtime are in the manifest) but before it is
// opened: the transfer is held in the middle of the file listed before it.
// The receiver must end with the version that was listed or with no file
// (and the sender exit 23, a partial transfer, naming it); never with bytes
// of the new version under the old version's size and mtime, which would
// pass for complete and, having the listed size and mtime, be skipped by
// every later sync.
// Cases: a bigger new version, and one of the same size; a file sent by
// the engine (2 MiB, every method) and a small one sent in a batch (8 KiB,
// auto).
//
// The bug this guards against: a sender that walks the tree once, then
// opens each file by path when its turn comes and sends its first SIZE
// bytes, whatever the path now names, delivers a wrong file with exit 0 at
// both ends, --verify too (the sender hashes the file it opened). The
// sender must check, once the file is open, that it is still the one
// listed (device and inode, size, mtime) and otherwise send it as failed
// (the trailer's read-error status), so the receiver discards it. Run it
// alone with
//
//	go test ./reliability -run TestFramedSourceReplacedBeforeSend -v
//
// Each case runs in every mode its method can send in (methodModes).
func TestFramedSourceReplacedBeforeSend(t *testing.T) {
	type tc = replacedCase
	var cases []tc
	for _, m := range sendMethods {
		cases = append(cases, tc{m, 2 << 20, 3 << 20, false}, tc{m, 2 << 20, 2 << 20, false})
	}
	cases = append(cases, tc{"auto", 8 << 10, 12 << 10, false}, tc{"auto", 8 << 10, 8 << 10, false},
		tc{"sendfile", 2 << 20, 3 << 20, true}, tc{"auto", 8 << 10, 12 << 10, true})
	for _, c := range cases {
		for _, mode := range methodModes(c.method) {
			name := c.method + "/" + mib(int64(c.size)) + "-to-" + mib(int64(c.newSize))
			if c.verify {
				name += "/verify"
			}
			t.Run(name+"/"+mode.name, func(t *testing.T) { sourceReplacedBeforeSend(t, mode, c) })
		}
	}
}

// replacedCase is a case of TestFramedSourceReplacedBeforeSend: b.bin, of
// size bytes, is replaced by a version of newSize bytes once it is
// listed, and sent by method (with --verify if verify).
type replacedCase struct {
	method        string
	size, newSize int
	verify        bool
}

func sourceReplacedBeforeSend(t *testing.T, mode secMode, c replacedCase) {
	base := t.TempDir()
	tree := filepath.Join(base, "tree")
	first := writeRandom(t, filepath.Join(tree, "a.bin"), changeSize) // listed first
	old := writeRandom(t, filepath.Join(tree, "b.bin"), c.size)
	dst := filepath.Join(base, "dst")
	r := start(t, mode.args("recv", "--listen", "127.0.0.1:0", "--dir", dst)...)
	px := testbin.NewRelay(t, r.Addr(t), testbin.Push)
	px.Hold(changeHold)
	args := mode.args("send", "--method", c.method, "--to", px.Addr(), tree)
	if c.verify {
		args = append(args, "--verify")
	}
	s := start(t, args...)
	px.Held(30 * time.Second)
	b := filepath.Join(tree, "b.bin")
	writeRandom(t, b+".new", c.newSize)
	if err := os.Rename(b+".new", b); err != nil {
		t.Fatal(err)
	}
	figs.fault("source replaced after it was listed")
	px.Release()
	code, serr := s.Wait(t)
	rcode, rerr := r.Wait(t)
	t.Logf("sender: exit %d %s; receiver: exit %d %s", code, strings.TrimSpace(serr), rcode, strings.TrimSpace(rerr))
	if code == 0 {
		arrived(t, filepath.Join(dst, "tree", "a.bin"), first)
	}
	final := filepath.Join(dst, "tree", "b.bin")
	got, err := os.ReadFile(final)
	switch {
	case err != nil:
		if code != 23 || !strings.Contains(serr, "b.bin") {
			t.Errorf("b.bin did not arrive, yet the sender exited %d (want 23, a partial transfer, naming it): %q", code, serr)
		}
	case string(got) == string(old):
		if arrived(t, final, old) && code == 0 {
			figs.transfer(1)
		}
	default:
		arrived(t, final, old) // fails, and counts the file as corrupted
		t.Errorf("b.bin arrived as %d bytes that are not the listed version (sender exit %d, receiver exit %d): a file replaced after the manifest listed it arrives as the new version's first SIZE bytes under the listed size and mtime",
			len(got), code, rcode)
	}
}
