package session

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// transfer sends the tree at src to a receiver writing under dst, over a
// real loopback connection, and returns both ends' results.
func transfer(t *testing.T, src, dst string, o Options) (sent, got Result, serr, rerr error) {
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
	c, s := tcpPair(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		got, rerr = Receive(ctx, s, root, o)
		s.Close()
	}()
	sent, serr = Send(ctx, c, Items(items), Options{Dialed: true})
	c.Close()
	<-done
	return sent, got, serr, rerr
}

// smallTree writes files small enough to be placed whole (and one that is
// not) in a few directories, with varied modes and mtimes.
func smallTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	for d := range 3 {
		dir := filepath.Join(src, fmt.Sprintf("d%d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := range 40 {
			p := filepath.Join(dir, fmt.Sprintf("f%02d", f))
			body := bytes.Repeat([]byte{byte(d), byte(f)}, f*50)
			mode := []fs.FileMode{0o644, 0o600, 0o755, 0o444, 0o4750}[f%5]
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chmod(p, mode)
			mt := time.Unix(1_600_000_000+int64(d*100+f), int64(f)*1000)
			os.Chtimes(p, mt, mt)
		}
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), (wholeMax+4096)/16)
	if err := os.WriteFile(filepath.Join(src, "big"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	return src
}

// sameTree fails unless every file under src is under dst/src with the
// same bytes, mode and mtime, and dst holds no part files.
func sameTree(t *testing.T, src, dst string) {
	t.Helper()
	n := 0
	filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(src), p)
		q := filepath.Join(dst, rel)
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(q)
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s: differs (%v)", rel, err)
			return nil
		}
		fa, _ := os.Stat(p)
		fb, _ := os.Stat(q)
		if fa.Mode() != fb.Mode() || !fa.ModTime().Equal(fb.ModTime()) {
			t.Errorf("%s: mode %v mtime %v, want %v %v", rel, fb.Mode(), fb.ModTime(), fa.Mode(), fa.ModTime())
		}
		n++
		return nil
	})
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(p, PartSuffix) || strings.HasSuffix(p, RangesSuffix)) {
			t.Errorf("left behind: %s", p)
		}
		return err
	})
	if n == 0 {
		t.Error("no files compared")
	}
}

// TestWholeFiles sends a tree of small files every way the receiver can
// place them: an unnamed file linked into place (Linux), a named part
// renamed (elsewhere, or where O_TMPFILE is missing), over files that are
// there already (where only rename replaces), with fsync and with verify.
func TestWholeFiles(t *testing.T) {
	tests := []struct {
		name      string
		noTmpfile bool
		o         Options
		existing  bool
	}{
		{name: "default"},
		{name: "named part", noTmpfile: true},
		{name: "fsync", o: Options{Fsync: true}},
		{name: "verify", o: Options{Verify: true}},
		{name: "overwrite", o: Options{Overwrite: true}, existing: true},
		{name: "overwrite named part", noTmpfile: true, o: Options{Overwrite: true}, existing: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			testHookNoTmpfile = tc.noTmpfile
			defer func() { testHookNoTmpfile = false }()
			src := smallTree(t)
			dst := t.TempDir()
			if tc.existing {
				for d := range 3 {
					os.MkdirAll(filepath.Join(dst, "src", fmt.Sprintf("d%d", d)), 0o755)
					os.WriteFile(filepath.Join(dst, "src", fmt.Sprintf("d%d/f07", d)), []byte("old and longer than the new one, by far, by far"), 0o600)
				}
			}
			sent, got, serr, rerr := transfer(t, src, dst, tc.o)
			if serr != nil || rerr != nil {
				t.Fatalf("send: %v; receive: %v", serr, rerr)
			}
			if got.Files != 121 || sent.Files != 121 || len(got.Failed) != 0 {
				t.Errorf("files: sent %d, received %d, failed %q; want 121", sent.Files, got.Files, got.Failed)
			}
			sameTree(t, src, dst)
		})
	}
}

