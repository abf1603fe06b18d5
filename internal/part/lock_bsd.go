//go:build darwin || freebsd || netbsd

package part

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Locking and Versioning say whether this system keeps a part's lock and
// version (flock(2) and user extended attributes).
const (
	Locking    = true
	Versioning = true
)

// errNoVersions reports a file system that keeps no user extended
// attributes (ENOTSUP, EOPNOTSUPP): its parts cannot be continued.
var errNoVersions = errors.New("no user extended attributes here")

// lock takes an exclusive flock(2) on fd without waiting. flock locks
// belong to the open file description, so two opens of one part conflict
// even within one process (flock(2)).
func lock(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

// heldByOther reports whether another open of the file holds a flock on
// it: a shared lock cannot be had without waiting.
func heldByOther(fd int) bool {
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return err == unix.EWOULDBLOCK
	}
	unix.Flock(fd, unix.LOCK_UN)
	return false
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
