//go:build unix

package tree

import (
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// top is a root directory of a walk, open: what is under it is opened
// beneath it (openBeneath).
type top struct{ fd int }

// openTop opens the directory path, not following a symlink at its last
// name, and returns it with its identity. The path above it is the
// user's to choose, and is followed as given.
func openTop(path string) (top, FileID, error) {
	fd, err := ignoringEINTR(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return top{}, FileID{}, &os.PathError{Op: "open", Path: path, Err: replaced(err)}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return top{}, FileID{}, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	return top{fd}, FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}

func (t top) close() { unix.Close(t.fd) }

// dir is a directory open for listing; its entries are stat'ed and read
// relative to it.
type dir struct{ *os.File }

// openDir opens the directory rel beneath t (at local) for listing.
func (t top) openDir(rel, local string) (dir, error) {
	f, err := t.open(rel, local, unix.O_RDONLY|unix.O_DIRECTORY)
	return dir{f}, err
}

// openFile opens the file rel beneath t (at local) for reading.
func (t top) openFile(rel, local string) (*os.File, error) {
	return t.open(rel, local, unix.O_RDONLY)
}

func (t top) open(rel, local string, flags int) (*os.File, error) {
	fd, err := openBeneath(t.fd, rel, flags)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: local, Err: replaced(err)}
	}
	return os.NewFile(uintptr(fd), local), nil
}

// openPath opens local by its path: as a directory to read in if dir,
// else as a file to read, not following a symlink at its last name.
func openPath(local string, dir bool) (*os.File, error) {
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if dir {
		flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	}
	fd, err := ignoringEINTR(func() (int, error) { return unix.Open(local, flags, 0) })
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: local, Err: err}
	}
	return os.NewFile(uintptr(fd), local), nil
}

// noOpenat2 is set once openat2(2) said ENOSYS (Linux before 5.6, or a
// sandbox that does not pass it on); tests set it to try the other way.
var noOpenat2 atomic.Bool

// openBeneath opens rel, a relative path of names without "." or ".."
// ("." alone for dfd itself), beneath the directory dfd: each name is
// looked up in the directory before it and no symlink is followed, not
// the last name's (O_NOFOLLOW) nor any directory's on the way. Where the
// kernel has openat2(2) (Linux 5.6) one call does it, with
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS; elsewhere, and for a path longer
// than one call takes, one openat with O_DIRECTORY|O_NOFOLLOW for each
// directory on the way, closed once the next is open.
func openBeneath(dfd int, rel string, flags int) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if fd, handled, err := openat2Beneath(dfd, rel, flags); handled {
		return fd, err
	}
	for cur := dfd; ; {
		name, rest, more := strings.Cut(rel, "/")
		fd, err := -1, error(unix.EINVAL)
		switch {
		case name == "" || name == ".." || name == "." && (more || cur != dfd):
			// Never from a walk; refused rather than resolved.
		case more:
			fd, err = openat(cur, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
		default:
			fd, err = openat(cur, name, flags)
		}
		if cur != dfd {
			unix.Close(cur)
		}
		if err != nil || !more {
			return fd, err
		}
		cur, rel = fd, rest
	}
}

// openat opens name relative to the directory dfd, retrying when a signal
// interrupts it.
func openat(dfd int, name string, flags int) (int, error) {
	return ignoringEINTR(func() (int, error) { return unix.Openat(dfd, name, flags, 0) })
}

// ignoringEINTR calls fn until it is not interrupted by a signal.
func ignoringEINTR[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// replaced turns the errors of an open beneath a root that say something
// other than a directory stands where the walk listed one (a symlink
// above all) into errReplaced; it returns other errors as they are. The
// error a symlink gives under O_NOFOLLOW depends on the system: ELOOP
// (Linux, macOS, OpenBSD, and openat2's RESOLVE_NO_SYMLINKS), EMLINK
// (FreeBSD, DragonFly), EFTYPE (NetBSD); RESOLVE_BENEATH refuses an
// escape with EXDEV.
func replaced(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case unix.ELOOP, unix.ENOTDIR, unix.EXDEV, unix.EMLINK, errFtype:
			return errReplaced
		}
	}
	return err
}
