package session

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

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