// TestWholeRefused: a small file whose name is taken by a directory fails
// alone, with the reason, and the files after it still arrive.
func TestWholeRefused(t *testing.T) {
	for _, noTmpfile := range []bool{false, true} {
		t.Run(fmt.Sprint("noTmpfile=", noTmpfile), func(t *testing.T) {
			testHookNoTmpfile = noTmpfile
			defer func() { testHookNoTmpfile = false }()
			src := smallTree(t)
			dst := t.TempDir()
			// The plan sees a file's place free; a directory takes it before
			// the body arrives (as another writer could).
			victim := filepath.Join(dst, "src", "d1", "f03")
			var once sync.Once
			o := Options{Warn: func(string) {}, Progress: func(Progress) {
				once.Do(func() { os.MkdirAll(filepath.Join(victim, "inside"), 0o755) })
			}}
			_, got, _, rerr := transfer(t, src, dst, o)
			if rerr == nil || len(got.Failed) != 1 || !strings.Contains(got.Failed[0], "src/d1/f03") {
				t.Fatalf("receive: %v, failed %q; want one failure naming src/d1/f03", rerr, got.Failed)
			}
			t.Logf("failed: %q", got.Failed)
			if got.Files != 120 {
				t.Errorf("%d files arrived, want 120", got.Files)
			}
			if fi, err := os.Stat(victim); err != nil || !fi.IsDir() {
				t.Errorf("the directory in the way was replaced: %v", err)
			}
		})
	}
}

// TestWholeBadBodies feeds the receiver, from a hand-written sender, small
// bodies whose trailer says they are not the file (a wrong hash, a source
// that shrank or could not be read): each fails alone with its reason,
// nothing of it is written, and the honest file after it arrives.
func TestWholeBadBodies(t *testing.T) {
	good := []byte("honest bytes\n")
	tests := []struct {
		name string
		tr   proto.Trailer
		want string
	}{
		{"wrong hash", proto.Trailer{Status: proto.StatusOK, Hash: xxh3Sum([]byte("other bytes"))}, "hash mismatch"},
		{"truncated", proto.Trailer{Status: proto.StatusTruncated}, "truncated while it was sent"},
		{"read error", proto.Trailer{Status: proto.StatusReadError}, "could not read the file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			root, err := os.OpenRoot(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			c, s := tcpPair(t)
			type out struct {
				res Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := Receive(context.Background(), s, root, Options{Plaintext: true, Warn: func(string) {}}) // a sender by hand, in the clear
				s.Close()
				done <- out{res, err}
			}()
			bad := []byte("a body that is not what the trailer says")
			br := bufio.NewReader(c)
			c.Write((&proto.Hello{Version: proto.Version, Role: proto.RoleSender, Flags: proto.FlagVerify}).Append(nil))
			proto.ReadHello(br)
			c.Write((&proto.Verdict{OK: true}).Append(nil))
			proto.ReadVerdict(br)
			var m []byte
			m = (&proto.Entry{Kind: proto.KindFile, Path: "bad.txt", Mode: 0o644, Size: int64(len(bad))}).Append(m)
			m = (&proto.Entry{Kind: proto.KindFile, Path: "good.txt", Mode: 0o644, Size: int64(len(good))}).Append(m)
			m = (&proto.Entry{Kind: proto.KindEnd}).Append(m)
			c.Write(m)
			for range 2 {
				if p, err := proto.ReadPlan(br); err != nil || p.Action != proto.ActionSend {
					t.Fatalf("plan %+v, %v", p, err)
				}
			}
			var d []byte
			d = (&proto.DataHeader{Index: 0, Length: int64(len(bad))}).Append(d)
			d = append(d, bad...)
			d = tc.tr.Append(d)
			d = (&proto.DataHeader{Index: 1, Length: int64(len(good))}).Append(d)
			d = append(d, good...)
			d = (&proto.Trailer{Hash: xxh3Sum(good)}).Append(d)
			d = append(d, proto.FinMagic[:]...)
			c.Write(d)
			sum, err := proto.ReadSummary(br)
			c.Close()
			o := <-done
			if err != nil || len(sum.Failures) != 1 || sum.Failures[0].Index != 0 || !strings.Contains(sum.Failures[0].Message, tc.want) {
				t.Errorf("summary %+v, %v; want entry 0 failed with %q", sum, err, tc.want)
			}
			if o.res.Files != 1 || len(o.res.Failed) != 1 {
				t.Errorf("receiver: %d files, failed %q; want 1 and bad.txt", o.res.Files, o.res.Failed)
			}
			if b, err := os.ReadFile(filepath.Join(dst, "good.txt")); err != nil || !bytes.Equal(b, good) {
				t.Errorf("good.txt: %q, %v", b, err)
			}
			if names, _ := os.ReadDir(dst); len(names) != 1 {
				t.Errorf("DIR holds %d entries, want only good.txt: no trace of the bad body", len(names))
			}
		})
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
