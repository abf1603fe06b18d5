package session

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/zcopy/zcopy/internal/proto"
)

// receiveManifest runs a receiver on root against a hand-written sender
// that offers entries (with flags in its Hello), sends a body of 'x's for
// each entry planned for sending (none in a dry run), and ends; it
// returns the plans.
func receiveManifest(t *testing.T, root *os.Root, flags uint8, entries []proto.Entry) []proto.Plan {
	plans, _ := receiveManifestErr(t, root, flags, entries)
	return plans
}

// receiveManifestErr is receiveManifest, also returning the receiver's
// error.
func receiveManifestErr(t *testing.T, root *os.Root, flags uint8, entries []proto.Entry) ([]proto.Plan, error) {
	t.Helper()
	c, br, done := handSender(t, root, flags)
	var m []byte
	for _, e := range entries {
		m = e.Append(m)
	}
	c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(m))
	plans := make([]proto.Plan, len(entries))
	for i := range entries {
		p, err := proto.ReadPlan(br)
		if err != nil {
			t.Fatal(err)
		}
		plans[i] = p
	}
	var d []byte
	for i, p := range plans {
		if p.Action != proto.ActionSend || flags&proto.FlagDryRun != 0 {
			continue
		}
		n := entries[i].Size - p.Offset
		d = (&proto.DataHeader{Index: uint32(i), Offset: p.Offset, Length: n}).Append(d)
		d = append(d, bytes.Repeat([]byte{'x'}, int(n))...)
		d = (&proto.Trailer{}).Append(d)
	}
	c.Write(append(d, proto.FinMagic[:]...))
	if _, err := proto.ReadSummary(br); err != nil {
		t.Fatal(err)
	}
	return plans, <-done
}

// TestReceiverFollowsNoSymlink (an attack review): a sender that makes a
// symlink and then names it as a directory, or names entries under it, or
// under a symlink already in the receiving directory, must have those
// entries fail: nothing is written in, and no mode or mtime set on, the
// directory or file the link points to (the receiver took a directory it
// had made for empty, and os.Root follows links that stay inside it: a
// root-owned file became setuid and world-writable, with exit 0).
func TestReceiverFollowsNoSymlink(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []proto.Entry
		failing []int    // entries that must fail
		absent  []string // names that must not exist afterwards
	}{
		{"dir-over-its-own-symlink", []proto.Entry{
			{Kind: proto.KindDir, Path: "d", Mode: 0o755},
			{Kind: proto.KindSymlink, Path: "d/s", Target: "../victim"},
			{Kind: proto.KindDir, Path: "d/s", Mode: 0o6777, MTime: 123456789},
		}, []int{2}, nil},
		{"dir-over-its-own-symlink-to-the-root", []proto.Entry{
			{Kind: proto.KindDir, Path: "d", Mode: 0o755},
			{Kind: proto.KindSymlink, Path: "d/s", Target: ".."},
			{Kind: proto.KindDir, Path: "d/s", Mode: 0o6777, MTime: 123456789},
		}, []int{2}, nil},
		{"file-under-its-own-symlink", []proto.Entry{
			{Kind: proto.KindDir, Path: "d", Mode: 0o755},
			{Kind: proto.KindSymlink, Path: "d/s", Target: "../private"},
			{Kind: proto.KindDir, Path: "d/s", Mode: 0o777},
			{Kind: proto.KindFile, Path: "d/s/planted", Mode: 0o644, Size: 3},
		}, []int{2, 3}, []string{"private/planted"}},
		{"file-under-its-own-symlink-unnamed-parent", []proto.Entry{
			{Kind: proto.KindSymlink, Path: "s", Target: "private"},
			{Kind: proto.KindFile, Path: "s/planted", Mode: 0o644, Size: 3},
			{Kind: proto.KindFile, Path: "s/sub/planted", Mode: 0o644, Size: 3},
		}, []int{1, 2}, []string{"private/planted", "private/sub"}},
		{"file-under-a-symlink-already-there", []proto.Entry{
			{Kind: proto.KindFile, Path: "link/planted", Mode: 0o644, Size: 3},
			{Kind: proto.KindFile, Path: "link/sub/planted", Mode: 0o644, Size: 3},
		}, []int{0, 1}, []string{"private/planted", "private/sub"}},
		{"dir-at-a-symlink-already-there", []proto.Entry{
			{Kind: proto.KindDir, Path: "link", Mode: 0o777, MTime: 123456789},
			{Kind: proto.KindDir, Path: "link/sub", Mode: 0o777},
		}, []int{0, 1}, []string{"private/sub"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			os.Chmod(dst, 0o755)
			if err := os.WriteFile(filepath.Join(dst, "victim"), []byte("v"), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Mkdir(filepath.Join(dst, "private"), 0o700)
			os.Symlink("private", filepath.Join(dst, "link"))
			before := modes(t, dst, "victim", "private", ".")
			root, err := os.OpenRoot(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			plans := receiveManifest(t, root, 0, tc.entries)
			for _, i := range tc.failing {
				if plans[i].Action != proto.ActionFail {
					t.Errorf("%s (%v): planned %v, want fail", tc.entries[i].Path, tc.entries[i].Kind, plans[i].Action)
				}
			}
			after := modes(t, dst, "victim", "private", ".")
			for name, m := range before {
				if after[name] != m {
					t.Errorf("%s: mode and mtime %v, were %v: set through a symlink", name, after[name], m)
				}
			}
			for _, n := range tc.absent {
				if _, err := os.Lstat(filepath.Join(dst, n)); err == nil {
					t.Errorf("%s was made through a symlink", n)
				}
			}
		})
	}
}

// modes returns the mode and mtime of each name under dir (the mode only
// of ".", in which the transfer makes names).
func modes(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		m[n] = fi.Mode().String()
		if n != "." {
			m[n] += " " + fi.ModTime().String()
		}
	}
	return m
}

