package session

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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
