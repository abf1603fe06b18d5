//go:build unix

package tree

import (
	"io/fs"
	"os"

	"github.com/zcopy/zcopy/internal/proto"
	"golang.org/x/sys/unix"
)

// lstat stats the entry base of d (at local), without following a
// symlink; the lookup is one name long, not the whole path's.
func (d dir) lstat(base, local string) (stat, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(int(d.Fd()), base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return stat{}, &os.PathError{Op: "lstat", Path: local, Err: err}
		}
		break
	}
	var typ fs.FileMode
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		typ = fs.ModeDir
	case unix.S_IFLNK:
		typ = fs.ModeSymlink
	case unix.S_IFIFO:
		typ = fs.ModeNamedPipe
	case unix.S_IFSOCK:
		typ = fs.ModeSocket
	case unix.S_IFCHR:
		typ = fs.ModeDevice | fs.ModeCharDevice
	default:
		typ = fs.ModeDevice
	}
	return stat{
		typ:   typ,
		perm:  uint32(st.Mode) & 0o7777,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		id:    FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)},
		nlink: uint64(st.Nlink),
		owner: proto.Owner{UID: st.Uid, GID: st.Gid},
	}, nil
}
