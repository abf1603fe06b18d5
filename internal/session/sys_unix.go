//go:build unix

package session

import "golang.org/x/sys/unix"

// ignoringEINTR calls fn until it is not interrupted by a signal.
func ignoringEINTR[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != unix.EINTR {
			return v, err
		}
	}
}

// openat opens name relative to the directory dfd (unix.AT_FDCWD for the
// working directory), retrying when a signal interrupts it.
func openat(dfd int, name string, flags int, mode uint32) (int, error) {
	return ignoringEINTR(func() (int, error) { return unix.Openat(dfd, name, flags, mode) })
}
