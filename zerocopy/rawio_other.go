//go:build !unix

package zerocopy

import (
	"errors"
	"io"
)

// haveRawIO reports whether the engine issues its own system calls on this
// platform. Here it does not: it goes through the io interfaces of the peer
// and of *os.File, and each call counts as one system call.
const haveRawIO = false

func (t *transfer) withFile(f func() error) error { return f() }

func (t *transfer) readFile(p []byte, off int64) (int, error) {
	t.stats.Syscalls++
	var n int
	var err error
	if t.seq {
		n, err = t.file.Read(p)
	} else {
		n, err = t.file.ReadAt(p, off)
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		err = &FileError{Err: err}
	}
	return n, err
}

func (t *transfer) writeFile(p []byte, off int64) (int, error) {
	t.stats.Syscalls++
	if off < 0 {
		return t.file.Write(p)
	}
	return t.file.WriteAt(p, off)
}

func (t *transfer) writePeer(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t.stats.Syscalls++
	return t.w.Write(p)
}

func (t *transfer) readPeer(p []byte) (int, error) {
	t.stats.Syscalls++
	return t.r.Read(p)
}

func isRefusal(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
