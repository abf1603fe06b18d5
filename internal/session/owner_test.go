package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zcopy/zcopy/internal/proto"
	"github.com/zcopy/zcopy/internal/tree"
)

// ownerIDs returns path's owner and group, not following a symlink.
func ownerIDs(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Uid, st.Gid
}

// TestOwnerKept (as root) sends a tree whose file, set-user-ID file,
// directory and symlink belong to another user, with --owner at both
// ends: each arrives with its owner and group, and the set-user-ID bit
// that chown clears is set again. A receiver not running as root keeps
// its own owner and says why; one that does not take owners refuses the
// sender.
func TestOwnerKept(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	const uid, gid = 65534, 65533
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(filepath.Join(src, "dir"), 0o755)
	os.WriteFile(filepath.Join(src, "dir", "f"), []byte("f"), 0o644)
	os.WriteFile(filepath.Join(src, "suid"), []byte("#!/bin/true\n"), 0o755)
	os.Chmod(filepath.Join(src, "suid"), 0o4755|os.ModeSetuid)
	os.Symlink("dir/f", filepath.Join(src, "link"))
	for _, p := range []string{"", "dir", "dir/f", "suid", "link"} {
		if err := os.Lchown(filepath.Join(src, p), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(src, "suid"), 0o755|os.ModeSetuid) // chown cleared it
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, recvOwner bool, warn func(string)) (string, error, error) {
		dst := t.TempDir()
		root, _ := os.OpenRoot(dst)
		defer root.Close()
		c, s := tcpPair(t)
		done := make(chan error, 1)
		go func() {
			_, err := Receive(context.Background(), s, root, Options{Plaintext: true, Owner: recvOwner, Warn: warn})
			s.Close()
			done <- err
		}()
		_, serr := Send(context.Background(), c, Items(items), Options{Plaintext: true, Dialed: true, Owner: true})
		return dst, serr, <-done
	}
	t.Run("root", func(t *testing.T) {
		dst, serr, rerr := run(t, true, func(string) {})
		if serr != nil || rerr != nil {
			t.Fatalf("send %v, receive %v", serr, rerr)
		}
		for _, p := range []string{"src", "src/dir", "src/dir/f", "src/suid", "src/link"} {
			if u, g := ownerIDs(t, filepath.Join(dst, p)); u != uid || g != gid {
				t.Errorf("%s: owner %d:%d, want %d:%d", p, u, g, uid, gid)
			}
		}
		if fi, err := os.Stat(filepath.Join(dst, "src", "suid")); err != nil || fi.Mode()&os.ModeSetuid == 0 {
			t.Errorf("suid: %v, %v; want the set-user-ID bit kept", fi.Mode(), err)
		}
	})
	t.Run("not root", func(t *testing.T) {
		geteuid = func() int { return 1000 }
		defer func() { geteuid = os.Geteuid }()
		var said []string
		dst, serr, rerr := run(t, true, func(s string) { said = append(said, s) })
		if serr != nil || rerr != nil {
			t.Fatalf("send %v, receive %v", serr, rerr)
		}
		if u, _ := ownerIDs(t, filepath.Join(dst, "src", "dir", "f")); u != 0 {
			t.Errorf("owner %d, want the receiver's (0)", u)
		}
		if !strings.Contains(strings.Join(said, "\n"), "does not run as root") {
			t.Errorf("the receiver did not say why: %q", said)
		}
	})
	t.Run("receiver does not take owners", func(t *testing.T) {
		_, serr, rerr := run(t, false, func(string) {})
		if serr == nil || rerr == nil || !strings.Contains(serr.Error(), "--owner") {
			t.Errorf("send %v, receive %v; want a refusal naming --owner", serr, rerr)
		}
	})
}

