//go:build unix

package tree

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// openDir opens the directory local for listing, refusing a symlink (one
// swapped in for a directory after its parent was listed).
func openDir(local string) (*os.File, error) {
	for {
		fd, err := unix.Open(local, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: local, Err: err}
		}
		return os.NewFile(uintptr(fd), local), nil
	}
}

// lstatAt stats the entry base of the open directory d, without following
// a symlink; the lookup is one name long, not the whole path's.
func lstatAt(d *os.File, base, local string) (stat, error) {
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
	}, nil
}
