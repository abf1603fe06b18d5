//go:build linux || darwin || freebsd || netbsd

package part

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Versioning says whether this system can keep a part's version: here in a
// user extended attribute, where the file system has them.
const Versioning = true

// errNoVersions reports a file system that keeps no user extended
// attributes (ENOTSUP, EOPNOTSUPP): its parts cannot be continued.
var errNoVersions = errors.New("no user extended attributes here")

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
