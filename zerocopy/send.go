package zerocopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// SendFile writes n bytes of src, starting at offset off, to dst, by the
// method opts asks for (Auto when opts is nil). It never moves src's own file
// position, so several sends may share one *os.File at once.
//
// If n is negative, SendFile sends to the end of the file as it is when the
// call starts; for a file that is not regular (a pipe, a FIFO, a character
// device, a socket) or that reports size 0 (a /proc file) it sends until the
// file reports end of file, reading a source that cannot seek in order from
// where it stands. Auto takes the fast paths only where they serve such a
// source and falls back to ReadWrite, before any byte moved, where the
// kernel refuses them.
//
// The fast paths need dst to expose a file descriptor (syscall.Conn, as
// *net.TCPConn, *net.UnixConn and *os.File do); any other writer is served
// by ReadWrite, and Auto picks it. If dst has a SetWriteDeadline method,
// cancelling ctx (or, with SendOptions.Lease, a broken lease) wakes a send
// parked on a full socket buffer by setting a write deadline in the past,
// which SendFile leaves in place: reset it before writing to dst again. A
// deadline that the caller moves meanwhile (from Progress, say) does not
// undo the cancellation: the send checks ctx before each system call that
// moves data and before each wait.
//
// SendFile returns the statistics of the transfer even when it fails. The
// error is an *Error naming the file and the method; it matches
// ErrRange when [off, off+n) is not in the file (nothing was sent),
// ErrTruncated when the file shrank during the send, ErrLeaseBroken when a
// writer broke the lease, ctx's error when ctx was cancelled, and
// errors.ErrUnsupported when the method does not exist on this platform;
// it holds a *FileError when the file, not the peer, failed.
func SendFile(ctx context.Context, dst io.Writer, src *os.File, off, n int64, opts *SendOptions) (Stats, error) {
	// The transfer comes from a pool and holds the figures itself: a
	// send of a small file then allocates nothing for its bookkeeping.
	t := getTransfer()
	defer putTransfer(t)
	var err error
	if m, ok := gatherAtOnce(ctx, opts, off, n); ok {
		err = t.sendSmall(ctx, dst, src, off, m, opts)
	} else {
		err = t.send(ctx, dst, src, off, n, opts)
	}
	return t.st, err
}

// send is SendFile on t, fresh from getTransfer; its figures go to t.st.
func (t *transfer) send(ctx context.Context, dst io.Writer, src *os.File, off, n int64, opts *SendOptions) (err error) {
	var o SendOptions
	if opts != nil {
		o = *opts
	}
	st := t.stats
	start := monotonic()
	st.Method = o.Method
	defer func() {
		st.Duration = monotonic() - start
		if err != nil {
			err = &Error{Op: "send", Path: src.Name(), Method: st.Method, Err: err}
		}
	}()

	if off < 0 {
		return fmt.Errorf("%w: negative offset %d", ErrRange, off)
	}
	if !Supported(o.Method, true) {
		return unsupported(o.Method)
	}
	fi := o.Info
	if fi == nil {
		fi, err = src.Stat()
		st.Syscalls++
		if err != nil {
			return &FileError{Err: err}
		}
	}
	// A regular file of size 0 may be a procfs or sysfs file whose size is
	// unknown until read (os.ReadFile copes with them the same way): sent
	// whole, it is streamed until end of file.
	regular := fi.Mode().IsRegular() && !(fi.Size() == 0 && n < 0)
	if regular {
		size := fi.Size()
		switch {
		case off > size:
			return fmt.Errorf("%w: offset %d is past the end (%d bytes)", ErrRange, off, size)
		case n < 0:
			n = size - off
		case off+n > size:
			return fmt.Errorf("%w: the range %d+%d ends past the end (%d bytes)", ErrRange, off, n, size)
		}
	}

	wantLease := regular && o.Lease
	parent := ctx
	cancel := func(error) {}
	if wantLease || ctx.Done() != nil {
		ctx, cancel = context.WithCancelCause(parent)
		defer cancel(nil)
	}
	t.ctx = ctx
	t.auto = o.Method == Auto
	t.file = src
	t.regular = regular
	t.chunk = o.chunk()
	t.bufSize = bufferSize(o.BufferSize)
	t.progress = o.Progress
	t.conn = rawConn(dst)
	if t.conn == nil {
		t.w = dst
	}
	if d, ok := dst.(interface{ SetWriteDeadline(time.Time) error }); ok && ctx.Done() != nil {
		defer wakeOnCancel(ctx, d.SetWriteDeadline)()
	}
	if !regular && ctx.Done() != nil {
		// A pipe or socket source may park the send on the poller too.
		defer wakeOnCancel(ctx, src.SetReadDeadline)()
	}

	err = t.withFile(func() error {
		if wantLease {
			h, err := acquireLease(t, func() { cancel(ErrLeaseBroken) })
			if err != nil {
				st.LeaseNote = err.Error()
			} else {
				st.Lease = true
				defer h.release(t)
			}
		}
		if t.gathers(&o, n) {
			return t.sendGathered(o.Header, off, n, o.Trailer)
		}
		if (len(o.Header) > 0 || len(o.Trailer) > 0) && !o.NoCork && t.conn != nil {
			if uncork, err := t.cork(); err == nil {
				st.Corked = true
				defer uncork()
			}
		}
		if _, err := t.writePeer(o.Header); err != nil {
			return fmt.Errorf("header: %w", err)
		}
		if err := t.sendBody(o.Method, off, n); err != nil {
			return err
		}
		if _, err := t.writePeer(o.Trailer); err != nil {
			return fmt.Errorf("trailer: %w", err)
		}
		return nil
	})
	st.Bytes = t.done
	return t.cancelError(parent, err, n)
}

// sendBody moves the body by method m, or for Auto by the first of the
// platform's candidates that does not refuse it.
func (t *transfer) sendBody(m Method, off, n int64) error {
	return t.byMethods(m, t.autoSendMethods(), func(c Method) (bool, error) { return t.sendBy(c, off, n) })
}

// autoSendMethods lists the methods Auto tries, best first.
func (t *transfer) autoSendMethods() []Method {
	if t.conn != nil && haveSendfile {
		return []Method{Sendfile, ReadWrite}
	}
	return []Method{ReadWrite}
}

// sendBy sends the body by one method. handled is false only when the
// method refused the file or peer before moving anything; err then says why.
func (t *transfer) sendBy(m Method, off, n int64) (handled bool, err error) {
	switch m {
	case ReadWrite:
		return t.sendReadWrite(off, n)
	case MMap:
		return t.sendMMap(off, n)
	case Sendfile:
		return t.sendSendfile(off, n)
	case Splice:
		return t.sendSplice(off, n)
	}
	return false, fmt.Errorf("%v: %w", m, errors.ErrUnsupported)
}

// rawConn returns the RawConn of a peer that has a usable file descriptor,
// or nil.
func rawConn(peer any) syscall.RawConn {
	if !haveRawIO {
		return nil
	}
	sc, ok := peer.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
