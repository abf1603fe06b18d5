package tree

import "golang.org/x/sys/unix"

// openat2Beneath opens rel beneath dfd with openat2(2), the kernel
// resolving it with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS. It does not handle
// the call (handled false) where the kernel has no openat2 (ENOSYS, and
// from then on), nor for a path longer than the kernel takes whole
// (ENAMETOOLONG): openBeneath then goes a level at a time.
func openat2Beneath(dfd int, rel string, flags int) (fd int, handled bool, err error) {
	if noOpenat2.Load() {
		return -1, false, nil
	}
	how := unix.OpenHow{Flags: uint64(flags), Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	for again := 0; ; again++ {
		fd, err = unix.Openat2(dfd, rel, &how)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && again < 8:
			// Said only when a rename races with a ".." lookup, which a
			// walk's paths do not hold (openat2(2)): try again.
			continue
		case err == unix.ENOSYS:
			noOpenat2.Store(true)
			return -1, false, nil
		case err == unix.ENAMETOOLONG:
			return -1, false, nil
		}
		return fd, true, err
	}
}
