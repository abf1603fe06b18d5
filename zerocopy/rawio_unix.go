//go:build unix

package zerocopy

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// haveRawIO reports whether the engine issues its own system calls on this
// platform (through syscall.RawConn) rather than going through io.Writer.
const haveRawIO = true

// withFile runs f with t.fd set to the file's descriptor, which is kept from
// being closed meanwhile.
func (t *transfer) withFile(f func() error) error {
	rc, err := t.file.SyscallConn()
	if err != nil {
		return err
	}
	t.frc = rc
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		t.fd = int(fd)
		ferr = f()
	}); err != nil {
		return err
	}
	return ferr
}

// readFile reads up to len(p) bytes of the file at off (pread), or at the
// file's own position when it cannot seek. It returns 0, nil at end of file.
// A source that is not a regular file may be a non-blocking pipe or socket
// (os.Open and os.NewFile make pipes and FIFOs non-blocking and put them
// on the poller): on EAGAIN it waits there, as os.File.Read would.
func (t *transfer) readFile(p []byte, off int64) (int, error) {
	if t.regular {
		// Called directly, without a closure for the poller: a regular
		// file never waits, and the common case then allocates nothing.
		var r fileRead
		t.readOnce(&r, uintptr(t.fd), p, off)
		return r.n, r.err
	}
	var r fileRead
	if err := t.frc.Read(func(fd uintptr) bool { return t.readOnce(&r, fd, p, off) }); err != nil && r.err == nil {
		r.err = &FileError{Err: err}
	}
	return r.n, r.err
}

// fileRead is what readOnce read.
type fileRead struct {
	n   int
	err error
}

// readOnce reads from fd into p at off (or in order, see readFile) into r,
// retrying EINTR; it reports false when the read should wait on the poller
// (EAGAIN on a non-blocking source).
func (t *transfer) readOnce(r *fileRead, fd uintptr, p []byte, off int64) bool {
	for {
		var err error
		if t.seq {
			r.n, err = unix.Read(int(fd), p)
		} else {
			r.n, err = unix.Pread(int(fd), p, off)
		}
		t.stats.Syscalls++
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ESPIPE && !t.seq:
			// A pipe, FIFO or socket: read it in order from where it
			// is (pread(2): ESPIPE, "fd is associated with a pipe,
			// socket, or FIFO").
			t.seq = true
			continue
		case err == unix.EAGAIN:
			r.n, r.err = 0, t.stopped()
			return r.err != nil
		case err != nil:
			name := "pread"
			if t.seq {
				name = "read"
			}
			r.n, r.err = 0, &FileError{Err: os.NewSyscallError(name, err)}
		}
		r.n = max(r.n, 0)
		return true
	}
}

// writeFile writes all of p to the file at off, or at its own position when
// off < 0. It waits on the poller if the file is a non-blocking pipe.
func (t *transfer) writeFile(p []byte, off int64) (int, error) {
	return t.writeAll(t.frc, p, func(fd int, b []byte, done int) (int, error) {
		if off < 0 {
			return unix.Write(fd, b)
		}
		return unix.Pwrite(fd, b, off+int64(done))
	})
}

// writePeer writes all of p to the peer, waiting on the poller when its
// socket buffer is full.
func (t *transfer) writePeer(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if t.conn == nil {
		t.stats.Syscalls++
		return t.w.Write(p)
	}
	return t.writeAll(t.conn, p, func(fd int, b []byte, _ int) (int, error) { return unix.Write(fd, b) })
}

// writeAll writes all of p through rc with write, which is called with the
// rest of p and the bytes already done. EINTR is retried, EAGAIN waits on
// the poller.
func (t *transfer) writeAll(rc syscall.RawConn, p []byte, write func(fd int, b []byte, done int) (int, error)) (int, error) {
	// The state lives in t and the callback is bound once per transfer:
	// a closure over locals would cost three allocations a call.
	t.wr = pendingWrite{p: p, write: write}
	if t.writeCB == nil {
		t.writeCB = t.writeSome
	}
	err := rc.Write(t.writeCB)
	w := t.wr
	t.wr = pendingWrite{}
	if w.err == nil {
		w.err = err
	}
	return w.done, w.err
}

