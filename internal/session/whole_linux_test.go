package session

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/zcopy/zcopy/internal/part"
	"github.com/zcopy/zcopy/internal/proto"
)

// defaultACL encodes a default POSIX ACL granting the owner everything and
// the group and others nothing (u::rwx,g::---,o::---), as setfacl -d would.
func defaultACL() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2) // POSIX_ACL_XATTR_VERSION
	for _, e := range []struct{ tag, perm uint16 }{{0x01, 7}, {0x04, 0}, {0x20, 0}} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, 0xffffffff)
	}
	return b
}

// TestWholeModes: a file made with its mode (no fchmod) only where the
// umask and the directory's ACL leave that mode alone; every file arrives
// with the sender's mode whatever the umask or a default ACL would make of
// it.
func TestWholeModes(t *testing.T) {
	tests := []struct {
		name  string
		umask int
		acl   bool
	}{
		{"umask 022", 0o022, false},
		{"umask 077", 0o077, false},
		{"umask 0", 0, false},
		{"default ACL", 0o022, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := syscall.Umask(tc.umask)
			defer syscall.Umask(old)
			src := smallTree(t)
			dst := t.TempDir()
			if tc.acl {
				dir := filepath.Join(dst, "src", "d1")
				os.MkdirAll(dir, 0o755)
				if err := unix.Setxattr(dir, "system.posix_acl_default", defaultACL(), 0); err != nil {
					t.Skipf("this file system takes no ACL: %v", err)
				}
				// The ACL does what the test says it does.
				f := filepath.Join(dir, "probe")
				os.WriteFile(f, nil, 0o644)
				if fi, _ := os.Stat(f); fi.Mode().Perm() != 0o600 {
					t.Fatalf("a file made 0644 under the ACL is %v, want 0600", fi.Mode().Perm())
				}
				os.Remove(f)
			}
			_, got, serr, rerr := transfer(t, src, dst, Options{Overwrite: true})
			if serr != nil || rerr != nil || got.Files != 121 {
				t.Fatalf("send: %v; receive: %v; %d files", serr, rerr, got.Files)
			}
			sameTree(t, src, dst)
		})
	}
}

// placerIn returns a new directory, a root on it and a placer (which
// replaces files if overwrite), all closed when the test ends.
func placerIn(t *testing.T, overwrite bool) (dir string, root *os.Root, p *placer) {
	t.Helper()
	dir = t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	p = newPlacer(false, overwrite)
	t.Cleanup(p.stop)
	return dir, root, p
}

// TestPlaceWholeTmpfile shows the quick way ran, not its fallback: on this
// file system a fresh name is linked from an unnamed file (the placer never
// marks O_TMPFILE unusable), and with --overwrite a taken name is replaced
// by the named part.
func TestPlaceWholeTmpfile(t *testing.T) {
	dir, root, p := placerIn(t, true)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, tc := range []struct {
		name string
		body string
		mode uint32
	}{{"fresh", "first", 0o640}, {"taken", "second, longer", 0o604}} {
		e := &proto.Entry{Kind: proto.KindFile, Path: "f", Mode: tc.mode, MTime: mt.UnixNano(), Size: int64(len(tc.body))}
		if err := p.placeWhole(root, "f", e, []byte(tc.body)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p.noTmpfile.Load() {
			t.Fatalf("%s: the placer gave up O_TMPFILE on %s", tc.name, dir)
		}
		fi, err := os.Stat(filepath.Join(dir, "f"))
		b, _ := os.ReadFile(filepath.Join(dir, "f"))
		if err != nil || string(b) != tc.body || uint32(fi.Mode().Perm()) != tc.mode || !fi.ModTime().Equal(mt) {
			t.Errorf("%s: %q, %v, %v; want %q, %#o, %v", tc.name, b, fi.Mode(), fi.ModTime(), tc.body, tc.mode, mt)
		}
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Errorf("DIR holds %d entries, want only f", len(names))
	}
}

// TestPlaceWholeKeepsFileThatAppeared guards issue 12's case 7: a file
// that appears under the name after the plan said "send" (linkat's
// EEXIST) was replaced through the named part without --overwrite. It must
// be kept, the new file fail with part.ErrExist, and no part be left, by
// the quick way and by the named part alike.
func TestPlaceWholeKeepsFileThatAppeared(t *testing.T) {
	for _, named := range []bool{false, true} {
		t.Run(map[bool]string{false: "tmpfile", true: "named-part"}[named], func(t *testing.T) {
			testHookNoTmpfile = named
			t.Cleanup(func() { testHookNoTmpfile = false }) // after the placer stops
			dir, root, p := placerIn(t, false)
			if err := os.WriteFile(filepath.Join(dir, "f"), []byte("someone else's"), 0o644); err != nil {
				t.Fatal(err)
			}
			e := &proto.Entry{Kind: proto.KindFile, Path: "f", Mode: 0o644, Size: 4}
			err := p.placeWhole(root, "f", e, []byte("ours"))
			if !errors.Is(err, part.ErrExist) {
				t.Errorf("placing over a file that appeared: %v, want part.ErrExist", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "someone else's" {
				t.Errorf("the file that appeared now holds %q", b)
			}
			if names, _ := os.ReadDir(dir); len(names) != 1 {
				t.Errorf("DIR holds %d entries, want only f", len(names))
			}
		})
	}
}