// TestSetuidOnlyWithOwner (an attack review): a receiver running as root
// gives a file its set-user-ID and set-group-ID bits only with --owner,
// and only once the file has the sender's owner. Without --owner the
// sender's programs arrived setuid root; with it, a file sat setuid root
// under its final name until the data phase was over, and for good when
// the transfer was cut before it was.
func TestSetuidOnlyWithOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the fault is a root receiver's")
	}
	const uid, gid = 65534, 65533
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	tool := filepath.Join(src, "tool")
	os.WriteFile(tool, []byte("#!/bin/true\n"), 0o755)
	os.Lchown(tool, uid, gid)
	os.Chmod(tool, 0o755|os.ModeSetuid|os.ModeSetgid)
	items, err := tree.Walk([]string{src}, func(string) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("without-owner", func(t *testing.T) {
		dst := t.TempDir()
		root, _ := os.OpenRoot(dst)
		defer root.Close()
		var said []string
		c, done := receiveOn(t, root, Options{Plaintext: true, Warn: func(s string) { said = append(said, s) }})
		if _, err := Send(context.Background(), c, Items(items), Options{Plaintext: true, Dialed: true}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dst, "src", "tool"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 || fi.Mode().Perm() != 0o755 {
			t.Errorf("tool arrived %v owned by the receiver; want 0755, without set-user-ID or set-group-ID", fi.Mode())
		}
		if !strings.Contains(strings.Join(said, "\n"), "without its set-user-ID and set-group-ID bits") {
			t.Errorf("the receiver did not say the bits were dropped: %q", said)
		}
	})
	t.Run("owner-cut-before-the-end", func(t *testing.T) {
		// A hand-written sender with owners sends the file's body, then
		// closes without ending the session: the file is placed, and its
		// owner never comes.
		dst := t.TempDir()
		root, _ := os.OpenRoot(dst)
		defer root.Close()
		c, br, done := handSenderWith(t, root, proto.FlagOwner, Options{Plaintext: true, Owner: true, Warn: func(string) {}})
		body := []byte("#!/bin/true\n")
		m := (&proto.Entry{Kind: proto.KindFile, Path: "tool", Mode: 0o6755, Size: int64(len(body)), MTime: 1e18}).Append(nil)
		m = (&proto.Owner{UID: uid, GID: gid}).Append(m)
		c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(m))
		if p, err := proto.ReadPlan(br); err != nil || p.Action != proto.ActionSend {
			t.Fatalf("plan %v, %v", p, err)
		}
		d := (&proto.DataHeader{Index: 0, Length: int64(len(body))}).Append(nil)
		d = append(d, body...)
		c.Write((&proto.Trailer{}).Append(d))
		// Placed whole while the session still runs.
		var fi os.FileInfo
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if fi, err = os.Stat(filepath.Join(dst, "tool")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the file was not placed")
			}
		}
		c.Close()
		if err := <-done; err == nil {
			t.Fatal("a cut session reported no error")
		}
		if fi.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
			t.Errorf("tool left %v owned by root after a cut session; want no set-user-ID or set-group-ID", fi.Mode())
		}
	})
}

// TestOwnerFollowsNoSymlink (an attack review): --owner changes a name
// only if it is still what its entry made, reached through directories
// opened following no symlink. A file planned as skipped, then replaced
// in the same manifest by a symlink to another file (--overwrite), had
// that other file made setuid 7777.
func TestOwnerFollowsNoSymlink(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: --owner changes owners only as root")
	}
	dst := t.TempDir()
	x, victim := filepath.Join(dst, "x"), filepath.Join(dst, "victim")
	os.WriteFile(x, []byte("xxxxxx"), 0o644)
	mt := time.Unix(1e9, 0)
	os.Chtimes(x, mt, mt)
	os.WriteFile(victim, []byte("v"), 0o755)
	root, _ := os.OpenRoot(dst)
	defer root.Close()
	c, br, done := handSenderWith(t, root, proto.FlagOwner, Options{Plaintext: true, Owner: true, Overwrite: true, Warn: func(string) {}})
	ow := proto.Owner{UID: 1234, GID: 1234}
	m := (&proto.Entry{Kind: proto.KindFile, Path: "x", Mode: 0o7777, Size: 6, MTime: mt.UnixNano()}).Append(nil)
	m = ow.Append(m)
	m = (&proto.Entry{Kind: proto.KindSymlink, Path: "x", Target: "victim"}).Append(m)
	m = ow.Append(m)
	c.Write((&proto.Entry{Kind: proto.KindEnd}).Append(m))
	for range 2 {
		if _, err := proto.ReadPlan(br); err != nil {
			t.Fatal(err)
		}
	}
	c.Write(proto.FinMagic[:])
	proto.ReadSummary(br)
	<-done
	fi, err := os.Stat(victim)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ownerIDs(t, victim); fi.Mode() != 0o755 || u != 0 {
		t.Errorf("victim, never named: %v owned by %d; want 0755 owned by root", fi.Mode(), u)
	}
}
