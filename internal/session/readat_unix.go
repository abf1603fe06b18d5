//go:build unix

package session

import (
	"os"

	"golang.org/x/sys/unix"
)

// readFileAt reads len(b) bytes of the file at name from off into b, with
// three system calls (open, pread, close): os.Open would add four fcntl and
// an epoll_ctl to try the file on the netpoller, which for a batch of small
// files costs more than the read. It returns the bytes read; fewer than
// len(b) means the file ended early.
func readFileAt(name string, b []byte, off int64) (int, error) {
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	n := 0
	for n < len(b) {
		k, err := unix.Pread(fd, b[n:], off+int64(n))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if k <= 0 {
			break
		}
		n += k
	}
	return n, nil
}
