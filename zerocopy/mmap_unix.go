//go:build unix

package zerocopy

import (
	"errors"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

const haveMMap = true

// errMappingFault is what writeMapped returns when the mapping lost its
// pages (the file was truncated under it).
var errMappingFault = errors.New("the mapping lost its pages")

// sendMMap maps the file in windows of the chunk size and writes each window
// to the peer straight from the mapping. Before each window it checks the
// file's size, so a file that shrank between windows is caught without
// touching it; a file that shrinks during a write shows up as EFAULT from
// write(2), or as a fault when the peer's Write touches the pages in user
// space. Both become ErrTruncated.
func (t *transfer) sendMMap(off, n int64) (bool, error) {
	if !t.regular {
		return false, &FileError{Err: errors.New("mmap needs a regular file of known size")}
	}
	page := int64(os.Getpagesize())
	var written int64
	for written < n {
		if err := t.stopped(); err != nil {
			return true, err
		}
		pos := off + written
		base := pos &^ (page - 1)
		end := min(off+n, base+max(t.chunk, page))
		size, err := t.fileSize()
		if err != nil {
			return true, err
		}
		if size < end {
			return true, t.truncated(off, n)
		}
		m, err := unix.Mmap(t.fd, base, int(end-base), unix.PROT_READ, unix.MAP_SHARED)
		t.stats.Syscalls++
		if err != nil {
			err = &FileError{Err: os.NewSyscallError("mmap", err)}
			return written > 0 || !isRefusal(err), err
		}
		k, werr := t.writeMapped(m[pos-base:])
		if err := unix.Munmap(m); err != nil && werr == nil {
			werr = os.NewSyscallError("munmap", err)
		}
		t.stats.Syscalls++
		written += int64(k)
		t.advance(t.peerCall("write-mapped"), int64(k))
		if errors.Is(werr, errMappingFault) || errors.Is(werr, unix.EFAULT) {
			return true, t.truncated(off, n)
		}
		if werr != nil {
			return true, werr
		}
	}
	return true, nil
}

// writeMapped writes p, a slice of a file mapping, to the peer. A peer
// without a descriptor reads the pages in user space; if they vanished, the
// fault is turned into a panic by SetPanicOnFault and recovered here as
// errMappingFault, instead of a SIGBUS that kills the process.
func (t *transfer) writeMapped(p []byte) (n int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = errMappingFault
		}
	}()
	return t.writePeer(p)
}
