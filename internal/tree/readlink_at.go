//go:build linux || darwin || freebsd || netbsd || openbsd

package tree

import (
	"os"

	"golang.org/x/sys/unix"
)

// readlinkAt reads the target of the symlink base in the open directory d
// (at local).
func readlinkAt(d *os.File, base, local string) (string, error) {
	b := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(int(d.Fd()), base, b)
		switch {
		case err == unix.EINTR:
		case err != nil:
			return "", &os.PathError{Op: "readlink", Path: local, Err: err}
		case n < len(b):
			return string(b[:n]), nil
		default: // perhaps cut short: try again with room to spare
			b = make([]byte, 2*len(b))
		}
	}
}
