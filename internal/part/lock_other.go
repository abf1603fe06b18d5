//go:build openbsd || dragonfly

package part

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Locking and Versioning say whether this system keeps a part's lock and
// version: it locks (flock(2)) but keeps no user extended attributes in
// golang.org/x/sys/unix, so no part is ever continued.
const (
	Locking    = true
	Versioning = false
)

var errNoVersions = errors.New("no user extended attributes on this system")

func lock(fd int) error {
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

func heldByOther(fd int) bool {
	if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return err == unix.EWOULDBLOCK
	}
	unix.Flock(fd, unix.LOCK_UN)
	return false
}

func putVersion(int, Version) error   { return errNoVersions }
func getVersion(int) (Version, error) { return Version{}, errNoVersions }
func dropVersion(int)                 {}
