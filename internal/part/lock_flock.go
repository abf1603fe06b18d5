//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The systems that lock parts with flock(2): every one part_posix.go
// covers but Linux, which uses open file description locks (lock_linux.go).

package part

import "golang.org/x/sys/unix"

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