// writeSome writes what is left of t.wr to fd, retrying EINTR; it
// reports false when the write should wait on the poller (EAGAIN).
func (t *transfer) writeSome(fd uintptr) bool {
	w := &t.wr
	for w.done < len(w.p) {
		n, err := w.write(int(fd), w.p[w.done:], w.done)
		t.stats.Syscalls++
		w.done += max(n, 0)
		switch {
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			w.err = t.stopped()
			return w.err != nil
		case err != nil:
			w.err = os.NewSyscallError("write", err)
			return true
		case n == 0:
			w.err = io.ErrShortWrite
			return true
		}
	}
	return true
}

// readPeer reads once from the peer into p, waiting on the poller while the
// socket is empty. It returns 0, io.EOF at end of stream.
func (t *transfer) readPeer(p []byte) (int, error) {
	if t.conn == nil {
		t.stats.Syscalls++
		return t.r.Read(p)
	}
	var n int
	var rerr error
	err := t.conn.Read(func(fd uintptr) bool {
		for {
			var err error
			n, err = unix.Read(int(fd), p)
			t.stats.Syscalls++
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				n, rerr = 0, t.stopped()
				return rerr != nil
			case err != nil:
				n, rerr = 0, os.NewSyscallError("read", err)
			case n == 0 && len(p) > 0:
				rerr = io.EOF
			}
			return true
		}
	})
	if rerr == nil {
		rerr = err
	}
	return n, rerr
}

// fileSize returns the file's current size (fstat).
func (t *transfer) fileSize() (int64, error) {
	var st unix.Stat_t
	err := unix.Fstat(t.fd, &st)
	t.stats.Syscalls++
	if err != nil {
		return 0, &FileError{Err: os.NewSyscallError("fstat", err)}
	}
	return st.Size, nil
}

// sendfileError is the error for sendfile(2) failing with errno after the
// body reached off in the file. sendfile reads the file and writes the
// socket in one call, and its errno does not say which of the two failed;
// a pread of one byte at off does, since a failure of the peer does not
// make it fail. The error is a FileError when the pread fails too.
func (t *transfer) sendfileError(errno error, off int64) error {
	err := os.NewSyscallError("sendfile", errno)
	var b [1]byte
	if _, rerr := t.readFile(b[:], off); rerr != nil {
		return &FileError{Err: err}
	}
	return err
}

// afterSendfile judges one round of a sendSendfile loop (Linux, Darwin,
// FreeBSD): err is the poller's error, stop the cancellation seen instead
// of a wait, serr the errno of the last sendfile(2), m the bytes the round
// moved and written the bytes moved in all. over reports that the loop
// ends, with handled and the error sendSendfile returns.
func (t *transfer) afterSendfile(err, stop, serr error, m int, written, off, n int64) (over, handled bool, _ error) {
	if err == nil {
		err = stop
	}
	switch {
	case err != nil:
		return true, true, err
	case serr != nil:
		refused := written == 0 && isRefusal(serr)
		if refused && t.auto {
			// Auto falls back; the next method meets the file's own
			// errors, if any.
			return true, false, os.NewSyscallError("sendfile", serr)
		}
		return true, !refused, t.sendfileError(serr, off+written)
	case m <= 0 && n < 0:
		return true, true, nil // end of a file of unknown size
	case m <= 0:
		return true, true, t.truncated(off, n)
	}
	return false, false, nil
}

// isRefusal reports whether err is a kernel's way of saying that a file or
// socket does not support an operation (see fallbackable).
func isRefusal(err error) bool {
	var errno unix.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.ENOSYS:
		// The system call does not exist (an old kernel, a seccomp filter
		// that refuses it), as internal/poll treats it.
		return true
	case unix.EINVAL:
		// sendfile(2), splice(2): "an mmap(2)-like operation is not
		// available for in_fd", the target is opened O_APPEND, or the
		// descriptor type is not supported (a socket as source, procfs).
		return true
	case unix.EOPNOTSUPP:
		// FreeBSD sendfile(2): the file type, socket type or protocol
		// does not support it.
		return true
	case unix.ENODEV:
		// mmap(2): "the underlying filesystem of the specified file does
		// not support memory mapping".
		return true
	case unix.ESPIPE:
		// sendfile(2), splice(2): an offset was given but the file is a
		// pipe, FIFO or socket ("Illegal seek"); ReadWrite reads it in
		// order instead.
		return true
	}
	return false
}
