package session

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/testbin"
	"github.com/zcopy/zcopy/internal/tree"
	"github.com/zcopy/zcopy/zerocopy"
)

// span is a run of bytes of a file: [off, off+n).
type span struct{ off, n int64 }

// sparseFile writes a file of size bytes at path holding random bytes in
// data and holes everywhere else, and returns its data's length. The seed
// is logged.
func sparseFile(t testing.TB, path string, size int64, data ...span) int64 {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("%s: seed %d", filepath.Base(path), seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var n int64
	for _, d := range data {
		b := make([]byte, d.n)
		for i := range b {
			b[i] = byte(rng.Uint32() | 1) // no zero byte: a data run is never mistaken for a hole
		}
		if _, err := f.WriteAt(b, d.off); err != nil {
			t.Fatal(err)
		}
		n += d.n
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return n
}

// allocated returns the bytes path takes on disk (stat's st_blocks).
func allocated(t testing.TB, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// sameBytes fails the test unless the files at a and b hold the same bytes.
func sameBytes(t testing.TB, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s differs from %s (%d and %d bytes)", b, a, len(y), len(x))
	}
}

// relayed sends src (a file or directory) to a receiver writing under dst
// through a relay on 127.0.0.1 that counts the bytes on the wire, and
// returns both ends' results. so and ro are the ends' options.
func relayed(t *testing.T, rl *testbin.Relay, ln net.Listener, src, dst string, so, ro Options) (sent, got Result, serr, rerr error) {
	t.Helper()
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := ln.Accept()
		if err != nil {
			rerr = err
			return
		}
		got, rerr = Receive(ctx, s, root, ro)
		s.Close()
	}()
	c, err := net.Dial("tcp", rl.Addr())
	if err != nil {
		t.Fatal(err)
	}
	so.Dialed = true
	sent, serr = Send(ctx, c, Items(items), so)
	c.Close()
	<-done
	return sent, got, serr, rerr
}

// relayTo returns a listener on 127.0.0.1 and a relay in front of it that
// meters what the sender sends.
func relayTo(t *testing.T) (net.Listener, *testbin.Relay) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, testbin.NewRelay(t, ln.Addr().String(), testbin.Push)
}

// TestSparseFilesStaySparse sends files with holes at the start, in the
// middle, at the end, and nothing but a hole, every way a body moves
// (sendfile in plaintext, read and write, inside TLS; with and without
// --verify): each arrives with the same bytes, takes no more blocks than
// its data at the receiver, and its holes never cross the wire (counted by
// the relay, not by zcopy). The data still goes by sendfile in plaintext.
func TestSparseFilesStaySparse(t *testing.T) {
	const MiB = 1 << 20
	layouts := []struct {
		name string
		data []span
	}{
		{"hole-first", []span{{6 * MiB, 2 * MiB}}},
		{"hole-middle", []span{{0, MiB}, {7 * MiB, MiB}}},
		{"hole-last", []span{{0, MiB}}},
		{"all-hole", nil},
		{"many-runs", []span{{MiB, 64 << 10}, {2 * MiB, 64 << 10}, {3*MiB + 128<<10, 4096}, {5 * MiB, 1 << 20}}},
	}
	ways := []struct {
		name      string
		o         Options
		method    zerocopy.Method // the sender's, as it reports
		plaintext bool
	}{
		{"sendfile", Options{Plaintext: true}, zerocopy.Sendfile, true},
		{"readwrite", Options{Plaintext: true, Method: zerocopy.ReadWrite}, zerocopy.ReadWrite, true},
		{"tls", Options{}, zerocopy.ReadWrite, false},
		{"tls-verify", Options{Verify: true}, zerocopy.ReadWrite, false},
		{"sendfile-verify", Options{Plaintext: true, Verify: true}, zerocopy.Sendfile, true},
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			os.Mkdir(src, 0o755)
			const size = 8 * MiB
			data := map[string]int64{}
			for _, l := range layouts {
				data[l.name] = sparseFile(t, filepath.Join(src, l.name), size, l.data...)
			}
			var all int64
			for _, n := range data {
				all += n
			}
			dst := t.TempDir()
			ln, rl := relayTo(t)
			so := w.o
			so.Method = w.o.Method
			sent, got, serr, rerr := relayed(t, rl, ln, src, dst, so, Options{Plaintext: w.plaintext, Verify: w.o.Verify})
			if serr != nil || rerr != nil {
				t.Fatalf("send: %v; receive: %v", serr, rerr)
			}
			holes := int64(len(layouts))*size - all
			for _, r := range []Result{sent, got} {
				if r.BytesSent != all || r.HoleBytes != holes || r.Files != len(layouts) {
					t.Errorf("result %+v: want %d bytes sent, %d in holes, %d files", r, all, holes, len(layouts))
				}
			}
			if sent.Method != w.method {
				t.Errorf("the sender moved the data by %v, want %v", sent.Method, w.method)
			}
			// On the wire: the data, the records, the handshake (and
			// TLS's framing): far less than one hole.
			if wire := rl.Bytes(); wire > all+all/50+64<<10 {
				t.Errorf("%d bytes on the wire for %d bytes of data (%d in holes)", wire, all, holes)
			}
			for _, l := range layouts {
				a, b := filepath.Join(src, l.name), filepath.Join(dst, "src", l.name)
				sameBytes(t, a, b)
				// ext4 allocates in 4 KiB blocks: the copy takes what
				// its data takes, rounded up, never the holes.
				if got, want := allocated(t, b), data[l.name]; got > want+int64(len(l.data)+1)*8192 {
					t.Errorf("%s takes %d bytes on disk for %d of data (source: %d)", l.name, got, want, allocated(t, a))
				}
				if fi, err := os.Stat(b); err != nil || fi.Size() != size {
					t.Errorf("%s: %v, want %d bytes", l.name, err, size)
				}
			}
		})
	}
}