// TestReceiverSetsDirModes: the directories a transfer makes get their
// mode and mtime, set through the directory opened (no symlink followed).
func TestReceiverSetsDirModes(t *testing.T) {
	root := tempRoot(t)
	dst := root.Name()
	receiveManifest(t, root, 0, []proto.Entry{
		{Kind: proto.KindDir, Path: "d", Mode: 0o750, MTime: 123456789e9},
		{Kind: proto.KindDir, Path: "d/e", Mode: 0o700, MTime: 223456789e9},
		{Kind: proto.KindFile, Path: "d/e/f", Mode: 0o644, Size: 3},
	})
	for _, c := range []struct {
		path  string
		mode  os.FileMode
		mtime int64
	}{{"d", 0o750, 123456789}, {"d/e", 0o700, 223456789}} {
		fi, err := os.Stat(filepath.Join(dst, c.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode || fi.ModTime().Unix() != c.mtime {
			t.Errorf("%s: %v %v, want %v at %d", c.path, fi.Mode().Perm(), fi.ModTime().Unix(), c.mode, c.mtime)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dst, "d/e/f")); err != nil || string(b) != "xxx" {
		t.Errorf("d/e/f: %q, %v", b, err)
	}
}

// TestRefusedTypeNamed: a file whose name holds something else is refused
// with that thing named in words ("a symbolic link"), not as a mode string
// ("a L---------", an attack review).
func TestRefusedTypeNamed(t *testing.T) {
	dst := t.TempDir()
	os.Symlink("elsewhere", filepath.Join(dst, "f"))
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	plans := receiveManifest(t, root, 0, []proto.Entry{
		{Kind: proto.KindFile, Path: "f", Mode: 0o644, Size: 3},
	})
	if want := "exists and is a symbolic link, not a file"; plans[0].Action != proto.ActionFail || plans[0].Message != want {
		t.Errorf("plan %v %q, want fail %q", plans[0].Action, plans[0].Message, want)
	}
}

// TestDryRunFollowsNoSymlink: a dry run plans an entry under a symlink in
// the receiving directory as the transfer would, failed (it looked through
// the link, and said it would send).
func TestDryRunFollowsNoSymlink(t *testing.T) {
	dst := t.TempDir()
	os.Mkdir(filepath.Join(dst, "private"), 0o700)
	os.Mkdir(filepath.Join(dst, "private", "sub"), 0o700)
	os.Symlink("private", filepath.Join(dst, "link"))
	root, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	entries := []proto.Entry{
		{Kind: proto.KindFile, Path: "link/planted", Mode: 0o644, Size: 3},
		{Kind: proto.KindFile, Path: "link/sub/planted", Mode: 0o644, Size: 3},
	}
	for i, p := range receiveManifest(t, root, proto.FlagDryRun, entries) {
		if p.Action != proto.ActionFail {
			t.Errorf("%s: planned %v in a dry run, want fail", entries[i].Path, p.Action)
		}
	}
}

// TestRefusalCountsAsFailure (an attack review): a symlink or a hard link
// refused because its name holds something else is a failure at the
// receiver too, as a refused file is: the receiver exited 0 while the
// sender exited 23, and --delete went on to remove names.
func TestRefusalCountsAsFailure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []proto.Entry
		refused int
	}{
		{"symlink-differs", []proto.Entry{
			{Kind: proto.KindSymlink, Path: "l", Target: "y"},
		}, 0},
		{"hardlink-differs", []proto.Entry{
			{Kind: proto.KindFile, Path: "f", Mode: 0o644, Size: 3},
			{Kind: proto.KindHardlink, Path: "b", Link: 0},
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			os.Symlink("x", filepath.Join(dst, "l"))
			os.WriteFile(filepath.Join(dst, "b"), []byte("other"), 0o644)
			root, err := os.OpenRoot(dst)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			plans, err := receiveManifestErr(t, root, 0, tc.entries)
			if p := plans[tc.refused]; p.Action != proto.ActionRefuse {
				t.Fatalf("%s: planned %v, want refuse", tc.entries[tc.refused].Path, p.Action)
			}
			if !errors.Is(err, ErrFailed) {
				t.Errorf("receiver: %v; want ErrFailed for the refused entry", err)
			}
		})
	}
}

