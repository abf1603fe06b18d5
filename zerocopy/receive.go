package zerocopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ReceiveFile reads n bytes from src and writes them to dst at offset off,
// by the method opts asks for (Auto when opts is nil). If n is negative it
// reads until src reports end of stream; otherwise fewer than n bytes is an
// error matching io.ErrUnexpectedEOF. If off is negative, the data is written
// at dst's own file position (as for a pipe or a terminal), not with pwrite.
//
// Splice needs src to expose a file descriptor (syscall.Conn). Under Auto, a
// destination that refuses splice (a terminal, a file opened with O_APPEND)
// is detected on the first write: the bytes already taken from the socket
// are written by copy, and ReadWrite carries on, with the fallback recorded.
// If src has a SetReadDeadline method, cancelling ctx wakes a receive parked
// on an empty socket by setting a read deadline in the past, which
// ReceiveFile leaves in place.
func ReceiveFile(ctx context.Context, dst *os.File, src io.Reader, off, n int64, opts *ReceiveOptions) (st Stats, err error) {
	var o ReceiveOptions
	if opts != nil {
		o = *opts
	}
	start := monotonic()
	st.Method = o.Method
	defer func() { st.Duration = monotonic() - start }()
	if !Supported(o.Method, false) {
		return st, fmt.Errorf("receive into %s: %w", dst.Name(), unsupported(o.Method))
	}

	parent := ctx
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	t := &transfer{
		ctx:      ctx,
		stats:    &st,
		auto:     o.Method == Auto,
		file:     dst,
		seq:      off < 0,
		chunk:    o.chunk(),
		bufSize:  bufferSize(o.BufferSize),
		progress: o.Progress,
	}
	t.conn = rawConn(src)
	if t.conn == nil {
		t.r = src
	}
	if d, ok := src.(interface{ SetReadDeadline(time.Time) error }); ok && ctx.Done() != nil {
		defer wakeOnCancel(ctx, d.SetReadDeadline)()
	}

	err = t.withFile(func() error { return t.receiveBody(o.Method, off, n) })
	st.Bytes = t.done
	if err != nil {
		err = t.cancelError(parent, err, n)
		return st, fmt.Errorf("receive into %s by %v: %w", dst.Name(), st.Method, err)
	}
	return st, nil
}

// receiveBody moves the data by method m, or for Auto by the first of the
// platform's candidates that does not refuse it.
func (t *transfer) receiveBody(m Method, off, n int64) error {
	auto := []Method{ReadWrite}
	if t.conn != nil && haveSplice {
		auto = []Method{Splice, ReadWrite}
	}
	return t.byMethods(m, auto, func(c Method) (bool, error) {
		switch c {
		case ReadWrite:
			return t.receiveReadWrite(off, n)
		case Splice:
			return t.receiveSplice(off, n)
		}
		return false, fmt.Errorf("%v cannot receive: %w", c, errors.ErrUnsupported)
	})
}
