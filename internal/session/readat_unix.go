//go:build unix

package session

import (
	"os"

	"github.com/zcopy/zcopy/internal/tree"

	"golang.org/x/sys/unix"
)

// readFileAt reads len(b) bytes of it's file from off into b, with four
// system calls (open, fstat, pread, close): os.Open would add four fcntl and
// an epoll_ctl to try the file on the netpoller, which for a batch of small
// files costs more than the read. It returns the bytes read; fewer than
// len(b) means the file ended early. A file that is no longer the one
// listed (replaced, rewritten) is an error matching errChanged.
func readFileAt(it *tree.Item, b []byte, off int64) (int, error) {
	name := it.Local
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	id := tree.FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}
	if id != it.ID || st.Size != it.Size || st.Mtim.Nano() != it.MTime {
		return 0, &os.PathError{Op: "send", Path: name, Err: errChanged}
	}
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
