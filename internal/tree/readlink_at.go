//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package tree

import (
	"os"

	"golang.org/x/sys/unix"
)

// readlink reads the target of the symlink base in d (at local).
func (d dir) readlink(base, local string) (string, error) {
	b := make([]byte, 256)
	for {
		n, err := readlinkat(int(d.Fd()), base, b)
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
