package part

import "golang.org/x/sys/unix"

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
