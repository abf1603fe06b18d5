package httpserve

import (
	"io/fs"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// versionOf reads fi's device, inode, size, and modification and status
// change times (stat(2)): the change time moves with every write,
// truncation, chmod or rename of the file, even one that sets the
// modification time back.
func versionOf(fi fs.FileInfo) version {
	v := version{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		v.dev, v.ino, v.ctime = uint64(st.Dev), uint64(st.Ino), st.Ctim.Nano()
	}
	return v
}

// openDir opens the served directory a second time, for lstatVersion.
func (c *fileCache) openDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		c.dir, c.dirfd = f, int(f.Fd())
	}
}

// lstatVersion stats name, if it is a single component, with one fstatat
// (AT_SYMLINK_NOFOLLOW) in the served directory: as safe as os.Root.Lstat,
// which walks each component of a longer name itself, and with no
// allocation. ok is false when it cannot say: a longer name, or an error,
// which the caller's os.Root.Lstat then reports.
func (c *fileCache) lstatVersion(name string) (v version, ok bool) {
	if c.dir == nil || strings.IndexByte(name, '/') >= 0 || name == "." || name == ".." {
		return v, false
	}
	var st unix.Stat_t
	if err := unix.Fstatat(c.dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return v, false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return v, false
	}
	return version{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano()}, true
}