// TestSparseResume interrupts a sparse file's body past its first run of
// data and continues it with Resume: the part is continued from where it
// stopped, only the data after that crosses the wire, and the file is
// whole, verified and still sparse.
func TestSparseResume(t *testing.T) {
	const MiB = 1 << 20
	src := filepath.Join(t.TempDir(), "big")
	const size = 64 * MiB
	runs := []span{{0, 4 * MiB}, {20 * MiB, 8 * MiB}, {60 * MiB, 2 * MiB}}
	all := sparseFile(t, src, size, runs...)
	dst := t.TempDir()
	ln, rl := relayTo(t)
	o := Options{Plaintext: true, Resume: true, Verify: true, Warn: func(string) {}}
	// Stop within the second run: 4 MiB of the first, 3 of the second.
	rl.Hold(7 * MiB)
	done := make(chan error, 1)
	go func() {
		_, _, serr, rerr := relayed(t, rl, ln, src, dst, o, o)
		done <- errorsJoin(serr, rerr)
	}()
	rl.Held(30 * time.Second)
	rl.Reset()
	if err := <-done; err == nil {
		t.Fatal("the interrupted transfer succeeded")
	}
	fi, err := os.Stat(filepath.Join(dst, "big"+PartSuffix))
	if err != nil {
		t.Fatalf("no part kept: %v", err)
	}
	kept := fi.Size()
	if kept <= 20*MiB || kept >= 28*MiB {
		t.Fatalf("the part holds %d bytes; want it within the second run of data (%d..%d)", kept, 20*MiB, 28*MiB)
	}
	rl.Release()
	before := rl.Bytes()
	sent, got, serr, rerr := relayed(t, rl, ln, src, dst, o, o)
	if serr != nil || rerr != nil {
		t.Fatalf("resumed: send %v, receive %v", serr, rerr)
	}
	// What is left: the end of the second run and the third.
	left := 28*MiB - kept + 2*MiB
	if sent.BytesSent != left || got.BytesSent != left {
		t.Errorf("resumed transfer sent %d (receiver: %d) bytes, want %d", sent.BytesSent, got.BytesSent, left)
	}
	if wire := rl.Bytes() - before; wire > left+64<<10 {
		t.Errorf("resumed transfer put %d bytes on the wire for %d of data", wire, left)
	}
	if !got.Verified {
		t.Error("not verified")
	}
	b := filepath.Join(dst, "big")
	sameBytes(t, src, b)
	if a := allocated(t, b); a > all+1*MiB {
		t.Errorf("the resumed copy takes %d bytes on disk for %d of data", a, all)
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// TestSparseHostileExtents feeds the receiver, from a hand-written sender,
// sparse bodies that break the rules: an extent longer than what is left
// of the body, an empty one, a record that is not an extent. Each ends the
// session as malformed, and nothing appears under the file's name, nor
// grows past the size announced.
func TestSparseHostileExtents(t *testing.T) {
	const size = 1 << 20
	tests := []struct {
		name string
		body func([]byte) []byte
	}{
		{"hole past the body", func(b []byte) []byte {
			return (&proto.Extent{Hole: true, Length: 1 << 50}).Append(b)
		}},
		{"data past the body", func(b []byte) []byte {
			b = (&proto.Extent{Hole: true, Length: size - 10}).Append(b)
			return (&proto.Extent{Length: 11}).Append(b)
		}},
		{"empty extent", func(b []byte) []byte {
			return (&proto.Extent{Hole: true, Length: 0}).Append(b)
		}},
		{"negative extent", func(b []byte) []byte {
			return (&proto.Extent{Hole: true, Length: -1}).Append(b)
		}},
		{"not an extent", func(b []byte) []byte {
			return append(b, "ZDATxxxxxxxx"...)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			root, err := os.OpenRoot(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			c, br, done := handSender(t, root, 0)
			var m []byte
			m = (&proto.Entry{Kind: proto.KindFile, Path: "f", Mode: 0o644, Size: size}).Append(m)
			m = (&proto.Entry{Kind: proto.KindEnd}).Append(m)
			c.Write(m)
			if p, err := proto.ReadPlan(br); err != nil || p.Action != proto.ActionSend {
				t.Fatalf("plan %+v, %v", p, err)
			}
			d := (&proto.DataHeader{Index: 0, Length: size, Sparse: true}).Append(nil)
			d = tc.body(d)
			d = append(d, make([]byte, 64)...)
			c.Write(d)
			err = <-done
			if err == nil || !strings.Contains(err.Error(), "malformed") {
				t.Errorf("receiver: %v; want a malformed record", err)
			}
			if _, err := os.Stat(filepath.Join(dst, "f")); err == nil {
				t.Error("a file appeared under the final name")
			}
			if fi, err := os.Stat(filepath.Join(dst, "f"+PartSuffix)); err == nil && fi.Size() > size {
				t.Errorf("the part grew to %d bytes, past the %d announced", fi.Size(), size)
			}
		})
	}
}

// TestSparseSourceTruncated truncates a sparse file while its first run
// of data is on the wire (the relay holds the transfer there): the sender
// finishes the run it announced with zeros and sends the rest of the body
// as one hole, not as zeros, so the stream stays in step; the file fails
// (never under its name) and the file after it arrives.
func TestSparseSourceTruncated(t *testing.T) {
	const MiB = 1 << 20
	src := filepath.Join(t.TempDir(), "src")
	os.Mkdir(src, 0o755)
	big := filepath.Join(src, "a-big")
	sparseFile(t, big, 96*MiB, span{0, 32 * MiB}, span{80 * MiB, 8 * MiB})
	os.WriteFile(filepath.Join(src, "b-after"), []byte("after"), 0o644)
	dst := t.TempDir()
	ln, rl := relayTo(t)
	rl.Hold(2 * MiB)
	type out struct {
		sent, got  Result
		serr, rerr error
	}
	done := make(chan out, 1)
	go func() {
		var o out
		o.sent, o.got, o.serr, o.rerr = relayed(t, rl, ln, src, dst, Options{Plaintext: true, Warn: func(string) {}}, Options{Plaintext: true, Warn: func(string) {}})
		done <- o
	}()
	rl.Held(30 * time.Second)
	if err := os.Truncate(big, MiB); err != nil {
		t.Fatal(err)
	}
	rl.Release()
	o := <-done
	if !errors.Is(o.serr, ErrFailed) || !errors.Is(o.rerr, ErrFailed) {
		t.Fatalf("send %v, receive %v; want a partial transfer", o.serr, o.rerr)
	}
	if len(o.got.Failed) != 1 || !strings.Contains(o.got.Failed[0], "truncated") {
		t.Errorf("receiver's failures %q; want a-big truncated", o.got.Failed)
	}
	if _, err := os.Stat(filepath.Join(dst, "src", "a-big")); err == nil {
		t.Error("the truncated file appeared under its name")
	}
	if b, err := os.ReadFile(filepath.Join(dst, "src", "b-after")); err != nil || string(b) != "after" {
		t.Errorf("the file after it: %q, %v", b, err)
	}
	// The first run (32 MiB) at most, padded; never the 64 MiB after it.
	if wire := rl.Bytes(); wire > 33*MiB {
		t.Errorf("%d bytes on the wire: the rest of the body went as zeros, not a hole", wire)
	}
}
