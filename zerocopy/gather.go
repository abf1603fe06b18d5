package zerocopy

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
)

// GatherMax is the largest body that SendFile, choosing by itself (Auto),
// reads into memory and writes in one call together with its header and
// trailer. For a body this small the copy costs less than the system calls
// it saves: corking, uncorking, and a write and a sendfile instead of one
// write (an HTTP response of a 4 KiB file: pread and write, not
// setsockopt, write, sendfile, setsockopt).
const GatherMax = 16 << 10

// gatherable reports whether a body of n bytes goes out gathered with o's
// header and trailer: it is small, and there is a header or trailer to
// join it to.
func gatherable(o *SendOptions, n int64) bool {
	return n >= 0 && n <= GatherMax && len(o.Header)+len(o.Trailer) > 0 &&
		len(o.Header)+int(n)+len(o.Trailer) <= DefaultBufferSize
}

// gathers reports whether a body of n bytes with this header and trailer
// is sent by sendGathered.
func (t *transfer) gathers(o *SendOptions, n int64) bool {
	return o.Method == Auto && t.regular && t.conn != nil && gatherable(o, n)
}

// gatherAtOnce reports whether SendFile can go straight to sendGathered
// (sendSmall), and the body's length: Auto, the caller's stat (Info) of a
// regular file that holds the range, a gatherable body, no lease, and a
// context that cannot be cancelled. Such a send has nothing to set up or
// to watch; any other goes by send, which gathers too where it may.
func gatherAtOnce(ctx context.Context, o *SendOptions, off, n int64) (int64, bool) {
	if o == nil || o.Method != Auto || o.Info == nil || o.Lease || off < 0 || ctx.Done() != nil {
		return 0, false
	}
	size := o.Info.Size()
	if !o.Info.Mode().IsRegular() || off > size || (size == 0 && n < 0) {
		return 0, false
	}
	if n < 0 {
		n = size - off
	}
	return n, off+n <= size && gatherable(o, n)
}

// sendSmall is SendFile for a send that gatherAtOnce let through: the
// gathered send without the rest of send's preparations (the file's
// RawConn, a context watch, a lease, the choice among methods), which on a
// body of a few KiB cost a good part of what its two system calls do
// (BenchmarkSendGathered).
func (t *transfer) sendSmall(ctx context.Context, dst io.Writer, src *os.File, off, n int64, o *SendOptions) error {
	t.conn = rawConn(dst)
	if t.conn == nil {
		return t.send(ctx, dst, src, off, n, o) // a peer without a descriptor
	}
	start := monotonic()
	t.ctx, t.auto, t.file, t.regular, t.progress = ctx, true, src, true, o.Progress
	err := t.sendGathered(o.Header, off, n, o.Trailer)
	t.st.Bytes = t.done
	t.st.Duration = monotonic() - start
	if err != nil {
		return &Error{Op: "send", Path: src.Name(), Method: t.st.Method, Err: err}
	}
	return nil
}

// sendGathered reads n bytes of the file at off after header, appends
// trailer, and writes the lot at once. A file that turns out shorter gets
// the header and the bytes that exist, and ErrTruncated.
//
// The file is read by os.File.ReadAt, which needs no descriptor held by
// the transfer (withFile): it repeats pread(2) until the buffer is full or
// the file ends, and Stats.Syscalls counts a whole read as one call and a
// short one as two, the second finding the end of the file (a regular
// file's pread returns less only there; EINTR, which os retries, is not
// seen). An empty body is not read.
func (t *transfer) sendGathered(header []byte, off, n int64, trailer []byte) error {
	t.stats.Method = ReadWrite
	bp := getBuf(DefaultBufferSize)
	defer putBuf(bp)
	b := append((*bp)[:0], header...)
	body := b[len(header) : len(header)+int(n)]
	var got int
	var err error
	if len(body) > 0 {
		got, err = t.file.ReadAt(body, off)
		t.stats.Syscalls++
		if got > 0 && got < len(body) {
			t.stats.Syscalls++
		}
	}
	if err != nil && err != io.EOF {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &FileError{Err: os.NewSyscallError("pread", err)}
	}
	b = b[:len(header)+got]
	if got == len(body) {
		b = append(b, trailer...)
	}
	w, err := t.writePeer(b)
	t.advance(t.peerCall("write"), int64(min(max(w-len(header), 0), got)))
	switch {
	case err != nil:
		return err
	case got < len(body):
		return t.truncated(off, n)
	}
	return nil
}
