//go:build unix

package session

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/zcopy/zcopy/internal/tree"

	"golang.org/x/sys/unix"
)

// smallReader reads whole small files with four system calls each (openat,
// fstat, pread, close): os.Open would add four fcntl and an epoll_ctl to
// try the file on the netpoller, which for a batch of small files costs
// more than the read. It opens each file by its name in its directory,
// not following a symlink, and the directory beneath the root the file
// was listed under (tree.Item.OpenDir), kept open while files from it
// follow: neither the kernel nor a directory swapped for a symlink since
// the walk leads the read elsewhere than the tree.
type smallReader struct {
	dir string   // the directory d is open on
	d   *os.File // open while dir != ""
	dfd int      // d's descriptor
}

// readAt reads len(b) bytes of it's file from off into b. It returns the
// bytes read; fewer than len(b) means the file ended early. A file that is
// no longer the one listed (replaced, rewritten) is an error matching
// errChanged; one written while it was read (an fstat after the read
// differs in size or mtime, tree.Changed) matches errChangedWhileSent.
func (sr *smallReader) readAt(it *tree.Item, b []byte, off int64) (int, error) {
	name := it.Local
	if dir := filepath.Dir(name); sr.dir != dir {
		sr.close()
		d, err := it.OpenDir()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", name, err)
		}
		sr.dir, sr.d, sr.dfd = dir, d, int(d.Fd())
	}
	fd, err := openat(sr.dfd, filepath.Base(name), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
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
		k, err := ignoringEINTR(func() (int, error) { return unix.Pread(fd, b[n:], off+int64(n)) })
		if err != nil {
			return n, &os.PathError{Op: "read", Path: name, Err: err}
		}
		if k <= 0 {
			break
		}
		n += k
	}
	if testHookSmallRead != nil {
		testHookSmallRead(name)
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		return n, &os.PathError{Op: "fstat", Path: name, Err: err}
	}
	if after.Size != st.Size || after.Mtim != st.Mtim {
		return n, &os.PathError{Op: "send", Path: name, Err: errChangedWhileSent}
	}
	return n, nil
}

// testHookSmallRead, if set, is called with a small file's name between
// reading it and checking that it did not change meanwhile.
var testHookSmallRead func(name string)

// close closes the directory the reader holds open, if any.
func (sr *smallReader) close() {
	if sr.dir != "" {
		sr.d.Close()
		sr.dir, sr.d = "", nil
	}
}
