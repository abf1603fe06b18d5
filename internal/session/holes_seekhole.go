//go:build darwin || freebsd || linux

package session

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// mayHaveHoles reports whether fi's file takes fewer bytes on disk than
// its size: a file without holes never does (compressed or deduplicated
// file systems can say yes for a dense file, which then costs one lseek).
func mayHaveHoles(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode().IsRegular() && int64(st.Blocks)*512 < fi.Size()
}

// nextData returns the first run of data at or after off and before end,
// as [start, stop). ok is false when none is left (the rest is a hole).
// Any error but ENXIO ("no data past off") says the system cannot tell: the
// rest is then data, which is never wrong, only not sparse.
func nextData(f *os.File, off, end int64) (start, stop int64, ok bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return off, end, true
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		// Seek moves the descriptor's offset, which nothing else uses:
		// the engine reads at explicit offsets (pread, sendfile's).
		start, serr = unix.Seek(int(fd), off, unix.SEEK_DATA)
		if serr == nil {
			stop, serr = unix.Seek(int(fd), start, unix.SEEK_HOLE)
		}
	})
	switch {
	case cerr != nil:
		return off, end, true
	case serr == unix.ENXIO:
		return end, end, false
	case serr != nil || start < off || stop <= start:
		return off, end, true
	case start >= end:
		return end, end, false
	}
	return start, min(stop, end), true
}
