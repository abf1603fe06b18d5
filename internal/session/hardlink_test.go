package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// inode returns path's inode and link count.
func inode(t *testing.T, path string) (ino, nlink uint64) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return uint64(st.Ino), uint64(st.Nlink)
}

// linkedTree makes src with a file of three names (one in a directory),
// a small file of two, and a plain file; it returns src.
func linkedTree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	big := strings.Repeat("0123456789abcdef", (wholeMax+4096)/16) // through a part, not whole
	for name, body := range map[string]string{"big": big, "small": "small", "plain": "plain"} {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for old, names := range map[string][]string{"big": {"big2", "sub/big3"}, "small": {"sub/small2"}} {
		for _, n := range names {
			if err := os.Link(filepath.Join(src, old), filepath.Join(src, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return src
}

// TestHardLinksArrive sends a tree whose files have several names, with
// hard links on, in plaintext and inside TLS, then again onto what
// arrived (everything is there: nothing moves, the links stay): each
// file's bytes cross once, and its names at the receiver are one inode.
func TestHardLinksArrive(t *testing.T) {
	for _, plain := range []bool{true, false} {
		name := map[bool]string{true: "plaintext", false: "tls"}[plain]
		t.Run(name, func(t *testing.T) {
			src := linkedTree(t)
			items, err := tree.Walk([]string{src}, func(string) {})
			if err != nil {
				t.Fatal(err)
			}
			items = tree.HardLinks(items)
			dst := t.TempDir()
			o := Options{Plaintext: plain, Warn: func(string) {}}
			for run := range 2 {
				root, _ := os.OpenRoot(dst)
				c, s := tcpPair(t)
				done := make(chan Result, 1)
				go func() {
					res, err := Receive(context.Background(), s, root, o)
					if err != nil {
						t.Errorf("receive: %v", err)
					}
					s.Close()
					done <- res
				}()
				so := o
				so.Dialed = true
				sent, err := Send(context.Background(), c, Items(items), so)
				got := <-done
				root.Close()
				if err != nil {
					t.Fatalf("run %d: send: %v", run, err)
				}
				fi, _ := os.Stat(filepath.Join(src, "big"))
				wantBytes := fi.Size() + int64(len("small")+len("plain"))
				if run == 1 {
					wantBytes = 0
				}
				if sent.BytesSent != wantBytes || got.BytesSent != wantBytes || sent.Hardlinks != 3 || got.Hardlinks != 3 {
					t.Errorf("run %d: sender %+v, receiver %+v: want %d bytes sent and 3 hard links", run, sent, got, wantBytes)
				}
			}
			for first, others := range map[string][]string{"big": {"big2", "sub/big3"}, "small": {"sub/small2"}} {
				ino, n := inode(t, filepath.Join(dst, "src", first))
				if n != uint64(len(others)+1) {
					t.Errorf("%s has %d names, want %d", first, n, len(others)+1)
				}
				for _, o := range others {
					if i, _ := inode(t, filepath.Join(dst, "src", o)); i != ino {
						t.Errorf("%s is not %s", o, first)
					}
				}
			}
			sameTree(t, src, dst)
		})
	}
}

// TestHardLinksOverStreams: Partition puts a hard link and the file it
// names (even one large enough to be cut into ranges) on stream 0, and
// the link's index is the file's there.
func TestHardLinksOverStreams(t *testing.T) {
	items := []tree.Item{
		{Entry: proto.Entry{Kind: proto.KindDir, Path: "d"}},
		{Entry: proto.Entry{Kind: proto.KindFile, Path: "d/small", Size: 10}},
		{Entry: proto.Entry{Kind: proto.KindFile, Path: "d/huge", Size: 4 * splitMin}},
		{Entry: proto.Entry{Kind: proto.KindFile, Path: "d/other", Size: 4 * splitMin}},
		{Entry: proto.Entry{Kind: proto.KindHardlink, Path: "d/huge2", Link: 2}},
	}
	parts := Partition(items, 3)
	var link, huge = -1, -1
	for i, it := range parts[0] {
		switch it.Path {
		case "d/huge2":
			link = i
		case "d/huge":
			huge = i
			if it.Kind != proto.KindFile {
				t.Errorf("the linked file was cut: %v", it.Kind)
			}
		}
	}
	if link < 0 || huge < 0 || int(parts[0][link].Link) != huge {
		t.Fatalf("stream 0: %+v; want the link naming the whole file", parts[0])
	}
	ranges := 0
	for _, p := range parts {
		for _, it := range p {
			if it.Kind == proto.KindRange {
				ranges++
			}
		}
	}
	if ranges != 3 {
		t.Errorf("%d ranges, want the unlinked large file in 3", ranges)
	}
}

// TestHardLinksHostile feeds the receiver hard links that name no file
// sent before them (a later entry, a directory, itself, an index past the
// manifest): each fails alone, nothing is linked, and the session goes on.
func TestHardLinksHostile(t *testing.T) {
	dst := t.TempDir()
	root, _ := os.OpenRoot(dst)
	defer root.Close()
	c, br, done := handSender(t, root, 0)
	var m []byte
	entries := []proto.Entry{
		{Kind: proto.KindDir, Path: "d", Mode: 0o755},
		{Kind: proto.KindHardlink, Path: "forward", Link: 5},
		{Kind: proto.KindHardlink, Path: "to-dir", Link: 0},
		{Kind: proto.KindHardlink, Path: "self", Link: 3},
		{Kind: proto.KindHardlink, Path: "past", Link: 1 << 31},
		{Kind: proto.KindFile, Path: "f", Mode: 0o644, Size: 1},
	}
	for _, e := range entries {
		m = e.Append(m)
	}
	c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(m))
	for i := range entries {
		p, err := proto.ReadPlan(br)
		if err != nil {
			t.Fatal(err)
		}
		if e := entries[i]; e.Kind == proto.KindHardlink && p.Action != proto.ActionFail {
			t.Errorf("%s: planned %v, want fail", e.Path, p.Action)
		}
	}
	d := (&proto.DataHeader{Index: 5, Length: 1}).Append(nil)
	d = append(d, 'x')
	d = (&proto.Trailer{}).Append(d)
	c.Write(append(d, proto.FinMagic[:]...))
	sum, err := proto.ReadSummary(br)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("the receiver reported no failure")
	}
	for _, f := range sum.Failures {
		if f.Index == SessionFailure {
			t.Errorf("the session failed: %s", f.Message)
		}
	}
	for _, n := range []string{"forward", "to-dir", "self", "past"} {
		if _, err := os.Lstat(filepath.Join(dst, n)); err == nil {
			t.Errorf("%s was made", n)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(b) != "x" {
		t.Errorf("f: %q, %v", b, err)
	}
}