// TestLinkFollowsNoSymlink (an attack review): a hard link is made through
// its directories opened following no symlink. A directory on the way,
// swapped for a link to another directory between the plan and the end of
// the data phase (by another session's --delete and symlink, or a local
// user), had the file there replaced by the link (with --overwrite).
func TestLinkFollowsNoSymlink(t *testing.T) {
	root := tempRoot(t)
	dst := root.Name()
	os.Mkdir(filepath.Join(dst, "loot"), 0o755)
	loot := filepath.Join(dst, "loot", "x")
	os.WriteFile(loot, []byte("precious"), 0o600)
	c, br, done := handSenderWith(t, root, 0, Options{Plaintext: true, Overwrite: true, Warn: func(string) {}})
	entries := []proto.Entry{
		{Kind: proto.KindDir, Path: "top", Mode: 0o755},
		{Kind: proto.KindDir, Path: "top/sub", Mode: 0o755},
		{Kind: proto.KindFile, Path: "top/f", Mode: 0o644, Size: 4},
		{Kind: proto.KindHardlink, Path: "top/sub/x", Link: 2},
	}
	var m []byte
	for _, e := range entries {
		m = e.Append(m)
	}
	c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(m))
	for range entries {
		if _, err := proto.ReadPlan(br); err != nil {
			t.Fatal(err)
		}
	}
	d := (&proto.DataHeader{Index: 2, Length: 4}).Append(nil)
	d = append(d, "EVIL"...)
	c.Write((&proto.Trailer{}).Append(d))
	// The swap, before the data phase ends.
	sub := filepath.Join(dst, "top", "sub")
	if err := os.RemoveAll(sub); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../loot", sub); err != nil {
		t.Fatal(err)
	}
	c.Write(proto.FinMagic[:])
	proto.ReadSummary(br)
	if err := <-done; !errors.Is(err, ErrFailed) {
		t.Errorf("receiver: %v; want ErrFailed for the link that could not be made", err)
	}
	if b, err := os.ReadFile(loot); err != nil || string(b) != "precious" {
		t.Errorf("loot/x, never named: %q, %v; want it untouched", b, err)
	}
}
