package part

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Locking and Versioning say whether this system keeps a part's lock and
// version (open file description locks and user extended attributes).
const (
	Locking    = true
	Versioning = true
)

// errNoVersions reports a file system that keeps no user extended
// attributes (ENOTSUP, EOPNOTSUPP): its parts cannot be continued.
var errNoVersions = errors.New("no user extended attributes here")

// wholeFile is the lock's range: the whole file.
var wholeFile = unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}

// lock takes an exclusive open file description lock on all of fd
// without waiting (fcntl F_OFD_SETLK, Linux 3.15). Such locks conflict
// between two opens of one file even within one process, as flock(2)'s
// do, and unlike flock(2) they are real POSIX locks on NFS, where the
// client emulates flock with per-process POSIX locks (fcntl(2), "Open
// file description locks").
func lock(fd int) error {
	for {
		lk := wholeFile
		err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
		switch err {
		case unix.EINTR:
			continue
		case unix.EACCES:
			return unix.EAGAIN
		}
		return err
	}
}

// heldByOther reports whether another open of the file holds a lock on
// it (F_OFD_GETLK, which needs no write access to fd).
func heldByOther(fd int) bool {
	lk := wholeFile
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != unix.F_UNLCK
}

func putVersion(fd int, v Version) error {
	err := unix.Fsetxattr(fd, xattrName, v.encode(), 0)
	if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
		return errNoVersions
	}
	return err
}

func getVersion(fd int) (Version, error) {
	var b [32]byte
	n, err := unix.Fgetxattr(fd, xattrName, b[:])
	switch {
	case err == unix.ENOTSUP || err == unix.EOPNOTSUPP:
		return Version{}, errNoVersions
	case err != nil:
		return Version{}, err
	}
	v, ok := decodeVersion(b[:n])
	if !ok {
		return Version{}, errors.New("the part's version record is malformed")
	}
	return v, nil
}

// dropVersion removes the version record, which belongs to the part and
// not to the file placed from it.
func dropVersion(fd int) { unix.Fremovexattr(fd, xattrName) }
